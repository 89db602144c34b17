"""Album activity: comments, likes, statistics, permissions."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "el_torcal_rocks.jpg"


@pytest.fixture
def stranger(client: Any, admin: Actor) -> Actor:
    return make_user(client, admin, "stranger@immich.cloud", "Stranger")


def _setup(admin: Actor, member: Actor) -> tuple[str, str]:
    r = upload(admin, JPEG)
    assert r.status_code == 201, r.text
    asset_id = r.json()["id"]
    r = admin.post("/api/albums", json={"albumName": "Trip", "assetIds": [asset_id],
                                        "albumUsers": [{"userId": member.id, "role": "viewer"}]})
    return assert_schema(r, "createAlbum")["id"], asset_id


def test_comments_likes_statistics_and_delete(admin: Actor, user: Actor, stranger: Actor) -> None:
    album_id, asset_id = _setup(admin, user)
    r = user.post("/api/activities", json={"albumId": album_id, "assetId": asset_id, "type": "comment",
                                           "comment": "nice"})
    comment = assert_schema(r, "createActivity")
    assert r.status_code == 201 and comment["type"] == "comment" and comment["comment"] == "nice"
    assert comment["user"]["id"] == user.id and comment["assetId"] == asset_id

    r = user.post("/api/activities", json={"albumId": album_id, "type": "like"})
    like = assert_schema(r, "createActivity")
    assert r.status_code == 201 and like["assetId"] is None and like["comment"] is None
    again = user.post("/api/activities", json={"albumId": album_id, "type": "like"})
    assert again.status_code == 200 and again.json()["id"] == like["id"]  # idempotent like
    r = admin.post("/api/activities", json={"albumId": album_id, "assetId": asset_id, "type": "like"})
    assert r.status_code == 201

    rows = assert_schema(admin.get("/api/activities", params={"albumId": album_id}), "getActivities")
    assert [a["type"] for a in rows] == ["comment", "like", "like"]
    rows = assert_schema(admin.get("/api/activities", params={"albumId": album_id, "level": "album"}),
                         "getActivities")
    assert [a["id"] for a in rows] == [like["id"]]
    rows = admin.get("/api/activities", params={"albumId": album_id, "type": "comment"}).json()
    assert [a["id"] for a in rows] == [comment["id"]]
    rows = admin.get("/api/activities", params={"albumId": album_id, "assetId": asset_id, "userId": admin.id}).json()
    assert len(rows) == 1 and rows[0]["type"] == "like"

    stats = assert_schema(user.get("/api/activities/statistics", params={"albumId": album_id}),
                          "getActivityStatistics")
    assert stats == {"comments": 1, "likes": 2}
    stats = user.get("/api/activities/statistics", params={"albumId": album_id, "assetId": asset_id}).json()
    assert stats == {"comments": 1, "likes": 1}

    # strangers see nothing and cannot write or delete
    assert_error(stranger.get("/api/activities", params={"albumId": album_id}), 400,
                 "Not found or no album.read access")
    assert_error(stranger.post("/api/activities", json={"albumId": album_id, "type": "like"}), 400,
                 "Not found or no activity.create access")
    assert_error(stranger.delete(f"/api/activities/{comment['id']}"), 400, "Not found or no activity.delete access")
    # a member cannot delete another's activity; the album owner can delete anyone's
    admin_like = [a for a in admin.get("/api/activities", params={"albumId": album_id}).json()
                  if a["user"]["id"] == admin.id][0]
    assert_error(user.delete(f"/api/activities/{admin_like['id']}"), 400)
    assert user.delete(f"/api/activities/{like['id']}").status_code == 204
    assert admin.delete(f"/api/activities/{comment['id']}").status_code == 204
    assert user.get("/api/activities/statistics", params={"albumId": album_id}).json() == {"comments": 0, "likes": 1}


def test_validation_and_disabled_activity(admin: Actor, user: Actor) -> None:
    album_id, _ = _setup(admin, user)
    assert_error(user.post("/api/activities", json={"albumId": album_id, "type": "comment"}), 400)
    assert_error(user.post("/api/activities", json={"albumId": album_id, "type": "like", "comment": "x"}), 400)
    r = admin.patch(f"/api/albums/{album_id}", json={"isActivityEnabled": False})
    assert r.status_code == 200, r.text
    assert_error(user.post("/api/activities", json={"albumId": album_id, "type": "comment", "comment": "hi"}), 400,
                 "Not found or no activity.create access")
    assert assert_schema(user.get("/api/activities", params={"albumId": album_id}), "getActivities") == []


def test_an_asset_outside_the_album_is_a_400(admin: Actor, user: Actor) -> None:
    album_id, _ = _setup(admin, user)
    from tests.test_timeline import tiny_jpeg

    outside = upload(admin, data=tiny_jpeg(), filename="elsewhere.jpg").json()["id"]
    for asset_id in (outside, "3fa85f64-5717-4562-b3fc-2c963f66afa6"):  # not in the album; not anywhere
        r = user.post("/api/activities", json={"albumId": album_id, "type": "like", "assetId": asset_id})
        assert_error(r, 400, "Not found or no activity.create access")
