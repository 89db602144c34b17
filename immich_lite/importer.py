"""`immich-lite import`: copy files from local disk into a user's library through the upload pipeline.

Per file: SHA-1 of the source → already imported (same owner + checksum, as an upload duplicate) → skipped;
else copy into tmp/<asset id>.upload (fsync), then in ONE write transaction insert the asset row, its exif row
and the AssetExtractMetadata job (which queues thumbnails after it), rename the file into the upload layout
before COMMIT, and fsync its folder. The file is in place before the row is visible, so a job runner in another
process (a running server) can never see the row without its file; a crash between rename and COMMIT leaves an
orphan original that `immich-lite verify` reports. A re-run skips everything already imported (resumable).

Safe while a server runs: all writes are SQLite IMMEDIATE transactions (the DB serialises writers across
processes) and the server's runner picks up the queued jobs within its poll interval. When no server holds the
data-dir lock, the importer takes it (no server may start meanwhile) and can run the jobs itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.media import mime
from immich_lite.repos import asset as repo
from immich_lite.storage import copy_hashing, fsync_dir, move_into_place, sha1_file

EXTRACT_METADATA = "AssetExtractMetadata"
Progress = Callable[[str, int], None]


class ImportError_(Exception):
    """A usage problem (unknown user, missing path): nothing was imported."""


@dataclass
class ImportResult:
    files: int = 0
    imported: int = 0
    skipped: int = 0
    bytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    albums: int = 0


def _noop(event: str, amount: int) -> None:
    return None


def find_user(ctx: Ctx, email: str) -> dict[str, Any]:
    row = ctx.db.reader().execute('SELECT * FROM "user" WHERE lower(email) = lower(?) AND deleted_at IS NULL',
                                  (email,)).fetchone()
    if row is None:
        raise ImportError_(f"no user with email {email}")
    return row  # type: ignore[no-any-return]


def collect(paths: list[Path]) -> Iterator[Path]:
    """Supported media files under the given files/folders, in a stable order; hidden files skipped."""
    for p in paths:
        if p.is_file():
            if mime.asset_type(p.name) is not None:
                yield p
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith(".") and mime.asset_type(name) is not None:
                    yield Path(dirpath) / name


def _album_for(conn: Any, owner_id: str, name: str, cache: dict[str, str], result: ImportResult) -> str:
    if name in cache:
        return cache[name]
    row = conn.execute("SELECT id FROM album WHERE owner_id = ? AND album_name = ? AND deleted_at IS NULL "
                       "ORDER BY created_at LIMIT 1", (owner_id, name)).fetchone()
    if row is None:
        album_id, now = ids.new_id(), ids.now_iso()
        conn.execute("INSERT INTO album (id, owner_id, album_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                     (album_id, owner_id, name, now, now))
        result.albums += 1
    else:
        album_id = row["id"]
    cache[name] = album_id
    return album_id


def import_file(ctx: Ctx, owner_id: str, src: Path, *, album: str | None = None,
                albums: dict[str, str] | None = None, result: ImportResult) -> str:
    """Import one file; returns 'imported' or 'skipped'. Raises OSError / ValueError on failure."""
    from immich_lite import jobs  # noqa: PLC0415

    checksum = sha1_file(src)
    existing = repo.get_by_checksum(ctx.db.reader(), owner_id, checksum)
    if existing is not None:
        if album:
            with ctx.db.write() as conn:
                _add_to_album(conn, owner_id, album, existing["id"], albums or {}, result)
        return "skipped"
    asset_id = ids.new_id()
    ext = src.suffix.lower()
    tmp = ctx.storage.root / "tmp" / f"{asset_id}.upload"
    dest = ctx.storage.upload_path(owner_id, asset_id, ext)
    try:
        copied, size = copy_hashing(src, tmp)  # fsynced; the hash of the bytes actually written
        if copied != checksum:
            raise ValueError("the file changed while it was being imported")
        if size == 0:
            raise ValueError("file is empty")
        st = src.stat()
        mtime = _iso_mtime(st.st_mtime)
        with ctx.db.write() as conn:
            if repo.get_by_checksum(conn, owner_id, checksum) is not None:  # imported meanwhile (upload/race)
                tmp.unlink(missing_ok=True)
                return "skipped"
            user = conn.execute('SELECT quota_size_in_bytes, quota_usage_in_bytes FROM "user" WHERE id = ?',
                                (owner_id,)).fetchone()
            if user and user["quota_size_in_bytes"] is not None and \
                    user["quota_usage_in_bytes"] + size > user["quota_size_in_bytes"]:
                raise ValueError("Quota has been exceeded!")
            repo.insert(conn, id=asset_id, owner_id=owner_id, type=mime.asset_type(src.name),
                        original_path=ctx.storage.relative(dest), original_file_name=src.name, checksum=checksum,
                        file_created_at=mtime, file_modified_at=mtime, local_date_time=mtime,
                        device_asset_id=f"{src.name}-{st.st_size}", device_id="immich-lite import")
            repo.upsert_exif(conn, asset_id, file_size_in_byte=size)
            repo.add_usage(conn, owner_id, size)
            if album:
                _add_to_album(conn, owner_id, album, asset_id, albums if albums is not None else {}, result)
            jobs.enqueue(conn, jobs.JobName(EXTRACT_METADATA), {"id": asset_id, "source": "upload"})
            # in place before COMMIT: a job runner in another process never sees the row without its file
            move_into_place(tmp, dest)
            try:
                os.utime(dest, (st.st_atime, st.st_mtime))
            except OSError:
                pass
        fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if dest.exists() and repo.get(ctx.db.reader(), asset_id) is None:
            dest.unlink(missing_ok=True)  # renamed but the transaction rolled back
        raise
    result.bytes += size
    return "imported"


def _iso_mtime(ts: float) -> str:
    from datetime import datetime, timezone  # noqa: PLC0415

    return ids.iso(datetime.fromtimestamp(ts, tz=timezone.utc))  # type: ignore[return-value]


def _add_to_album(conn: Any, owner_id: str, name: str, asset_id: str, cache: dict[str, str],
                  result: ImportResult) -> None:
    album_id = _album_for(conn, owner_id, name, cache, result)
    conn.execute("INSERT OR IGNORE INTO album_asset (album_id, asset_id, created_at) VALUES (?, ?, ?)",
                 (album_id, asset_id, ids.now_iso()))


def run_import(ctx: Ctx, email: str, paths: list[Path], *, album_per_folder: bool = False,
               progress: Progress = _noop) -> ImportResult:
    for p in paths:
        if not p.exists():
            raise ImportError_(f"no such file or folder: {p}")
    user = find_user(ctx, email)
    files = list(collect([p.resolve() for p in paths]))
    result = ImportResult(files=len(files))
    progress("total", len(files))
    albums: dict[str, str] = {}
    for src in files:
        album = src.parent.name if album_per_folder else None
        try:
            status = import_file(ctx, user["id"], src, album=album, albums=albums, result=result)
        except (OSError, ValueError) as e:
            result.failed.append((str(src), str(e)))
        else:
            if status == "imported":
                result.imported += 1
            else:
                result.skipped += 1
        progress("file", 1)
    return result


def pending_jobs(ctx: Ctx) -> int:
    """Jobs running or due now on unpaused queues (delayed retries and paused queues are not waited for)."""
    import time  # noqa: PLC0415

    from immich_lite import jobs  # noqa: PLC0415

    conn = ctx.db.reader()
    paused = jobs.paused_queues(conn)
    rows = conn.execute("SELECT queue, count(*) AS n FROM job WHERE status = 'active' OR "
                        "(status = 'waiting' AND run_after <= ?) GROUP BY queue", (time.time(),))
    return sum(int(r["n"]) for r in rows if r["queue"] not in paused)
