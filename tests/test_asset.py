"""Asset API: info, updates (single and bulk, PUT and PATCH), delete/trash/restore, statistics, jobs, metadata."""
from __future__ import annotations

from typing import Any

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, assert_error, assert_schema
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "mongolia.jpeg"
PNG = CORPUS / "png" / "png.png"


def test_update_fields_round_trip(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    for method in ("PUT", "PATCH"):
        r = admin.request(method, f"/api/assets/{asset_id}",
                          json={"isFavorite": True, "description": "yurts", "rating": 4,
                                "latitude": 47.9, "longitude": 106.9})
        body = assert_schema(r, "updateAsset")
        assert body["isFavorite"] is True and body["exifInfo"]["description"] == "yurts"
        assert body["exifInfo"]["rating"] == 4 and body["exifInfo"]["latitude"] == 47.9


def test_date_change_moves_file_created_at_and_local_time(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    body = admin.put(f"/api/assets/{asset_id}", json={"dateTimeOriginal": "2020-05-06T07:08:09.000+02:00"}).json()
    assert body["fileCreatedAt"] == "2020-05-06T05:08:09.000Z" and body["localDateTime"] == "2020-05-06T07:08:09.000Z"


def test_user_edits_survive_metadata_refresh(admin: Actor, ctx: Any) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx)
    admin.put(f"/api/assets/{asset_id}", json={"description": "mine"})
    assert admin.post("/api/assets/jobs", json={"assetIds": [asset_id], "name": "refresh-metadata"}).status_code == 204
    jobs.drain(ctx)
    assert admin.get(f"/api/assets/{asset_id}").json()["exifInfo"]["description"] == "mine"


def test_bulk_update_and_statistics(admin: Actor) -> None:
    a, b = upload(admin, JPEG).json()["id"], upload(admin, PNG).json()["id"]
    for method in ("PUT", "PATCH"):
        assert admin.request(method, "/api/assets", json={"ids": [a, b], "isFavorite": True}).status_code == 204
    admin.put("/api/assets", json={"ids": [b], "visibility": "archive"})
    stats = assert_schema(admin.get("/api/assets/statistics"), "getAssetStatistics")
    assert stats == {"images": 2, "videos": 0, "total": 2}
    assert admin.get("/api/assets/statistics?visibility=archive").json()["total"] == 1
    assert admin.get("/api/assets/statistics?isFavorite=true").json()["total"] == 2


def test_trash_restore_and_empty(admin: Actor, ctx: Any) -> None:
    a, b = upload(admin, JPEG).json()["id"], upload(admin, PNG).json()["id"]
    jobs.drain(ctx)
    assert admin.delete("/api/assets", json={"ids": [a, b]}).status_code == 204
    assert admin.get(f"/api/assets/{a}").json()["isTrashed"] is True
    assert admin.get("/api/assets/statistics?isTrashed=true").json()["total"] == 2
    r = admin.post("/api/trash/restore/assets", json={"ids": [a]})
    assert assert_schema(r, "restoreAssets") == {"count": 1}
    original = ctx.storage.absolute(ctx.db.reader().execute("SELECT original_path FROM asset WHERE id = ?", (b,))
                                    .fetchone()["original_path"])
    assert admin.post("/api/trash/empty").json() == {"count": 1}
    jobs.drain(ctx)
    assert not original.exists()
    assert_error(admin.get(f"/api/assets/{b}"), 400)
    assert admin.get(f"/api/assets/{a}").json()["isTrashed"] is False


def test_force_delete_removes_files_and_derived(admin: Actor, ctx: Any) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx)
    files = [r["path"] for r in ctx.db.reader().execute("SELECT path FROM asset_file WHERE asset_id = ?", (asset_id,))]
    assert files
    admin.delete("/api/assets", json={"ids": [asset_id], "force": True})
    jobs.drain(ctx)
    assert not any(ctx.storage.absolute(p).exists() for p in files)
    assert_error(admin.get(f"/api/assets/{asset_id}"), 400, "Not found or no asset.read access")  # upstream
    assert ctx.db.reader().execute("SELECT count(*) AS n FROM asset_audit WHERE asset_id = ?", (asset_id,)).fetchone()["n"] == 1


def test_restore_all(admin: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    admin.delete("/api/assets", json={"ids": [a]})
    assert assert_schema(admin.post("/api/trash/restore"), "restoreTrash") == {"count": 1}


def test_other_users_cannot_change_or_delete(admin: Actor, user: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    assert_error(user.put(f"/api/assets/{a}", json={"isFavorite": True}), 400, "Not found or no asset.update access")
    assert_error(user.delete("/api/assets", json={"ids": [a]}), 400, "Not found or no asset.delete access")
    assert_error(user.post("/api/trash/restore/assets", json={"ids": [a]}), 400)


def test_locked_assets_need_an_elevated_session(admin: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    admin.put(f"/api/assets/{a}", json={"visibility": "locked"})
    assert_error(admin.get(f"/api/assets/{a}"), 400)
    admin.post("/api/auth/pin-code", json={"pinCode": "123456"})
    admin.post("/api/auth/session/unlock", json={"pinCode": "123456"})
    assert admin.get(f"/api/assets/{a}").json()["visibility"] == "locked"


def test_metadata_key_values(admin: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    r = admin.put(f"/api/assets/{a}/metadata", json={"items": [{"key": "mobile-app", "value": {"cloudId": "x"}}]})
    assert assert_schema(r, "updateAssetMetadata")[0]["value"] == {"cloudId": "x"}
    one = assert_schema(admin.get(f"/api/assets/{a}/metadata/mobile-app"), "getAssetMetadataByKey")
    assert one["key"] == "mobile-app"
    bulk = admin.put("/api/assets/metadata", json={"items": [{"assetId": a, "key": "k2", "value": {"v": 1}}]})
    assert assert_schema(bulk, "updateBulkAssetMetadata")[0]["assetId"] == a
    assert admin.delete(f"/api/assets/{a}/metadata/mobile-app").status_code == 204
    assert admin.delete("/api/assets/metadata", json={"items": [{"assetId": a, "key": "k2"}]}).status_code == 204
    assert admin.get(f"/api/assets/{a}/metadata").json() == []


def test_thumbnail_sizes_and_redirects(admin: Actor, ctx: Any) -> None:
    a = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx)
    r = admin.get(f"/api/assets/{a}/thumbnail?size=fullsize", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith(f"/api/assets/{a}/original")
    r = admin.get(f"/api/assets/{a}/thumbnail?size=preview")
    assert r.headers["cache-control"].startswith("private, max-age=86400")
    assert r.headers["content-disposition"] == "inline; filename*=UTF-8''mongolia_preview.jpeg"


def test_ocr_and_edits_are_empty(admin: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    assert assert_schema(admin.get(f"/api/assets/{a}/ocr"), "getAssetOcr") == []
    assert assert_schema(admin.get(f"/api/assets/{a}/edits"), "getAssetEdits") == {"assetId": a, "edits": []}


def test_hls_is_off(admin: Actor) -> None:
    a = upload(admin, JPEG).json()["id"]
    assert_error(admin.get(f"/api/assets/{a}/video/stream/main.m3u8"), 400, "Real-time transcoding is not enabled")


def test_copy_carries_albums_favorite_and_sidecar(admin: Actor, ctx: Any) -> None:
    src = upload(admin, CORPUS / "sidecar" / "IMG_1762.HEIC", sidecar=None).json()["id"] \
        if (CORPUS / "sidecar" / "IMG_1762.HEIC").exists() else upload(admin, JPEG).json()["id"]
    dst = upload(admin, PNG).json()["id"]
    album = admin.post("/api/albums", json={"albumName": "a", "assetIds": [src]}).json()["id"]
    admin.put(f"/api/assets/{src}", json={"isFavorite": True})
    assert admin.put("/api/assets/copy", json={"sourceId": src, "targetId": dst}).status_code == 204
    assert admin.get(f"/api/assets/{dst}").json()["isFavorite"] is True
    assert {a["id"] for a in admin.get(f"/api/albums?assetId={dst}").json()} == {album}
    assert_error(admin.put("/api/assets/copy", json={"sourceId": src, "targetId": src}), 400,
                 "Source and target id must be distinct")
