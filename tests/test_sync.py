"""The v2 sync stream, driven by a client that behaves like the mobile app (tests/helpers/mobile.py)."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, assert_error, login, make_user
from tests.helpers.mobile import APP_TYPES, MobileApp
from tests.helpers.upload import upload

FILES = ["jpeg/mongolia.jpeg", "jpeg/DSCN0010.jpg", "png/png.png", "heic/IMG_2682.heic", "video/Pixel_mp4.mp4",
         "livephoto/train.mov", "livephoto/train.jpg", "gif/gif.gif"]


def _library(admin: Actor, ctx: Any) -> dict[str, str]:
    ids = {}
    for rel in FILES:
        path = CORPUS / rel
        if path.exists():
            ids[rel] = upload(admin, path).json()["id"]
    jobs.drain(ctx)
    return ids


def _app(client: Any, actor: Actor) -> MobileApp:
    token = login(client, actor.email, actor.password)["accessToken"]  # a fresh session, as a new phone
    return MobileApp(client, token)


def test_full_sync_matches_the_library(client: Any, admin: Actor, ctx: Any) -> None:
    ids = _library(admin, ctx)
    app = _app(client, admin)
    lines = app.sync()
    assert lines[-1]["type"] == "SyncCompleteV1"
    assert set(app.assets) == set(ids.values())
    for rel, asset_id in ids.items():
        digest = hashlib.sha1((CORPUS / rel).read_bytes()).digest()  # noqa: S324
        assert app.assets[asset_id]["checksum"] == base64.b64encode(digest).decode()  # the app dedupes on this
        assert asset_id in app.exif
    order = [line["type"] for line in lines]
    assert order.index("AuthUserV1") < order.index("AssetV2") < order.index("AssetExifV1")


def test_nothing_acked_is_sent_again(client: Any, admin: Actor, ctx: Any) -> None:
    _library(admin, ctx)
    app = _app(client, admin)
    app.sync()
    assert [line["type"] for line in app.sync()] == ["SyncCompleteV1"]


def test_each_change_arrives_exactly_once(client: Any, admin: Actor, ctx: Any) -> None:
    ids = _library(admin, ctx)
    app = _app(client, admin)
    app.sync()
    a, b = ids["jpeg/mongolia.jpeg"], ids["jpeg/DSCN0010.jpg"]

    new = upload(admin, CORPUS / "jpeg" / "Canon_EOS_D60.jpg").json()["id"]
    jobs.drain(ctx)
    app.sync()
    assert {i["data"]["id"] for i in app.seen if i["type"] == "AssetV2"} == {new}
    assert {i["data"]["assetId"] for i in app.seen if i["type"] == "AssetExifV1"} == {new}

    admin.put(f"/api/assets/{a}", json={"isFavorite": True})
    app.sync()
    assert app.types_seen() == {"AssetV2": 1, "SyncCompleteV1": 1} and app.assets[a]["isFavorite"] is True

    admin.put(f"/api/assets/{a}", json={"description": "steppe"})
    app.sync()
    assert app.types_seen().get("AssetExifV1") == 1 and app.exif[a]["description"] == "steppe"
    jobs.drain(ctx)  # the sidecar is written and read back: the rows changed again, each arrives once more
    app.sync()
    assert app.types_seen().get("AssetExifV1") == 1 and app.exif[a]["description"] == "steppe"

    admin.delete("/api/assets", json={"ids": [b]})
    app.sync()
    assert app.types_seen() == {"AssetV2": 1, "SyncCompleteV1": 1} and app.assets[b]["deletedAt"] is not None

    admin.post("/api/trash/restore/assets", json={"ids": [b]})
    app.sync()
    assert app.assets[b]["deletedAt"] is None

    admin.delete("/api/assets", json={"ids": [b], "force": True})
    jobs.drain(ctx)
    app.sync()
    seen = app.types_seen()  # the owner's quota usage shrank too, so their user row comes along
    assert seen["AssetDeleteV1"] == 1 and "AssetV2" not in seen and b not in app.assets
    assert set(seen) <= {"AssetDeleteV1", "AuthUserV1", "UserV1", "SyncCompleteV1"}


def test_aborted_stream_resends_only_what_was_not_acked(client: Any, admin: Actor, ctx: Any) -> None:
    _library(admin, ctx)
    app = _app(client, admin)
    first = app.sync(abort_after=4)  # the app is killed after four lines
    acked_groups = {first[0]["type"]} if first[1]["type"] != first[0]["type"] else set()
    second = app.sync()
    assert second[-1]["type"] == "SyncCompleteV1"
    assert not acked_groups & {line["type"] for line in second if line["type"] != "SyncCompleteV1"}
    assert len(app.assets) == len(_library_ids_from(app))


def test_two_sessions_keep_their_own_checkpoints(client: Any, admin: Actor, ctx: Any) -> None:
    _library(admin, ctx)
    phone, tablet = _app(client, admin), _app(client, admin)
    phone.sync()
    assert [line["type"] for line in phone.sync()] == ["SyncCompleteV1"]
    tablet.sync()
    assert len(tablet.assets) == len(phone.assets)


def test_pending_reset_and_reset_request(client: Any, admin: Actor, ctx: Any) -> None:
    _library(admin, ctx)
    app = _app(client, admin)
    app.sync()
    sid = next(s["id"] for s in client.get("/api/sessions", cookies={"immich_access_token": app.token}).json()
               if s["current"])
    admin.put(f"/api/sessions/{sid}", json={"isPendingSyncReset": True})
    lines = app.sync()
    assert [line["type"] for line in lines] == ["SyncResetV1"] and app.resets == 1
    app.sync()  # after acking the reset the app downloads everything again
    assert len(app.assets) == len(_library_ids(admin))
    resp = app._post("/api/sync/stream", {"types": APP_TYPES, "reset": True})
    assert sum(1 for x in resp.text.splitlines() if '"AssetV2"' in x) == len(app.assets)


def _library_ids_from(app: MobileApp) -> list[str]:
    return list(app.assets)


def _library_ids(admin: Actor) -> list[str]:
    return [a for a in admin.post("/api/download/info", json={"userId": admin.id}).json()["archives"][0]["assetIds"]]


def test_partner_added_later_is_backfilled(client: Any, admin: Actor, ctx: Any) -> None:
    a_ids = _library(admin, ctx)
    bob = make_user(client, admin, "bob@immich.cloud", "Bob", "bob-password")
    carol = make_user(client, admin, "carol@immich.cloud", "Carol", "carol-password")
    upload(carol, CORPUS / "jpeg" / "Canon_EOS_D60.jpg")
    jobs.drain(ctx)
    carol.post("/api/partners", json={"sharedWithId": bob.id})
    app = _app(client, bob)
    app.sync()
    assert len(app.partner_assets) == 1  # Carol's photo: Bob now has a PartnerAssetV2 checkpoint
    admin.post("/api/partners", json={"sharedWithId": bob.id})  # the admin's older photos predate that checkpoint
    app.sync()
    seen = app.types_seen()
    assert seen.get("PartnerV1") == 1
    assert seen.get("PartnerAssetBackfillV2") == len(a_ids)
    assert {x["ack"].rsplit("|", 1)[-1] for x in app.seen if x["type"] == "SyncAckV1"} == {"complete"}
    assert set(a_ids.values()) <= set(app.partner_assets)
    assert all(app.partner_assets[i]["isFavorite"] is False for i in a_ids.values())
    assert [line["type"] for line in app.sync()] == ["SyncCompleteV1"]


def test_api_keys_cannot_sync(client: Any, admin: Actor) -> None:
    key = admin.post("/api/api-keys", json={"permissions": ["all"]}).json()["secret"]
    r = client.post("/api/sync/stream", json={"types": ["AssetsV2"]}, headers={"x-api-key": key})
    assert_error(r, 403, "Sync endpoints cannot be used with API keys")


def test_deprecated_types_are_refused(admin: Actor) -> None:
    r = admin.post("/api/sync/stream", json={"types": ["AssetsV1"]})
    assert_error(r, 400, "SyncRequestType.AssetsV1 is deprecated, use SyncRequestType.AssetsV2 instead")


def test_acks_round_trip(admin: Actor) -> None:
    assert admin.post("/api/sync/ack", json={"acks": ["AssetV2|01900000-0000-7000-8000-000000000000"]}).status_code == 204
    assert admin.get("/api/sync/ack").json() == [{"type": "AssetV2", "ack": "AssetV2|01900000-0000-7000-8000-000000000000"}]
    assert_error(admin.post("/api/sync/ack", json={"acks": ["Nope|x"]}), 400, "Invalid ack type: Nope")
    assert admin.delete("/api/sync/ack", json={}).status_code == 204
    assert admin.get("/api/sync/ack").json() == []


def test_album_changes_and_shared_album_backfill(client: Any, admin: Actor, ctx: Any) -> None:
    ids = _library(admin, ctx)
    a, b = ids["jpeg/mongolia.jpeg"], ids["png/png.png"]
    album = admin.post("/api/albums", json={"albumName": "trip", "assetIds": [a, b]}).json()["id"]
    bob = make_user(client, admin, "bob@immich.cloud", "Bob", "bob-password")
    upload(bob, CORPUS / "jpeg" / "Canon_EOS_D60.jpg")
    bob_album = bob.post("/api/albums", json={"albumName": "bob's"}).json()["id"]
    bob.put(f"/api/albums/{bob_album}/assets", json={"ids": [_first_asset(ctx, bob.id)]})
    app = _app(client, bob)
    app.sync()
    owner_rows = [x["data"] for x in app.seen if x["type"] == "AlbumUserV1"]
    assert {"albumId": bob_album, "userId": bob.id, "role": "owner"} in owner_rows
    assert album not in app.albums
    admin.put(f"/api/albums/{album}/users", json={"albumUsers": [{"userId": bob.id, "role": "viewer"}]})
    app.sync()  # an album shared after Bob's checkpoints: its older contents arrive as backfill
    seen = app.types_seen()
    assert seen.get("AlbumV2") == 1 and seen.get("AlbumToAssetBackfillV1") == 2, seen
    assert seen.get("AlbumAssetBackfillV2") == 2 and {(album, a), (album, b)} <= app.album_assets
    admin.delete(f"/api/albums/{album}/assets", json={"ids": [b]})
    app.sync()
    assert app.types_seen().get("AlbumToAssetDeleteV1") == 1 and (album, b) not in app.album_assets
    admin.delete(f"/api/albums/{album}/user/{bob.id}")
    app.sync()
    assert album not in app.albums


def _first_asset(ctx: Any, owner: str) -> str:
    return str(ctx.db.reader().execute("SELECT id FROM asset WHERE owner_id = ?", (owner,)).fetchone()["id"])


def test_stacks_memories_people_faces_and_preferences_sync(client: Any, admin: Actor, ctx: Any) -> None:
    ids = _library(admin, ctx)
    a, b = ids["jpeg/mongolia.jpeg"], ids["jpeg/DSCN0010.jpg"]
    app = _app(client, admin)
    app.sync()
    stack = admin.post("/api/stacks", json={"assetIds": [a, b]}).json()["id"]
    memory = admin.post("/api/memories", json={"type": "on_this_day", "data": {"year": 2011},
                                               "memoryAt": "2011-08-17T00:00:00.000Z", "assetIds": [a]}).json()["id"]
    person = admin.post("/api/people", json={"name": "Willy"}).json()["id"]
    face = admin.post("/api/faces", json={"assetId": a, "personId": person, "imageWidth": 200, "imageHeight": 100,
                                          "x": 10, "y": 10, "width": 50, "height": 50})
    assert face.status_code == 201, face.text
    admin.put("/api/users/me/preferences", json={"memories": {"enabled": False}})
    jobs.drain(ctx)  # the face queued a person thumbnail; a row changed after the stream's cursor waits for the next sync
    app.sync()
    seen = app.types_seen()
    for kind in ("StackV1", "MemoryV1", "MemoryToAssetV1", "PersonV1", "AssetFaceV2", "UserMetadataV1"):
        assert seen.get(kind, 0) >= 1, (kind, seen)
    assert any(x["data"]["id"] == stack for x in app.seen if x["type"] == "StackV1")
    assert any(x["data"]["id"] == memory for x in app.seen if x["type"] == "MemoryV1")
    admin.delete(f"/api/stacks/{stack}")
    admin.delete(f"/api/memories/{memory}")
    admin.delete(f"/api/people/{person}")
    app.sync()
    seen = app.types_seen()
    assert seen.get("StackDeleteV1") == 1 and seen.get("MemoryDeleteV1") == 1 and seen.get("PersonDeleteV1") == 1


def test_partner_never_receives_locked_assets(client: Any, admin: Actor, ctx: Any) -> None:
    ids = _library(admin, ctx)
    locked = ids["jpeg/mongolia.jpeg"]
    admin.put(f"/api/assets/{locked}", json={"visibility": "locked"})
    bob = make_user(client, admin, "bob@immich.cloud", "Bob", "bob-password")
    admin.post("/api/partners", json={"sharedWithId": bob.id})
    app = _app(client, bob)
    app.sync()
    assert locked not in app.partner_assets and ids["png/png.png"] in app.partner_assets
    assert all(x["data"].get("assetId") != locked for x in app.seen if x["type"] == "PartnerAssetExifV1")
