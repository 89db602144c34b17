"""XMP sidecars (upstream SidecarWrite / SidecarCheck): edits written next to the original, read back; sidecars
found beside library files; real exiftool, real files, through HTTP."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from immich_lite import jobs
from immich_lite.media.exif import ExifTool
from tests.conftest import CORPUS, Actor, assert_invalid
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "mongolia.jpeg"


def sidecar_of(ctx: Any, asset_id: str) -> Path | None:
    row = ctx.db.reader().execute("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'sidecar'",
                                  (asset_id,)).fetchone()
    return ctx.storage.absolute(row["path"]) if row else None


def locked(ctx: Any, asset_id: str) -> list[str]:
    row = ctx.db.reader().execute("SELECT locked_properties FROM asset_exif WHERE asset_id = ?", (asset_id,)).fetchone()
    return json.loads(row["locked_properties"] or "[]")


def read_xmp(path: Path) -> dict[str, Any]:
    with ExifTool() as et:
        return et.read(path)


def test_edits_are_written_to_the_sidecar_and_read_back(ctx: Any, admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx, timeout=120)
    assert sidecar_of(ctx, asset_id) is None
    r = admin.put(f"/api/assets/{asset_id}", json={
        "description": "Steppe\nat dusk", "dateTimeOriginal": "2023-11-19T18:11:00.000-07:00", "rating": 4,
        "latitude": 33.4484, "longitude": -112.074})
    assert r.status_code == 200
    exif = r.json()["exifInfo"]
    # upstream's e2e "should update date time original": the zone of the offset is kept
    assert (exif["dateTimeOriginal"], exif["timeZone"]) == ("2023-11-20T01:11:00+00:00", "UTC-7")
    assert r.json()["localDateTime"] == "2023-11-19T18:11:00.000Z"
    assert set(locked(ctx, asset_id)) == {"description", "dateTimeOriginal", "timeZone", "rating", "latitude",
                                          "longitude"}

    jobs.drain(ctx, timeout=120)
    xmp = sidecar_of(ctx, asset_id)
    assert xmp is not None and xmp.name == f"{asset_id}.jpeg.xmp" and xmp.parent.parent.parent.name == admin.id
    tags = read_xmp(xmp)
    assert tags["Description"] == tags["ImageDescription"] == "Steppe\nat dusk"
    assert tags["DateTimeOriginal"] == "2023:11:19 18:11:00.000-07:00"
    assert (tags["GPSLatitude"], tags["GPSLongitude"], tags["Rating"]) == (33.4484, -112.074, 4)
    assert locked(ctx, asset_id) == []  # written: unlocked, and extraction read them back from the sidecar
    body = admin.get(f"/api/assets/{asset_id}").json()
    exif = body["exifInfo"]
    assert exif["description"] == "Steppe\nat dusk" and exif["rating"] == 4
    assert (exif["latitude"], exif["longitude"]) == (33.4484, -112.074) and exif["city"] == "Phoenix"
    # read back as exiftool-vendored does for upstream: the zone of the place wins over a bare offset
    assert (exif["dateTimeOriginal"], exif["timeZone"]) == ("2023-11-20T01:11:00+00:00", "America/Phoenix")
    assert (body["fileCreatedAt"], body["localDateTime"]) == ("2023-11-20T01:11:00.000Z", "2023-11-19T18:11:00.000Z")

    # a second edit rewrites the same sidecar, keeping what it does not touch
    assert admin.put(f"/api/assets/{asset_id}", json={"description": ""}).status_code == 200
    jobs.drain(ctx, timeout=120)
    tags = read_xmp(xmp)
    assert tags["Description"] == "" and tags["Rating"] == 4  # empty, so the JPEG's own caption stays hidden
    assert admin.get(f"/api/assets/{asset_id}").json()["exifInfo"]["description"] == ""
    assert not [p for p in xmp.parent.iterdir() if p.name.endswith(".tmp.xmp")]


def test_tags_go_to_the_sidecar(ctx: Any, admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx, timeout=120)
    tags = admin.put("/api/tags", json={"tags": ["Places/Mongolia", "Trips"]}).json()
    by_value = {t["value"]: t["id"] for t in tags}
    r = admin.put("/api/tags/assets", json={"tagIds": list(by_value.values()), "assetIds": [asset_id]})
    assert r.status_code == 200
    jobs.drain(ctx, timeout=120)
    xmp = sidecar_of(ctx, asset_id)
    assert xmp is not None
    written = set(read_xmp(xmp)["TagsList"])  # with the keywords the JPEG came with
    assert {"Places/Mongolia", "Trips"} <= written and "Mongolia" in written
    admin.request("DELETE", f"/api/tags/{by_value['Trips']}/assets", json={"ids": [asset_id]})
    jobs.drain(ctx, timeout=120)
    assert set(read_xmp(xmp)["TagsList"]) == written - {"Trips"}
    got = {t["value"] for t in admin.get(f"/api/assets/{asset_id}").json()["tags"]}
    assert "Places/Mongolia" in got and "Trips" not in got  # read back: not re-added from anywhere


def test_bulk_date_shift_and_zone(ctx: Any, admin: Actor) -> None:
    asset_id = upload(admin, JPEG).json()["id"]
    jobs.drain(ctx, timeout=120)
    before = admin.get(f"/api/assets/{asset_id}").json()
    r = admin.put("/api/assets", json={"ids": [asset_id], "dateTimeRelative": 90, "timeZone": "Asia/Ulaanbaatar"})
    assert r.status_code == 204
    mid = admin.get(f"/api/assets/{asset_id}").json()
    assert mid["exifInfo"]["timeZone"] == "Asia/Ulaanbaatar"
    jobs.drain(ctx, timeout=120)
    after = admin.get(f"/api/assets/{asset_id}").json()
    from immich_lite import ids
    shifted = ids.parse_iso(before["fileCreatedAt"]).timestamp() + 90 * 60
    assert ids.parse_iso(after["fileCreatedAt"]).timestamp() == shifted
    assert after["exifInfo"]["timeZone"] in ("Asia/Ulaanbaatar", "UTC+8")  # read back from the sidecar's offset
    local = ids.parse_iso(after["localDateTime"]).timestamp()
    assert local - shifted == 8 * 3600  # Ulaanbaatar is UTC+8
    assert mid["localDateTime"] == after["localDateTime"]
    assert_invalid(admin.put("/api/assets", json={"ids": [asset_id], "timeZone": "Mars/Olympus"}),
                   (["timeZone"], "Invalid time zone"))
    assert_invalid(admin.put(f"/api/assets/{asset_id}", json={"dateTimeOriginal": "yesterday"}),
                   (["dateTimeOriginal"], "Invalid ISO datetime"))
    assert admin.get(f"/api/assets/{asset_id}").json()["fileCreatedAt"] == after["fileCreatedAt"]


def test_sidecar_check_finds_sidecars_added_later_to_a_library(tmp_path: Path, ctx: Any, admin: Actor) -> None:
    root = tmp_path / "nas"
    root.mkdir()
    shutil.copy2(JPEG, root / "a.jpg")
    shutil.copy2(JPEG, root / "b.jpg")
    lib = admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(root)]}).json()
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx, timeout=120)
    ids_ = {r["original_file_name"]: r["id"] for r in ctx.db.reader().execute(
        "SELECT id, original_file_name FROM asset WHERE library_id = ?", (lib["id"],))}
    assert sidecar_of(ctx, ids_["a.jpg"]) is None
    with ExifTool() as et:  # another program writes sidecars next to the photos, both naming styles
        # (both caption tags: upstream reads ImageDescription first, and this JPEG has its own)
        et.write_sidecar(root / "a.xmp", {"Description": "from a.xmp", "ImageDescription": "from a.xmp", "Rating": 5})
        et.write_sidecar(root / "b.jpg.xmp", {"Description": "from b.jpg.xmp", "ImageDescription": "from b.jpg.xmp"})
    r = admin.put("/api/jobs/sidecar", json={"command": "start", "force": False})  # "Discover" in the web's Jobs
    assert r.status_code == 200, r.text
    jobs.drain(ctx, timeout=120)
    assert sidecar_of(ctx, ids_["a.jpg"]) == root / "a.xmp"
    assert sidecar_of(ctx, ids_["b.jpg"]) == root / "b.jpg.xmp"
    a = admin.get(f"/api/assets/{ids_['a.jpg']}").json()["exifInfo"]
    assert (a["description"], a["rating"]) == ("from a.xmp", 5)
    assert admin.get(f"/api/assets/{ids_['b.jpg']}").json()["exifInfo"]["description"] == "from b.jpg.xmp"

    # the sidecar goes away: "Sync" (force) forgets it
    (root / "b.jpg.xmp").unlink()
    admin.put("/api/jobs/sidecar", json={"command": "start", "force": True})
    jobs.drain(ctx, timeout=120)
    assert sidecar_of(ctx, ids_["b.jpg"]) is None
    assert sidecar_of(ctx, ids_["a.jpg"]) == root / "a.xmp"

    # a library file changed on disk (its mtime moved) is read again at the next scan, sidecar first
    with ExifTool() as et:
        et.write_sidecar(root / "b.xmp", {"Description": "later", "ImageDescription": "later"})
    import os
    os.utime(root / "b.jpg", (1_700_000_000, 1_700_000_000))
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx, timeout=120)
    assert sidecar_of(ctx, ids_["b.jpg"]) == root / "b.xmp"
    assert admin.get(f"/api/assets/{ids_['b.jpg']}").json()["exifInfo"]["description"] == "later"


def test_an_edit_to_a_library_photo_writes_beside_it(tmp_path: Path, ctx: Any, admin: Actor) -> None:
    root = tmp_path / "nas"
    root.mkdir()
    shutil.copy2(JPEG, root / "c.jpg")
    lib = admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(root)]}).json()
    admin.post(f"/api/libraries/{lib['id']}/scan")
    jobs.drain(ctx, timeout=120)
    asset_id = ctx.db.reader().execute("SELECT id FROM asset WHERE library_id = ?", (lib["id"],)).fetchone()["id"]
    original = (root / "c.jpg").read_bytes()
    assert admin.put(f"/api/assets/{asset_id}", json={"rating": 2}).status_code == 200
    jobs.drain(ctx, timeout=120)
    assert sidecar_of(ctx, asset_id) == root / "c.jpg.xmp"
    assert read_xmp(root / "c.jpg.xmp")["Rating"] == 2
    assert (root / "c.jpg").read_bytes() == original  # the user's photo itself is never rewritten
    assert admin.get(f"/api/assets/{asset_id}").json()["exifInfo"]["rating"] == 2
