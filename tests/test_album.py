"""Albums through HTTP with real uploads: CRUD, sharing roles, members, assets, filters, markers, events."""
from __future__ import annotations

import secrets
from typing import Any

import pytest

from immich_lite import ids, jobs
from tests.conftest import CORPUS, Actor, assert_error, assert_invalid, assert_schema, make_user
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "el_torcal_rocks.jpg"         # no GPS
GPS_JPEG = CORPUS / "jpeg" / "IMG_4120.JPG"           # GPS 50.05, 8.57
PNG = CORPUS / "png" / "png.png"
NO_ID = "00000000-0000-4000-8000-000000000000"


def _asset(actor: Actor, path: Any = JPEG, name: str | None = None) -> str:
    r = upload(actor, path, filename=name or f"{secrets.token_hex(4)}-{path.name}")
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _album(actor: Actor, **body: Any) -> dict[str, Any]:
    r = actor.post("/api/albums", json={"albumName": "Trip", **body})
    return assert_schema(r, "createAlbum")


def _roles(actor: Actor, album_id: str) -> list[tuple[str, str]]:
    body = assert_schema(actor.get(f"/api/albums/{album_id}"), "getAlbumInfo")
    return [(u["user"]["id"], u["role"]) for u in body["albumUsers"]]


@pytest.fixture
def other(client: Any, admin: Actor) -> Actor:
    return make_user(client, admin, "user2@immich.cloud", "User Two")


# --- owner CRUD ------------------------------------------------------------------------------------

def test_owner_crud_round_trip(admin: Actor, ctx: Any) -> None:
    a, b = _asset(admin), _asset(admin, PNG)
    created = _album(admin, description="", assetIds=[a, b])
    assert created["albumUsers"] == [{"role": "owner", "user": created["albumUsers"][0]["user"]}]
    assert created["albumUsers"][0]["user"]["id"] == admin.id
    assert created["assetCount"] == 2 and created["albumThumbnailAssetId"] == a
    assert created["description"] == "" and created["shared"] is False and created["order"] == "desc"
    album_id = created["id"]

    info = assert_schema(admin.get(f"/api/albums/{album_id}"), "getAlbumInfo")
    assert info["assetCount"] == 2 and info["startDate"].endswith("T00:00:00.000Z")
    assert "contributorCounts" not in info  # only for shared albums

    r = admin.patch(f"/api/albums/{album_id}", json={"albumName": "Renamed", "description": "d",
                                                     "isActivityEnabled": False, "order": "asc",
                                                     "albumThumbnailAssetId": b})
    body = assert_schema(r, "updateAlbumInfo")
    assert (body["albumName"], body["description"], body["isActivityEnabled"], body["order"],
            body["albumThumbnailAssetId"]) == ("Renamed", "d", False, "asc", b)
    assert body["updatedAt"] >= created["updatedAt"]

    assert admin.delete(f"/api/albums/{album_id}").status_code == 204
    assert_error(admin.get(f"/api/albums/{album_id}"), 400, "Not found or no album.read access")
    audit = ctx.db.reader().execute("SELECT count(*) AS n FROM album_audit WHERE album_id = ?", (album_id,))
    assert audit.fetchone()["n"] == 1


def test_create_with_unknown_user_is_invalid(admin: Actor) -> None:
    r = admin.post("/api/albums", json={"albumName": "x", "albumUsers": [{"userId": NO_ID, "role": "editor"}]})
    assert_error(r, 400, "Invalid user")
    assert admin.get("/api/albums").json() == []


def test_create_drops_self_and_skips_assets_it_cannot_share(admin: Actor, user: Actor) -> None:
    theirs = _asset(user)
    body = _album(admin, albumUsers=[{"userId": admin.id, "role": "editor"}], assetIds=[theirs])
    assert [u["role"] for u in body["albumUsers"]] == ["owner"]
    assert body["assetCount"] == 0 and body["albumThumbnailAssetId"] is None


def test_create_refuses_a_second_owner(admin: Actor, user: Actor) -> None:
    r = admin.post("/api/albums", json={"albumName": "x", "albumUsers": [{"userId": user.id, "role": "owner"}]})
    assert_error(r, 400, "Cannot add another owner")


def test_update_thumbnail_must_be_in_album(admin: Actor) -> None:
    album_id = _album(admin)["id"]
    outside = _asset(admin)
    r = admin.patch(f"/api/albums/{album_id}", json={"albumThumbnailAssetId": outside})
    assert_error(r, 400, "Invalid album thumbnail")


def test_stranger_cannot_read_update_or_delete(admin: Actor, user: Actor) -> None:
    album_id = _album(admin)["id"]
    assert_error(user.get(f"/api/albums/{album_id}"), 400, "Not found or no album.read access")
    assert_error(user.patch(f"/api/albums/{album_id}", json={"albumName": "x"}), 400,
                 "Not found or no album.update access")
    assert_error(user.delete(f"/api/albums/{album_id}"), 400, "Not found or no album.delete access")
    assert_error(user.delete(f"/api/albums/{album_id}/user/me"), 400, "Not found or no album.share access")


def test_invalid_user_id_param_is_400(admin: Actor) -> None:
    album_id = _album(admin)["id"]
    assert_invalid(admin.delete(f"/api/albums/{album_id}/user/nobody"), (["userId"], "Invalid UUID"))


# --- sharing: viewer -------------------------------------------------------------------------------

def test_viewer_reads_album_and_assets_but_cannot_add(admin: Actor, user: Actor, ctx: Any) -> None:
    a = _asset(admin)
    jobs.drain(ctx)
    album = _album(admin, assetIds=[a], albumUsers=[{"userId": user.id, "role": "viewer"}])
    assert [u["role"] for u in album["albumUsers"]] == ["owner", "viewer"] and album["shared"] is True

    info = assert_schema(user.get(f"/api/albums/{album['id']}"), "getAlbumInfo")
    assert info["albumUsers"][0]["user"]["id"] == admin.id and info["assetCount"] == 1
    assert info["contributorCounts"] == [{"userId": admin.id, "assetCount": 1}]
    assert user.get(f"/api/assets/{a}").status_code == 200
    assert user.get(f"/api/assets/{a}/thumbnail").status_code == 200

    mine = _asset(user)
    assert_error(user.put(f"/api/albums/{album['id']}/assets", json={"ids": [mine]}), 400,
                 "Not found or no albumAsset.create access")
    assert_error(user.delete(f"/api/albums/{album['id']}/assets", json={"ids": [a]}), 400,
                 "Not found or no albumAsset.delete access")
    listed = assert_schema(user.get("/api/albums"), "getAllAlbums")
    assert [x["id"] for x in listed] == [album["id"]]


# --- sharing: editor -------------------------------------------------------------------------------

def test_editor_adds_own_assets_only(admin: Actor, user: Actor, other: Actor) -> None:
    owner_asset = _asset(admin)
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "editor"}])["id"]
    mine, admins, strangers = _asset(user), _asset(admin, PNG), _asset(other)
    r = user.put(f"/api/albums/{album_id}/assets", json={"ids": [mine, admins, strangers]})
    assert assert_schema(r, "addAssetsToAlbum") == [
        {"id": mine, "success": True},
        {"id": admins, "success": False, "error": "no_permission"},
        {"id": strangers, "success": False, "error": "no_permission"}]
    info = admin.get(f"/api/albums/{album_id}").json()
    assert info["assetCount"] == 1 and info["albumThumbnailAssetId"] == mine
    assert info["contributorCounts"] == [{"userId": user.id, "assetCount": 1}]
    # the owner's own asset goes in too; the thumbnail stays
    admin.put(f"/api/albums/{album_id}/assets", json={"ids": [owner_asset]})
    assert admin.get(f"/api/albums/{album_id}").json()["albumThumbnailAssetId"] == mine


def test_editor_cannot_change_roles_or_promote_itself(admin: Actor, user: Actor, other: Actor) -> None:
    # GHSA-c9mf-h82r-8p4j: album.share is owner-only, whatever the target
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "editor"},
                                         {"userId": other.id, "role": "viewer"}])["id"]
    before = _roles(admin, album_id)
    for target, role in ((user.id, "owner"), ("me", "owner"), (other.id, "editor"), (admin.id, "viewer"),
                         (user.id, "editor")):
        assert_error(user.put(f"/api/albums/{album_id}/user/{target}", json={"role": role}), 400,
                     "Not found or no album.share access")
    assert_error(user.put(f"/api/albums/{album_id}/users", json={"albumUsers": [{"userId": other.id}]}), 400,
                 "Not found or no album.share access")
    assert_error(user.delete(f"/api/albums/{album_id}/user/{other.id}"), 400, "Not found or no album.share access")
    # an editor may change the album's info (upstream access.ts AlbumUpdate), a viewer may not
    assert user.patch(f"/api/albums/{album_id}", json={"albumName": "renamed by the editor"}).status_code == 200
    assert_error(other.patch(f"/api/albums/{album_id}", json={"albumName": "mine now"}), 400,
                 "Not found or no album.update access")
    assert_error(user.delete(f"/api/albums/{album_id}"), 400, "Not found or no album.delete access")
    assert _roles(admin, album_id) == before
    assert admin.get(f"/api/albums/{album_id}").json()["albumName"] == "renamed by the editor"


def test_owner_changes_roles(admin: Actor, user: Actor) -> None:
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "viewer"}])["id"]
    assert admin.put(f"/api/albums/{album_id}/user/{user.id}", json={"role": "editor"}).status_code == 204
    assert _roles(admin, album_id) == [(admin.id, "owner"), (user.id, "editor")]
    assert_error(admin.put(f"/api/albums/{album_id}/user/{admin.id}", json={"role": "viewer"}), 400, "User is owner")
    assert_error(admin.put(f"/api/albums/{album_id}/user/{user.id}", json={"role": "owner"}), 400,
                 "Cannot add another owner")
    assert_error(admin.put(f"/api/albums/{album_id}/user/{user.id}", json={"role": "boss"}), 400)
    assert _roles(admin, album_id) == [(admin.id, "owner"), (user.id, "editor")]


def test_add_users_defaults_to_editor_and_skips_existing(admin: Actor, user: Actor, other: Actor) -> None:
    album_id = _album(admin)["id"]
    r = admin.put(f"/api/albums/{album_id}/users", json={"albumUsers": [{"userId": user.id}, {"userId": admin.id}]})
    body = assert_schema(r, "addUsersToAlbum")
    assert [(u["user"]["id"], u["role"]) for u in body["albumUsers"]] == [(admin.id, "owner"), (user.id, "editor")]
    r = admin.put(f"/api/albums/{album_id}/users", json={"albumUsers": [{"userId": user.id, "role": "viewer"}]})
    assert len(r.json()["albumUsers"]) == 2 and r.json()["albumUsers"][1]["role"] == "editor"
    assert_error(admin.put(f"/api/albums/{album_id}/users", json={"albumUsers": [{"userId": NO_ID}]}), 400,
                 "Invalid user")
    assert_error(admin.put(f"/api/albums/{album_id}/users",
                           json={"albumUsers": [{"userId": other.id, "role": "owner"}]}), 400,
                 "Cannot add another owner")


def test_members_sorted_owner_then_me_then_name(admin: Actor, user: Actor, other: Actor) -> None:
    # other = "User Two" sorts after "User One"; as the caller, other comes first within its role
    album_id = _album(admin, albumUsers=[{"userId": other.id, "role": "editor"},
                                         {"userId": user.id, "role": "editor"}])["id"]
    assert [i for i, _ in _roles(admin, album_id)] == [admin.id, user.id, other.id]
    assert [i for i, _ in _roles(other, album_id)] == [admin.id, other.id, user.id]


# --- leaving ---------------------------------------------------------------------------------------

def test_member_leaves_album(admin: Actor, user: Actor) -> None:
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "editor"}])["id"]
    assert user.delete(f"/api/albums/{album_id}/user/me").status_code == 204
    assert_error(user.get(f"/api/albums/{album_id}"), 400, "Not found or no album.read access")
    assert _roles(admin, album_id) == [(admin.id, "owner")]


def test_owner_cannot_leave_or_be_removed(admin: Actor, user: Actor) -> None:
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "editor"}])["id"]
    assert_error(admin.delete(f"/api/albums/{album_id}/user/me"), 400, "Cannot remove the last album owner")
    assert_error(user.delete(f"/api/albums/{album_id}/user/{admin.id}"), 400, "Cannot remove the last album owner")
    assert_error(admin.delete(f"/api/albums/{album_id}/user/{NO_ID}"), 400, "Album not shared with user")


def test_owner_removes_member(admin: Actor, user: Actor) -> None:
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "viewer"}])["id"]
    assert admin.delete(f"/api/albums/{album_id}/user/{user.id}").status_code == 204
    assert _roles(admin, album_id) == [(admin.id, "owner")]


# --- listing, filters, statistics ------------------------------------------------------------------

def test_filters_and_statistics(admin: Actor, user: Actor, ctx: Any) -> None:
    a = _asset(admin)
    alone = _album(admin, albumName="alone", assetIds=[a])["id"]
    shared_out = _album(admin, albumName="out", albumUsers=[{"userId": user.id, "role": "viewer"}])["id"]
    linked = _album(admin, albumName="linked", assetIds=[a])["id"]
    _shared_link(ctx, admin.id, linked)
    shared_in = _album(user, albumName="in", albumUsers=[{"userId": admin.id, "role": "editor"}])["id"]
    _album(user, albumName="not mine")

    def names(query: str) -> set[str]:
        return {x["albumName"] for x in assert_schema(admin.get(f"/api/albums{query}"), "getAllAlbums")}

    assert names("") == {"alone", "out", "linked", "in"}
    assert names("?isShared=true") == {"out", "linked", "in"}
    assert names("?isShared=false") == {"alone"}
    assert names("?isOwned=true") == {"alone", "out", "linked"}
    assert names("?isOwned=false") == {"in"}
    assert names("?isOwned=true&isShared=true") == {"out", "linked"}
    assert names("?isOwned=false&isShared=false") == set()
    assert names(f"?assetId={a}&isShared=false") == {"alone", "linked"}
    assert names("?name=out") == {"out"} and names(f"?id={shared_in}") == {"in"}
    listed = {x["id"]: x for x in admin.get("/api/albums").json()}
    assert listed[linked]["hasSharedLink"] is True and listed[linked]["shared"] is True
    assert listed[alone]["shared"] is False and listed[alone]["assetCount"] == 1
    assert "lastModifiedAssetTimestamp" in listed[alone] and "startDate" not in listed[shared_out]
    stats = assert_schema(admin.get("/api/albums/statistics"), "getAlbumStatistics")
    assert stats == {"owned": 3, "shared": 3, "notShared": 1}


# --- assets ----------------------------------------------------------------------------------------

def test_duplicates_reported(admin: Actor) -> None:
    album_id = _album(admin)["id"]
    a = _asset(admin)
    r = admin.put(f"/api/albums/{album_id}/assets", json={"ids": [a, a]})
    assert r.json() == [{"id": a, "success": True}, {"id": a, "success": False, "error": "duplicate"}]
    again = admin.put(f"/api/albums/{album_id}/assets", json={"ids": [a, NO_ID]}).json()
    assert again == [{"id": a, "success": False, "error": "duplicate"},
                     {"id": NO_ID, "success": False, "error": "no_permission"}]


def test_add_assets_to_albums_result_shape(admin: Actor, user: Actor) -> None:
    a, b = _asset(admin), _asset(admin, PNG)
    one, two = _album(admin)["id"], _album(admin, assetIds=[a])["id"]
    r = admin.put("/api/albums/assets", json={"albumIds": [one, two], "assetIds": [a, b]})
    assert assert_schema(r, "addAssetsToAlbums") == {"success": True}
    assert admin.get(f"/api/albums/{one}").json()["assetCount"] == 2
    assert admin.get(f"/api/albums/{two}").json()["assetCount"] == 2
    assert admin.put("/api/albums/assets", json={"albumIds": [one], "assetIds": [a]}).json() == \
        {"success": False, "error": "duplicate"}
    assert user.put("/api/albums/assets", json={"albumIds": [one], "assetIds": [a]}).json() == \
        {"success": False, "error": "no_permission"}
    theirs = _asset(user)
    assert admin.put("/api/albums/assets", json={"albumIds": [one], "assetIds": [theirs]}).json() == \
        {"success": False, "error": "no_permission"}


def test_remove_assets_rules_and_thumbnail(admin: Actor, user: Actor) -> None:
    a, b = _asset(admin), _asset(admin, PNG)
    album_id = _album(admin, assetIds=[a, b], albumUsers=[{"userId": user.id, "role": "editor"}])["id"]
    mine = _asset(user)
    user.put(f"/api/albums/{album_id}/assets", json={"ids": [mine]})
    # an editor removes only what it could share; the owner removes anything
    r = user.delete(f"/api/albums/{album_id}/assets", json={"ids": [a, mine]})
    assert assert_schema(r, "removeAssetFromAlbum") == [
        {"id": a, "success": False, "error": "no_permission"}, {"id": mine, "success": True}]
    r = admin.delete(f"/api/albums/{album_id}/assets", json={"ids": [a, a, NO_ID]})
    assert r.json() == [{"id": a, "success": True}, {"id": a, "success": False, "error": "not_found"},
                        {"id": NO_ID, "success": False, "error": "not_found"}]
    info = admin.get(f"/api/albums/{album_id}").json()
    assert info["assetCount"] == 1 and info["albumThumbnailAssetId"] == b
    admin.delete(f"/api/albums/{album_id}/assets", json={"ids": [b]})
    assert admin.get(f"/api/albums/{album_id}").json()["albumThumbnailAssetId"] is None


def test_trashed_thumbnail_is_replaced_on_read(admin: Actor) -> None:
    a, b = _asset(admin), _asset(admin, PNG)
    album_id = _album(admin, assetIds=[a, b])["id"]
    assert admin.delete("/api/assets", json={"ids": [a]}).status_code == 204
    info = admin.get(f"/api/albums/{album_id}").json()
    assert info["albumThumbnailAssetId"] == b and info["assetCount"] == 1


def test_locking_an_asset_takes_it_out_of_albums(admin: Actor, user: Actor) -> None:
    a, b = _asset(admin), _asset(admin, PNG)
    album_id = _album(admin, assetIds=[a, b], albumUsers=[{"userId": user.id, "role": "viewer"}])["id"]
    assert user.get(f"/api/assets/{a}").status_code == 200
    assert admin.put(f"/api/assets/{a}", json={"visibility": "locked"}).status_code == 200
    assert_error(user.get(f"/api/assets/{a}"), 400, "Not found or no asset.read access")
    info = user.get(f"/api/albums/{album_id}").json()
    assert info["assetCount"] == 1 and info["albumThumbnailAssetId"] == b
    # and a locked asset cannot be put back
    r = admin.put(f"/api/albums/{album_id}/assets", json={"ids": [a]})
    assert r.json() == [{"id": a, "success": False, "error": "no_permission"}]


# --- map markers and shared links ------------------------------------------------------------------

def _shared_link(ctx: Any, owner_id: str, album_id: str, *, show_exif: bool = True) -> str:
    """No shared-link API yet: insert the row the way shared-link.service create would."""
    key = secrets.token_bytes(50)
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO shared_link (id, user_id, key, type, album_id, show_exif, created_at) "
                     "VALUES (?, ?, ?, 'ALBUM', ?, ?, ?)",
                     (ids.new_id(), owner_id, key, album_id, int(show_exif), ids.now_iso()))
    return key.hex()


def test_map_markers_member_and_shared_link(admin: Actor, user: Actor, client: Any, ctx: Any) -> None:
    gps, plain = _asset(admin, GPS_JPEG), _asset(admin)
    jobs.drain(ctx)
    album_id = _album(admin, assetIds=[gps, plain], albumUsers=[{"userId": user.id, "role": "viewer"}])["id"]
    markers = assert_schema(user.get(f"/api/albums/{album_id}/map-markers"), "getAlbumMapMarkers")
    assert [m["id"] for m in markers] == [gps] and round(markers[0]["lat"], 2) == 50.05
    key = _shared_link(ctx, admin.id, album_id)
    r = client.get(f"/api/albums/{album_id}/map-markers", params={"key": key})
    assert [m["id"] for m in r.json()] == [gps]
    assert assert_schema(client.get(f"/api/albums/{album_id}", params={"key": key}), "getAlbumInfo")["id"] == album_id
    hidden = _shared_link(ctx, admin.id, album_id, show_exif=False)
    assert client.get(f"/api/albums/{album_id}/map-markers", params={"key": hidden}).json() == []
    other_album = _album(admin)["id"]
    assert_error(client.get(f"/api/albums/{other_album}", params={"key": key}), 400,
                 "Not found or no album.read access")
    assert_error(client.get("/api/albums", params={"key": key}), 403)


# --- events ----------------------------------------------------------------------------------------

def test_adding_assets_notifies_members(admin: Actor, user: Actor, ctx: Any) -> None:
    album_id = _album(admin, albumUsers=[{"userId": user.id, "role": "editor"}])["id"]
    seen: list[tuple[str, str, Any]] = []

    def listen(event: str, room: str, payload: Any) -> None:
        if event == "on_album_update":
            seen.append((event, room, payload))

    ctx.events.subscribe(listen)
    try:
        user.put(f"/api/albums/{album_id}/assets", json={"ids": [_asset(user)]})
    finally:
        ctx.events.unsubscribe(listen)
    assert sorted(seen) == sorted([("on_album_update", admin.id, album_id), ("on_album_update", user.id, album_id)])
