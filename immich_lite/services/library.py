"""External libraries (upstream LibraryService): admin CRUD, validation, and the scan job.

A scan walks the library's import paths and creates one *external* asset per supported file: the original is
never copied (original_path is the absolute external path), the checksum is upstream's 'sha1-path'
(sha1 of "path:" + path) and library_id is set, so the per-owner checksum index does not apply. Files that
disappeared are marked offline (and trashed, as upstream); files that reappear come back online.
Removing a library or its assets never touches the external originals.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.media import mime
from immich_lite.repos import asset as asset_repo
from immich_lite.repos import chunked, marks

log = logging.getLogger("immich_lite.library")

DEFAULT_EXCLUSIONS = ["**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**", "**/.stversions/**",
                      "**/.stfolder/**"]
SCAN_JOB = JobName.LIBRARY_SYNC_FILES_QUEUE_ALL
DELETE_JOB = JobName.LIBRARY_DELETE
BATCH = 500


# --- glob patterns (picomatch-like: ** crosses folders, * and ? do not; dotfiles match) -------------------

@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def is_excluded(path: str, patterns: list[str]) -> bool:
    return any(glob_regex(p).match(path) for p in patterns)


def sha1_path(path: str) -> bytes:
    return hashlib.sha1(f"path:{path}".encode()).digest()  # noqa: S324 (upstream's identity checksum)


# --- DTOs -----------------------------------------------------------------------------------------------

def _map(row: dict[str, Any], asset_count: int = 0) -> dict[str, Any]:
    return {"id": row["id"], "ownerId": row["owner_id"], "name": row["name"], "createdAt": row["created_at"],
            "updatedAt": row["updated_at"], "refreshedAt": row["refreshed_at"], "assetCount": asset_count,
            "importPaths": json.loads(row["import_paths"]), "exclusionPatterns": json.loads(row["exclusion_patterns"])}


def _get(conn: Any, library_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM library WHERE id = ? AND deleted_at IS NULL", (library_id,)).fetchone()


def _find_or_fail(conn: Any, library_id: str) -> dict[str, Any]:
    row = _get(conn, library_id)
    if row is None:
        raise BadRequest("Library not found")
    return row


def _count(conn: Any, library_id: str) -> int:
    return int(conn.execute("SELECT count(*) AS n FROM asset WHERE library_id = ?", (library_id,)).fetchone()["n"])


def get_all(ctx: Ctx) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    rows = conn.execute("SELECT * FROM library WHERE deleted_at IS NULL ORDER BY created_at, id")
    return [_map(r, _count(conn, r["id"])) for r in list(rows)]


def get(ctx: Ctx, library_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    return _map(_find_or_fail(conn, library_id), _count(conn, library_id))


def create(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    now = ids.now_iso()
    lib_id = ids.new_id()
    with ctx.db.write() as conn:
        owner = conn.execute('SELECT id FROM "user" WHERE id = ? AND deleted_at IS NULL', (dto["ownerId"],)).fetchone()
        if owner is None:
            raise BadRequest("User not found")
        conn.execute(
            "INSERT INTO library (id, name, owner_id, import_paths, exclusion_patterns, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (lib_id, dto.get("name") or "New External Library", dto["ownerId"],
             json.dumps(dto.get("importPaths") or []),
             json.dumps(dto["exclusionPatterns"] if dto.get("exclusionPatterns") is not None
                        else DEFAULT_EXCLUSIONS), now, now))
        row = _get(conn, lib_id)
    return _map(row)  # type: ignore[arg-type]


def validate_import_path(ctx: Ctx, import_path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"importPath": import_path, "isValid": False}
    root = str(ctx.storage.root.resolve())
    if os.path.isabs(import_path) and (os.path.realpath(import_path) + "/").startswith(root + "/"):
        out["message"] = "Cannot use media upload folder for external libraries"
        return out
    if not os.path.isabs(import_path):
        out["message"] = f"Import path must be absolute, try {os.path.abspath(import_path)}"
        return out
    try:
        if not os.path.isdir(import_path):
            os.stat(import_path)  # raises ENOENT for a missing path
            out["message"] = "Not a directory"
            return out
    except FileNotFoundError:
        out["message"] = "Path does not exist (ENOENT)"
        return out
    except OSError as e:
        out["message"] = str(e)
        return out
    if not os.access(import_path, os.R_OK):
        out["message"] = "Lacking read permission for folder"
        return out
    out["isValid"] = True
    return out


def validate(ctx: Ctx, library_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    return {"importPaths": [validate_import_path(ctx, p) for p in dto.get("importPaths") or []]}


def update(ctx: Ctx, library_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    _find_or_fail(ctx.db.reader(), library_id)
    if dto.get("importPaths"):
        for v in validate(ctx, library_id, {"importPaths": dto["importPaths"]})["importPaths"]:
            if not v["isValid"]:
                raise BadRequest(f"Invalid import path: {v['message']}")
    values: dict[str, Any] = {}
    if "name" in dto:
        values["name"] = dto["name"]
    if "importPaths" in dto:
        values["import_paths"] = json.dumps(dto["importPaths"])
    if "exclusionPatterns" in dto:
        values["exclusion_patterns"] = json.dumps(dto["exclusionPatterns"])
    values["updated_at"] = ids.now_iso()
    with ctx.db.write() as conn:
        _find_or_fail(conn, library_id)
        conn.execute(f"UPDATE library SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                     [*values.values(), library_id])
        row = _find_or_fail(conn, library_id)
        count = _count(conn, library_id)
    return _map(row, count)


def delete(ctx: Ctx, library_id: str) -> None:
    with ctx.db.write() as conn:
        _find_or_fail(conn, library_id)
        now = ids.now_iso()
        conn.execute("UPDATE library SET deleted_at = ?, updated_at = ? WHERE id = ?", (now, now, library_id))
        enqueue(conn, DELETE_JOB, {"id": library_id})


def statistics(ctx: Ctx, library_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    if _get(conn, library_id) is None:
        raise BadRequest(f"Library {library_id} not found")
    r = conn.execute(
        "SELECT count(*) FILTER (WHERE a.type = 'IMAGE' AND a.visibility != 'hidden') AS photos, "
        "count(*) FILTER (WHERE a.type = 'VIDEO' AND a.visibility != 'hidden') AS videos, "
        "coalesce(sum(e.file_size_in_byte), 0) AS usage "
        "FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id WHERE a.library_id = ?", (library_id,)).fetchone()
    photos, videos = int(r["photos"]), int(r["videos"])
    return {"photos": photos, "videos": videos, "total": photos + videos, "usage": int(r["usage"])}


def queue_scan(ctx: Ctx, library_id: str) -> None:
    with ctx.db.write() as conn:
        _find_or_fail(conn, library_id)
        enqueue(conn, SCAN_JOB, {"id": library_id}, dedupe_key=f"library-scan:{library_id}")


# --- jobs -----------------------------------------------------------------------------------------------

@register(JobName.LIBRARY_SCAN_QUEUE_ALL, QueueName.LIBRARY, max_attempts=1)
def queue_scan_all(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Upstream handleQueueScanAll (library.scan cron, queue "start"): one scan per non-deleted library."""
    with ctx.db.write() as conn:
        for row in conn.execute("SELECT id FROM library WHERE deleted_at IS NULL ORDER BY created_at, id").fetchall():
            enqueue(conn, SCAN_JOB, {"id": row["id"]}, dedupe_key=f"library-scan:{row['id']}")
    return JobStatus.SUCCESS


def walk(import_paths: list[str], exclusions: list[str]) -> Iterator[str]:
    """Every supported media file under the import paths (normalized absolute paths), exclusions honoured."""
    seen: set[str] = set()
    for root in import_paths:
        if not os.path.isabs(root) or not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            dirnames[:] = [d for d in dirnames if not is_excluded(os.path.join(dirpath, d) + "/", exclusions)]
            for name in sorted(filenames):
                full = os.path.normpath(os.path.join(dirpath, name))
                if full in seen or mime.asset_type(name) is None or is_excluded(full, exclusions):
                    continue
                seen.add(full)
                yield full


def _mtime_iso(st: os.stat_result) -> str:
    return ids.iso(datetime.fromtimestamp(st.st_mtime, tz=timezone.utc))  # type: ignore[return-value]


@register(SCAN_JOB, QueueName.LIBRARY, max_attempts=1)
def scan(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Walk the import paths: new files become external assets; vanished ones go offline; returning ones online."""
    conn = ctx.db.reader()
    lib = _get(conn, data["id"])
    if lib is None:
        return JobStatus.SKIPPED
    import_paths = json.loads(lib["import_paths"])
    exclusions = json.loads(lib["exclusion_patterns"])
    valid_roots = [p for p in import_paths if validate_import_path(ctx, p)["isValid"]]
    known = {r["original_path"]: r for r in conn.execute(
        "SELECT id, original_path, is_offline, status, file_modified_at FROM asset WHERE library_id = ?",
        (lib["id"],))}
    found: set[str] = set()
    pending: list[tuple[str, os.stat_result]] = []
    created = 0

    def flush() -> None:
        nonlocal created
        if not pending:
            return
        with ctx.db.write() as wconn:
            if _get(wconn, lib["id"]) is None:  # deleted meanwhile
                pending.clear()
                return
            for path, st in pending:
                asset_id = ids.new_id()
                mtime = _mtime_iso(st)
                asset_repo.insert(
                    wconn, id=asset_id, owner_id=lib["owner_id"], library_id=lib["id"],
                    type=mime.asset_type(path), original_path=path, original_file_name=os.path.basename(path),
                    checksum=sha1_path(path), checksum_algorithm="sha1-path", file_created_at=mtime,
                    file_modified_at=mtime, local_date_time=mtime, is_external=1, device_asset_id=os.path.basename(path),
                    device_id="Library Import")
                asset_repo.upsert_exif(wconn, asset_id, file_size_in_byte=st.st_size)
                # upstream queuePostSyncJobs: sidecar discovery, which queues metadata extraction
                enqueue(wconn, JobName.SIDECAR_CHECK, {"id": asset_id, "source": "upload"})
                created += 1
        pending.clear()

    changed: list[str] = []
    for path in walk(valid_roots, exclusions):
        found.add(path)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if path in known:
            row = known[path]
            # upstream checkExistingAsset: a file whose mtime moved is read again (its sidecar looked for first)
            if not row["is_offline"] and row["file_modified_at"] != _mtime_iso(st):
                changed.append(row["id"])
            continue
        pending.append((path, st))
        if len(pending) >= BATCH:
            flush()
    flush()
    for chunk in chunked(changed, BATCH):
        with ctx.db.write() as wconn:
            for asset_id in chunk:
                enqueue(wconn, JobName.SIDECAR_CHECK, {"id": asset_id, "source": "upload"})

    now = ids.now_iso()
    offline = [r["id"] for p, r in known.items() if p not in found and not r["is_offline"]]
    online = [r["id"] for p, r in known.items() if p in found and r["is_offline"]]
    with ctx.db.write() as wconn:
        for chunk in chunked(offline, BATCH):
            wconn.execute(f"UPDATE asset SET is_offline = 1, updated_at = ?, deleted_at = coalesce(deleted_at, ?), "
                          f"status = CASE WHEN status = 'active' THEN 'trashed' ELSE status END "
                          f"WHERE id IN ({marks(chunk)})", [now, now, *chunk])
        for chunk in chunked(online, BATCH):
            wconn.execute(f"UPDATE asset SET is_offline = 0, deleted_at = NULL, status = 'active', updated_at = ? "
                          f"WHERE id IN ({marks(chunk)})", [now, *chunk])
        wconn.execute("UPDATE library SET refreshed_at = ? WHERE id = ?", (now, lib["id"]))
    log.info("library %s scanned: %d new, %d changed, %d offline, %d back online", lib["id"], created, len(changed),
             len(offline), len(online))
    return JobStatus.SUCCESS


def remove_asset_rows(ctx: Ctx, asset_ids: list[str]) -> None:
    """Delete library assets and their derived files; the external originals are never touched."""
    for asset_id in asset_ids:
        with ctx.db.write() as conn:
            a = asset_repo.get(conn, asset_id)
            if a is None:
                continue
            paths = [f["path"] for f in asset_repo.get_files(conn, asset_id)]
            if a["encoded_video_path"]:
                paths.append(a["encoded_video_path"])
            asset_repo.delete(conn, asset_id)
        ctx.storage.remove(paths)  # derived files only, and never outside the data dir
        if ctx.events:
            ctx.events.emit("on_asset_delete", a["owner_id"], asset_id)


@register(DELETE_JOB, QueueName.LIBRARY, max_attempts=3)
def delete_library(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    ids_ = [r["id"] for r in conn.execute("SELECT id FROM asset WHERE library_id = ?", (data["id"],))]
    remove_asset_rows(ctx, ids_)
    with ctx.db.write() as wconn:
        wconn.execute("DELETE FROM library WHERE id = ? AND deleted_at IS NOT NULL", (data["id"],))
    return JobStatus.SUCCESS

