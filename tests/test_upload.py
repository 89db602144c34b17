"""POST /api/assets and friends: real corpus files, streamed to disk, deduplicated, returned byte-exact."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from starlette.testclient import TestClient

from immich_lite.api import multipart

from tests.conftest import CORPUS, Actor, assert_error, assert_schema
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "mongolia.jpeg"


def test_upload_creates_then_detects_duplicate(admin: Actor) -> None:
    r = upload(admin, JPEG)
    assert r.status_code == 201 and assert_schema(r, "uploadAsset")["status"] == "created"
    again = upload(admin, JPEG)
    assert again.status_code == 200 and again.json() == {"id": r.json()["id"], "status": "duplicate"}


def test_upload_is_stored_by_layout_and_returned_byte_exact(admin: Actor, ctx: Any) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    stored = ctx.storage.root / "upload" / admin.id / asset_id[:2] / asset_id[2:4] / f"{asset_id}.jpeg"
    assert stored.read_bytes() == JPEG.read_bytes()
    r = admin.get(f"/api/assets/{asset_id}/original")
    assert r.status_code == 200 and r.content == JPEG.read_bytes()
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == "inline; filename*=UTF-8''mongolia.jpeg"
    assert list((ctx.storage.root / "tmp").iterdir()) == []


def test_original_supports_ranges_and_conditional_requests(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    data = JPEG.read_bytes()
    r = admin.get(f"/api/assets/{asset_id}/original", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = admin.get(f"/api/assets/{asset_id}/original", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    bad = admin.get(f"/api/assets/{asset_id}/original", headers={"Range": f"bytes={len(data) + 5}-"})
    assert bad.status_code == 416
    etag = admin.get(f"/api/assets/{asset_id}/original").headers["etag"]
    assert admin.get(f"/api/assets/{asset_id}/original", headers={"If-None-Match": etag}).status_code == 304


def test_unsupported_type_is_refused_and_nothing_stored(admin: Actor, ctx: Any) -> None:
    r = upload(admin, data=b"MZ\x90\x00", filename="evil.exe")
    assert_error(r, 400, "Unsupported file type evil.exe")
    assert list((ctx.storage.root / "tmp").iterdir()) == []
    assert not any((ctx.storage.root / "upload").rglob("*.exe"))


def test_empty_file_is_refused(admin: Actor) -> None:
    assert_error(upload(admin, data=b"", filename="empty.jpg"), 400, "File is empty")


def test_missing_dates_are_refused(admin: Actor) -> None:
    r = admin.client.post("/api/assets", files={"assetData": ("a.jpg", JPEG.read_bytes(), "image/jpeg")},
                          headers=admin.headers)
    assert_error(r, 400)


def test_checksum_header_short_circuits_duplicates(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    digest = hashlib.sha1(JPEG.read_bytes()).hexdigest()  # noqa: S324
    r = upload(admin, data=b"not even read", filename="x.jpg", headers={"x-immich-checksum": digest})
    assert r.status_code == 200 and r.json() == {"id": asset_id, "status": "duplicate"}


def test_checksum_header_mismatch_is_refused_and_nothing_stored(admin: Actor, ctx: Any) -> None:
    r = upload(admin, JPEG, headers={"x-immich-checksum": "0" * 40})
    assert_error(r, 400, "The file's checksum does not match x-immich-checksum")
    assert list((ctx.storage.root / "tmp").iterdir()) == []
    assert not (ctx.storage.root / "upload").exists() or not any((ctx.storage.root / "upload").rglob("*.*"))
    assert admin.get("/api/assets/statistics").json()["total"] == 0


def test_form_without_asset_file_is_refused_and_its_sidecar_removed(admin: Actor, ctx: Any) -> None:
    fields = {"deviceAssetId": "x", "deviceId": "pytest", "fileCreatedAt": "2024-01-01T00:00:00.000Z",
              "fileModifiedAt": "2024-01-01T00:00:00.000Z"}
    r = admin.client.post("/api/assets", data=fields, headers=admin.headers,
                          files={"sidecarData": ("a.xmp", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", "application/xml")})
    assert_error(r, 400, ["assetData must be a file"])
    assert list((ctx.storage.root / "tmp").iterdir()) == []


def test_bulk_upload_check_accepts_hex_and_base64(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    digest = hashlib.sha1(JPEG.read_bytes()).digest()  # noqa: S324
    body = {"assets": [{"id": "a", "checksum": digest.hex()}, {"id": "b", "checksum": base64.b64encode(digest).decode()},
                       {"id": "c", "checksum": "1" * 40}]}
    r = admin.post("/api/assets/bulk-upload-check", json=body)
    results = assert_schema(r, "checkBulkUpload")["results"]
    assert results[0] == {"id": "a", "action": "reject", "reason": "duplicate", "assetId": asset_id, "isTrashed": False}
    assert results[1]["assetId"] == asset_id and results[2] == {"id": "c", "action": "accept"}


def test_duplicates_are_per_owner(admin: Actor, user: Actor) -> None:
    a = upload(admin, JPEG).json()
    b = upload(user, JPEG)
    assert b.status_code == 201 and b.json()["id"] != a["id"]


def test_other_users_cannot_read_the_bytes(admin: Actor, user: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    for path in (f"/api/assets/{asset_id}", f"/api/assets/{asset_id}/original",
                 f"/api/assets/{asset_id}/thumbnail", f"/api/assets/{asset_id}/video/playback"):
        body = assert_error(user.get(path), 400)
        assert body["message"].startswith("Not found or no asset.")


def test_sidecar_and_metadata_are_stored(admin: Actor, ctx: Any) -> None:
    xmp = b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    r = upload(admin, JPEG, sidecar=xmp, fields={"metadata": '[{"key":"mobile-app","value":{"iCloudId":"abc"}}]'})
    asset_id = r.json()["id"]
    stored = ctx.storage.root / "upload" / admin.id / asset_id[:2] / asset_id[2:4] / f"{asset_id}.xmp"
    assert stored.read_bytes() == xmp
    meta = assert_schema(admin.get(f"/api/assets/{asset_id}/metadata"), "getAssetMetadata")
    assert meta[0]["key"] == "mobile-app" and meta[0]["value"] == {"iCloudId": "abc"}


def test_quota_is_enforced(admin: Actor, user: Actor) -> None:
    admin.put(f"/api/admin/users/{user.id}", json={"quotaSizeInBytes": 1000})
    assert_error(upload(user, JPEG), 400, "Quota has been exceeded!")


def test_live_photo_video_gets_hidden(admin: Actor) -> None:
    video = upload(admin, CORPUS / "livephoto" / "train.mov").json()["id"]
    r = upload(admin, CORPUS / "livephoto" / "train.jpg", fields={"livePhotoVideoId": video})
    assert r.status_code == 201
    assert admin.get(f"/api/assets/{video}").json()["visibility"] == "hidden"
    assert admin.get(f"/api/assets/{r.json()['id']}").json()["livePhotoVideoId"] == video


def test_live_photo_link_and_unlink_as_upstream(admin: Actor, user: Actor) -> None:
    still = upload(admin, CORPUS / "livephoto" / "train.jpg").json()["id"]
    video = upload(admin, CORPUS / "livephoto" / "train.mov").json()["id"]
    other_still = upload(admin, JPEG).json()["id"]
    theirs = upload(user, CORPUS / "livephoto" / "train.mov").json()["id"]
    for target, message in (("00000000-0000-4000-8000-000000000000", "Live photo video not found"),
                            (other_still, "Live photo video must be a video"),
                            (theirs, "Live photo video does not belong to the user")):
        assert_error(admin.put(f"/api/assets/{still}", json={"livePhotoVideoId": target}), 400, message)
    assert admin.get(f"/api/assets/{still}").json()["livePhotoVideoId"] is None
    assert user.get(f"/api/assets/{theirs}").json()["visibility"] == "timeline"

    assert admin.put(f"/api/assets/{still}", json={"livePhotoVideoId": video}).status_code == 200
    assert admin.get(f"/api/assets/{video}").json()["visibility"] == "hidden"
    # unlinking brings the video back with the still's visibility
    unlink = {"livePhotoVideoId": None, "visibility": "archive"}
    assert admin.put(f"/api/assets/{still}", json=unlink).status_code == 200
    assert admin.get(f"/api/assets/{still}").json()["livePhotoVideoId"] is None
    assert admin.get(f"/api/assets/{video}").json()["visibility"] == "archive"


def test_asset_info_matches_the_schema(admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    body = assert_schema(admin.get(f"/api/assets/{asset_id}"), "getAssetInfo")
    assert body["originalFileName"] == "mongolia.jpeg" and body["ownerId"] == admin.id
    assert base64.b64decode(body["checksum"]) == hashlib.sha1(JPEG.read_bytes()).digest()  # noqa: S324


@pytest.mark.parametrize("max_queued", [None, 64 * 1024])
def test_large_upload_is_byte_exact_across_writer_handoffs(admin: Actor, ctx: Any, max_queued: int | None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # 13 MiB: many 1 MiB hand-offs to the writer thread; with a 64 KiB allowance every hand-off waits for the
    # disk (the back-pressure path a slow SD card takes)
    if max_queued is not None:
        monkeypatch.setattr(multipart, "MAX_QUEUED", max_queued)
    data = JPEG.read_bytes() + bytes(range(256)) * (13 * 4096)
    r = upload(admin, data=data, filename="big.jpg")
    assert r.status_code == 201, r.text
    info = admin.get(f"/api/assets/{r.json()['id']}").json()
    assert base64.b64decode(info["checksum"]) == hashlib.sha1(data).digest()  # noqa: S324
    assert admin.get(f"/api/assets/{r.json()['id']}/original").content == data
    assert list((ctx.storage.root / "tmp").iterdir()) == []


def test_a_failing_disk_write_answers_500_and_stores_nothing(app: Any, admin: Actor, ctx: Any) -> None:
    tmp = ctx.storage.root / "tmp"
    tmp.rmdir()
    tmp.write_bytes(b"")  # the writer thread cannot create its temp file
    try:
        # a second client on the running app that reports the 500 instead of re-raising the server's error
        plain = Actor(TestClient(app, raise_server_exceptions=False), admin.token, admin.id, admin.email,
                      admin.password)
        r = upload(plain, data=JPEG.read_bytes() * 3, filename="doomed.jpg")
        assert_error(r, 500)
    finally:
        tmp.unlink()
        tmp.mkdir()
    stats = admin.get("/api/assets/statistics").json()
    assert stats["total"] == 0
    assert not any((ctx.storage.root / "upload").rglob("*.jpg"))
    assert upload(admin, JPEG).status_code == 201  # and the next upload works


def test_a_malformed_body_is_400_and_stores_nothing(admin: Actor, ctx: Any) -> None:
    body = b"garbage where the first boundary should be"
    r = admin.client.post("/api/assets", content=body,
                          headers={**admin.headers, "content-type": "multipart/form-data; boundary=XX"})
    assert_error(r, 400, "Invalid multipart/form-data request")
    assert list((ctx.storage.root / "tmp").iterdir()) == []
    assert admin.get("/api/assets/statistics").json()["total"] == 0


def test_ensure_dir_makes_the_chain_once_even_from_many_threads(tmp_path: Any) -> None:
    import threading  # noqa: PLC0415

    from immich_lite.storage import ensure_dir  # noqa: PLC0415

    target = tmp_path / "upload" / "user" / "ab" / "cd"
    errors: list[BaseException] = []

    def make() -> None:
        try:
            ensure_dir(target)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and target.is_dir()
    ensure_dir(target)  # exists: nothing to do
    (target / "f").write_bytes(b"x")
    assert [p.name for p in target.iterdir()] == ["f"]
