"""Integrity reports (upstream integrity.service.ts): missing files, untracked files, checksum mismatches.

The IntegrityCheck jobs scan and *replace* the stored report of their type (`refreshOnly` only drops rows that
no longer hold). The checks are the ones `immich-lite verify` runs (backup.verify: originals present with their
SHA-1, files under the data dir that no row references), reusing its hashing; they are not called through
`verify` because that also runs a full `PRAGMA integrity_check` and requeues thumbnails, which a scheduled job must
not do. As in verify, files are listed *before* rows are read: an upload writes its file before its row, so a file
seen first and its row read later is never reported as untracked.

Deleting a report item does what upstream does: trash the asset (missing/mismatching original), drop the
asset_file row (missing derived file), or unlink the file (untracked) — the latter only under upload/, library/,
thumbs/ or encoded-video/ of the data dir and only while no row references the path.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from immich_lite import ids, jobs
from immich_lite.storage import parts_inside, sha1_file
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, NotFound
from immich_lite.repos import chunked, marks
from immich_lite.jobs import JobName, JobStatus, QueueName

UNTRACKED, MISSING, CHECKSUM = "untracked_file", "missing_file", "checksum_mismatch"
TYPES = (UNTRACKED, MISSING, CHECKSUM)
SCANNED_FOLDERS = ("upload", "library", "thumbs", "encoded-video")  # upstream: upload, library, encoded-video, thumbs
DELETABLE_FOLDERS = SCANNED_FOLDERS
DEFAULT_LIMIT = 500  # spec IntegrityGetReportDto.limit default


# --- reads -------------------------------------------------------------------------------------------------

def summary(ctx: Ctx) -> dict[str, int]:
    out = dict.fromkeys(TYPES, 0)
    with ctx.db.read() as c:
        for r in c.execute("SELECT type, count(*) AS n FROM integrity_report GROUP BY type"):
            if r["type"] in out:
                out[r["type"]] = r["n"]
    return out


def report(ctx: Ctx, type_: str, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """One page, newest-id first as upstream (id <= cursor); nextCursor is the first id of the next page."""
    limit = limit or DEFAULT_LIMIT
    sql = "SELECT id, type, path FROM integrity_report WHERE type = ?"
    args: list[Any] = [type_]
    if cursor is not None:
        sql += " AND id <= ?"
        args.append(cursor)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit + 1)
    with ctx.db.read() as c:
        rows = [{"id": r["id"], "type": r["type"], "path": r["path"]} for r in c.execute(sql, args)]
    out: dict[str, Any] = {"items": rows[:limit]}
    if len(rows) > limit:
        out["nextCursor"] = rows[limit]["id"]
    return out


def _csv_field(value: str | None) -> str:
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


def csv_lines(ctx: Ctx, type_: str) -> Iterator[str]:
    """upstream's columns: id,type,assetId,fileAssetId,path (path always quoted; NULL ids empty)."""
    with ctx.db.read() as c:
        rows = list(c.execute("SELECT id, type, asset_id, file_asset_id, path FROM integrity_report "
                              "WHERE type = ? ORDER BY id DESC", (type_,)))
    yield "id,type,assetId,fileAssetId,path\n"
    for r in rows:
        yield f"{r['id']},{r['type']},{r['asset_id'] or ''},{r['file_asset_id'] or ''},{_csv_field(r['path'])}\n"


def _get(ctx: Ctx, report_id: str) -> dict[str, Any]:
    with ctx.db.read() as c:
        row = c.execute("SELECT * FROM integrity_report WHERE id = ?", (report_id,)).fetchone()
    if row is None:
        raise NotFound("Integrity report not found")
    return dict(row)


def _inside(root: Path, path: Path, folders: tuple[str, ...] | None = None) -> bool:
    parts = parts_inside(root, path)
    return bool(parts) and (folders is None or parts[0] in folders)


def report_file(ctx: Ctx, report_id: str) -> Path:
    """The flagged file, if it exists inside the data dir."""
    row = _get(ctx, report_id)
    path = ctx.storage.absolute(row["path"])
    if not _inside(ctx.storage.root, path) or not path.is_file():
        raise NotFound("File not found")
    return path


# --- delete one item ---------------------------------------------------------------------------------------

def _referenced(conn: Any, path: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM asset WHERE original_path = ? UNION ALL SELECT 1 FROM asset_file WHERE path = ? "
        "UNION ALL SELECT 1 FROM person WHERE thumbnail_path = ? "
        "UNION ALL SELECT 1 FROM \"user\" WHERE profile_image_path = ? LIMIT 1",
        (path, path, path, path)).fetchone() is not None


def _trash(ctx: Ctx, asset_ids: list[str]) -> None:
    from immich_lite.repos import asset as asset_repo  # noqa: PLC0415
    from immich_lite.services import asset as asset_service  # noqa: PLC0415

    if not asset_ids:
        return
    owners: dict[str, list[str]] = {}
    with ctx.db.write() as conn:
        now = ids.now_iso()
        for chunk in chunked(asset_ids):
            live = []
            for r in conn.execute(f"SELECT id, owner_id FROM asset WHERE id IN ({marks(chunk)}) AND status = 'active'",
                                  chunk):
                owners.setdefault(r["owner_id"], []).append(r["id"])
                live.append(r["id"])
            asset_repo.update_many(conn, live, deleted_at=now, status="trashed")
            conn.execute(f"DELETE FROM integrity_report WHERE asset_id IN ({marks(chunk)})", chunk)
    for owner, aids in owners.items():
        asset_service._emit(ctx, "on_asset_trash", owner, aids)  # noqa: SLF001


def _delete_rows(ctx: Ctx, rows: list[dict[str, Any]]) -> None:
    """upstream handleDeleteIntegrityReports: trash assets, drop asset_file rows, unlink untracked files."""
    _trash(ctx, [r["asset_id"] for r in rows if r["asset_id"]])
    files = [r["file_asset_id"] for r in rows if r["file_asset_id"] and not r["asset_id"]]
    if files:
        with ctx.db.write() as conn:
            for fid in files:
                conn.execute("DELETE FROM asset_file WHERE id = ?", (fid,))  # the report goes by cascade
    for r in rows:
        if r["asset_id"] or r["file_asset_id"]:
            continue
        with ctx.db.write() as conn:  # the check and the unlink under the writer lock: no row can appear between
            path = ctx.storage.absolute(r["path"])
            if (r["type"] == UNTRACKED and not _referenced(conn, r["path"])
                    and _inside(ctx.storage.root, path, DELETABLE_FOLDERS) and not path.is_symlink()):
                path.unlink(missing_ok=True)
            conn.execute("DELETE FROM integrity_report WHERE id = ?", (r["id"],))


def delete_item(ctx: Ctx, report_id: str) -> None:
    _delete_rows(ctx, [_get(ctx, report_id)])


# --- scans -------------------------------------------------------------------------------------------------

def _replace(ctx: Ctx, type_: str, items: list[dict[str, Any]]) -> None:
    now = ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("DELETE FROM integrity_report WHERE type = ?", (type_,))
        for it in items:
            # rows may have gone since the scan read them: keep the report, drop the dangling reference
            aid = it.get("asset_id")
            if aid and not conn.execute("SELECT 1 FROM asset WHERE id = ?", (aid,)).fetchone():
                continue
            fid = it.get("file_asset_id")
            if fid and not conn.execute("SELECT 1 FROM asset_file WHERE id = ?", (fid,)).fetchone():
                continue
            conn.execute("INSERT OR IGNORE INTO integrity_report (id, type, path, asset_id, file_asset_id, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (ids.uuid7(), type_, it["path"], aid, fid, now))


def _walk(root: Path) -> set[str]:
    out: set[str] = set()
    for folder in SCANNED_FOLDERS:
        base = root / folder
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                if not f.startswith("."):
                    out.add(str((Path(dirpath) / f).relative_to(root)))
    return out


def _referenced_paths(ctx: Ctx) -> set[str]:
    with ctx.db.read() as c:
        refs = {r["p"] for r in c.execute("SELECT original_path AS p FROM asset")}
        refs |= {r["p"] for r in c.execute("SELECT path AS p FROM asset_file")}
        refs |= {r["p"] for r in c.execute("SELECT thumbnail_path AS p FROM person WHERE thumbnail_path != ''")}
        refs |= {r["p"] for r in c.execute("SELECT profile_image_path AS p FROM \"user\" WHERE profile_image_path != ''")}
    return refs


def _rows(ctx: Ctx, type_: str) -> list[dict[str, Any]]:
    with ctx.db.read() as c:
        return [dict(r) for r in c.execute("SELECT * FROM integrity_report WHERE type = ?", (type_,))]


def _drop(ctx: Ctx, report_ids: list[str]) -> None:
    if report_ids:
        with ctx.db.write() as conn:
            for rid in report_ids:
                conn.execute("DELETE FROM integrity_report WHERE id = ?", (rid,))


def scan_untracked(ctx: Ctx, refresh_only: bool = False) -> int:
    root = ctx.storage.root
    if refresh_only:
        _drop(ctx, [r["id"] for r in _rows(ctx, UNTRACKED) if not ctx.storage.absolute(r["path"]).is_file()])
        return len(_rows(ctx, UNTRACKED))
    on_disk = _walk(root)  # files first, rows second (see module doc)
    found = sorted(on_disk - _referenced_paths(ctx))
    _replace(ctx, UNTRACKED, [{"path": p} for p in found])
    return len(found)


def _missing_candidates(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as c:
        out = [{"path": r["original_path"], "asset_id": r["id"]} for r in c.execute(
            "SELECT id, original_path FROM asset WHERE status != 'deleted'")]
        out += [{"path": r["path"], "file_asset_id": r["id"]} for r in c.execute(
            "SELECT f.id, f.path FROM asset_file f JOIN asset a ON a.id = f.asset_id WHERE a.status != 'deleted'")]
    return out


def scan_missing(ctx: Ctx, refresh_only: bool = False) -> int:
    if refresh_only:
        _drop(ctx, [r["id"] for r in _rows(ctx, MISSING) if ctx.storage.absolute(r["path"]).exists()])
        return len(_rows(ctx, MISSING))
    found = [it for it in _missing_candidates(ctx) if not ctx.storage.absolute(it["path"]).exists()]
    _replace(ctx, MISSING, found)
    return len(found)


def _mismatch(ctx: Ctx, path: str, checksum: Any, algo: str) -> bool:
    """True when the file exists and its SHA-1 differs from the recorded one (missing files are not ours)."""
    if algo != "sha1" or not isinstance(checksum, bytes) or len(checksum) != 20:
        return False
    p = ctx.storage.absolute(path)
    try:
        return sha1_file(p) != checksum
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: as upstream, reported


def scan_checksums(ctx: Ctx, refresh_only: bool = False) -> int:
    with ctx.db.read() as c:
        assets = {r["id"]: dict(r) for r in c.execute(
            "SELECT id, original_path, checksum, checksum_algorithm FROM asset WHERE status != 'deleted'")}
    if refresh_only:
        stale = []
        for r in _rows(ctx, CHECKSUM):
            a = assets.get(r["asset_id"])
            if a is None or not _mismatch(ctx, a["original_path"], a["checksum"], a["checksum_algorithm"]):
                stale.append(r["id"])
        _drop(ctx, stale)
        return len(_rows(ctx, CHECKSUM))
    found = [{"path": a["original_path"], "asset_id": a["id"]} for a in assets.values()
             if _mismatch(ctx, a["original_path"], a["checksum"], a["checksum_algorithm"])]
    _replace(ctx, CHECKSUM, found)
    return len(found)


def delete_all(ctx: Ctx, type_: str | None = None) -> int:
    """upstream IntegrityDeleteReportType: act on every item of a type (all types when None)."""
    types = [type_] if type_ else list(TYPES)
    rows = [r for t in types for r in _rows(ctx, t)]
    _delete_rows(ctx, rows)
    return len(rows)


# --- jobs (queue integrityCheck; POST /jobs integrity-* manual names map onto these) -------------------------

@jobs.register(JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, QueueName.INTEGRITY_CHECK)
def job_untracked(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    scan_untracked(ctx, bool(data.get("refreshOnly")))
    return JobStatus.SUCCESS


@jobs.register(JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL, QueueName.INTEGRITY_CHECK)
def job_missing(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    scan_missing(ctx, bool(data.get("refreshOnly")))
    return JobStatus.SUCCESS


@jobs.register(JobName.INTEGRITY_CHECKSUM_FILES, QueueName.INTEGRITY_CHECK)
def job_checksums(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    scan_checksums(ctx, bool(data.get("refreshOnly")))
    return JobStatus.SUCCESS


@jobs.register(JobName.INTEGRITY_DELETE_REPORT_TYPE, QueueName.INTEGRITY_CHECK)
def job_delete_type(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    type_ = data.get("type")
    if type_ is not None and type_ not in TYPES:
        raise BadRequest(f"Invalid integrity report type: {type_}")
    delete_all(ctx, type_)
    return JobStatus.SUCCESS
