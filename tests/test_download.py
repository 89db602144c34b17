"""Downloads: archive planning and a zip whose entries are the originals, byte for byte."""
from __future__ import annotations

import io
import zipfile
from typing import Any

from tests.conftest import CORPUS, Actor, assert_error, assert_schema
from tests.helpers.upload import upload

FILES = [CORPUS / "jpeg" / "mongolia.jpeg", CORPUS / "png" / "png.png", CORPUS / "jpeg" / "DSCN0010.jpg"]


def test_info_splits_by_archive_size(admin: Actor) -> None:
    ids = [upload(admin, f).json()["id"] for f in FILES]
    body = assert_schema(admin.post("/api/download/info", json={"assetIds": ids, "archiveSize": 1}), "getDownloadInfo")
    assert [a["assetIds"] for a in body["archives"]] == [[i] for i in ids]
    assert body["totalSize"] == sum(f.stat().st_size for f in FILES)
    whole = admin.post("/api/download/info", json={"userId": admin.id}).json()
    assert len(whole["archives"]) == 1 and sorted(whole["archives"][0]["assetIds"]) == sorted(ids)


def test_archive_streams_the_originals(admin: Actor) -> None:
    ids = [upload(admin, f).json()["id"] for f in FILES]
    r = admin.post("/api/download/archive", json={"assetIds": ids})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.testzip() is None
    assert {n: z.read(n) for n in z.namelist()} == {f.name: f.read_bytes() for f in FILES}


def test_duplicate_names_are_numbered(admin: Actor) -> None:
    a = upload(admin, FILES[0]).json()["id"]
    b = upload(admin, data=FILES[1].read_bytes(), filename="mongolia.jpeg").json()["id"]
    z = zipfile.ZipFile(io.BytesIO(admin.post("/api/download/archive", json={"assetIds": [a, b]}).content))
    assert z.namelist() == ["mongolia.jpeg", "mongolia+1.jpeg"]


def test_archive_of_someone_elses_asset_is_refused(admin: Actor, user: Actor) -> None:
    asset_id = upload(admin, FILES[0]).json()["id"]
    assert_error(user.post("/api/download/archive", json={"assetIds": [asset_id]}), 400,
                 "Not found or no asset.download access")
    assert_error(user.post("/api/download/info", json={"userId": admin.id}), 400,
                 "Not found or no timeline.download access")


def test_info_needs_a_selector(admin: Actor) -> None:
    assert_error(admin.post("/api/download/info", json={}), 400, "assetIds, albumId, or userId is required")
