"""Maintenance (admin) integrity reports: the IntegrityCheck jobs fill them; summary, list, CSV, file, delete."""
from __future__ import annotations

import csv
import io
import re
from typing import Any

import pyvips

from immich_lite import jobs
from immich_lite.services import integrity
from tests.conftest import Actor, assert_error, assert_schema
from tests.helpers.upload import upload


def jpeg(i: int) -> bytes:
    return bytes((pyvips.Image.black(16 + i, 16) + (i * 40)).jpegsave_buffer())


def _path(ctx: Any, asset_id: str) -> str:
    with ctx.db.read() as c:
        return c.execute("SELECT original_path FROM asset WHERE id = ?", (asset_id,)).fetchone()["original_path"]


V7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _items(admin: Actor, type_: str, **params: Any) -> dict[str, Any]:
    """The report page, schema-checked. Upstream's own spec disagrees with itself here: the item ids are UUIDv7 (its
    delete and file routes take only v7 ids, so its web app needs them), while the response schema says v4; the
    routes win. The ids are checked as v7, then the rest against the schema."""
    r = admin.get("/api/admin/integrity/report", params={"type": type_, **params})
    body = r.json()
    assert all(V7.match(i["id"]) for i in body["items"]), body
    as_v4 = {**body, "items": [{**i, "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"} for i in body["items"]]}
    r.json = lambda: as_v4  # type: ignore[method-assign]
    assert_schema(r, "getIntegrityReport")
    return body


def _setup(admin: Actor, ctx: Any) -> dict[str, Any]:
    gone, flipped, fine = (upload(admin, data=jpeg(i), filename=f"{i}.jpg").json()["id"] for i in range(3))
    jobs.drain(ctx)
    root = ctx.storage.root
    (root / _path(ctx, gone)).unlink()
    p = root / _path(ctx, flipped)
    data = bytearray(p.read_bytes())
    data[-3] ^= 0xFF
    p.write_bytes(bytes(data))
    stray = root / "upload" / admin.id / 'we"ird, name.bin'
    stray.write_bytes(b"stray bytes")
    for name in ("integrity-missing-files", "integrity-untracked-files", "integrity-checksum-mismatch"):
        assert admin.post("/api/jobs", json={"name": name}).status_code == 204
    jobs.drain(ctx)
    return {"gone": gone, "flipped": flipped, "fine": fine, "stray": stray}


def test_jobs_fill_reports_summary_list_csv_file(admin: Actor, user: Actor, ctx: Any) -> None:
    s = _setup(admin, ctx)
    summary = assert_schema(admin.get("/api/admin/integrity/summary"), "getIntegrityReportSummary")
    assert summary == {"missing_file": 1, "untracked_file": 1, "checksum_mismatch": 1}

    missing = _items(admin, "missing_file")["items"]
    assert [i["path"] for i in missing] == [_path(ctx, s["gone"])]
    mism = _items(admin, "checksum_mismatch")["items"]
    assert [i["path"] for i in mism] == [_path(ctx, s["flipped"])]
    untracked = _items(admin, "untracked_file")["items"]
    assert [i["path"] for i in untracked] == [str(s["stray"].relative_to(ctx.storage.root))]

    # CSV: upstream's columns, path quoted with doubled quotes
    r = admin.get("/api/admin/integrity/report/untracked_file/csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert 'we""ird, name.bin"' in r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["id", "type", "assetId", "fileAssetId", "path"]
    assert rows[1] == [untracked[0]["id"], "untracked_file", "", "", untracked[0]["path"]]
    rows = list(csv.reader(io.StringIO(admin.get("/api/admin/integrity/report/missing_file/csv").text)))
    assert rows[1][2] == s["gone"]

    # file: the flagged bytes; a missing file is a 404
    r = admin.get(f"/api/admin/integrity/report/{untracked[0]['id']}/file")
    assert r.status_code == 200 and r.content == b"stray bytes"
    assert r.headers["content-type"] == "application/octet-stream"
    assert_error(admin.get(f"/api/admin/integrity/report/{missing[0]['id']}/file"), 404)

    # non-admins: 403 everywhere
    for path in ("/api/admin/integrity/summary", "/api/admin/integrity/report?type=missing_file",
                 "/api/admin/integrity/report/missing_file/csv", f"/api/admin/integrity/report/{mism[0]['id']}/file"):
        assert_error(user.get(path), 403)
    assert_error(user.delete(f"/api/admin/integrity/report/{mism[0]['id']}"), 403)
    assert_error(admin.get("/api/admin/integrity/report?type=nope"), 400)

    # a rerun replaces the report: the fixed file drops out
    s["stray"].unlink()
    assert admin.post("/api/jobs", json={"name": "integrity-untracked-files"}).status_code == 204
    jobs.drain(ctx)
    assert admin.get("/api/admin/integrity/summary").json()["untracked_file"] == 0


def test_pagination_and_refresh(admin: Actor, ctx: Any) -> None:
    root = ctx.storage.root
    (root / "upload" / admin.id).mkdir(parents=True, exist_ok=True)
    for i in range(5):
        (root / "upload" / admin.id / f"stray{i}.bin").write_bytes(b"x")
    (root / "upload" / admin.id / ".hidden").write_bytes(b"x")
    assert integrity.scan_untracked(ctx) == 5
    seen, cursor, pages = [], None, 0
    while True:
        page = _items(admin, "untracked_file", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["path"] for i in page["items"]]
        pages += 1
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert pages == 3 and sorted(seen) == [f"upload/{admin.id}/stray{i}.bin" for i in range(5)]
    (root / "upload" / admin.id / "stray0.bin").unlink()
    (root / "upload" / admin.id / "new.bin").write_bytes(b"x")
    assert admin.post("/api/jobs", json={"name": "integrity-untracked-files-refresh"}).status_code == 204
    jobs.drain(ctx)
    paths = {i["path"] for i in _items(admin, "untracked_file")["items"]}
    assert len(paths) == 4 and f"upload/{admin.id}/new.bin" not in paths  # refresh only drops stale rows


def test_delete_items(admin: Actor, ctx: Any) -> None:
    s = _setup(admin, ctx)
    untracked = _items(admin, "untracked_file")["items"][0]
    r = admin.delete(f"/api/admin/integrity/report/{untracked['id']}")
    assert r.status_code == 200
    assert not s["stray"].exists()  # untracked file removed with its row
    assert_error(admin.delete(f"/api/admin/integrity/report/{untracked['id']}"), 404)

    mism = _items(admin, "checksum_mismatch")["items"][0]
    assert admin.delete(f"/api/admin/integrity/report/{mism['id']}").status_code == 200
    asset = admin.get(f"/api/assets/{s['flipped']}").json()
    assert asset["isTrashed"] is True  # as upstream: the asset is trashed, its file kept
    assert (ctx.storage.root / _path(ctx, s["flipped"])).is_file()

    # an "untracked" row whose path is now an asset's original never deletes that file
    fine_path = _path(ctx, s["fine"])
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO integrity_report (id, type, path, created_at) VALUES "
                     "('01900000-1111-7111-8111-111111111111', 'untracked_file', ?, '')", (fine_path,))
    assert admin.delete("/api/admin/integrity/report/01900000-1111-7111-8111-111111111111").status_code == 200
    assert (ctx.storage.root / fine_path).is_file()

    # delete-all for missing files trashes the asset
    assert admin.post("/api/jobs", json={"name": "integrity-missing-files-delete-all"}).status_code == 204
    jobs.drain(ctx)
    assert admin.get(f"/api/assets/{s['gone']}").json()["isTrashed"] is True
    assert admin.get("/api/admin/integrity/summary").json() == {"missing_file": 0, "untracked_file": 0,
                                                                "checksum_mismatch": 0}
