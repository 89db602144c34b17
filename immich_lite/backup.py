"""Backup, verify and restore of a data dir (pure functions; cli.py only parses flags and shows progress).

Backup destination layout (incremental, content-addressed)::

    DEST/.backup.lock                         flock: one backup at a time
    DEST/store/<aa>/<sha1>                    every file's bytes, stored once (unchanged files are never re-copied)
    DEST/snapshots/<name>/immich-lite.db      consistent DB copy (online backup API, journal_mode=DELETE)
    DEST/snapshots/<name>/manifest.json       {"db": {...}, "files": [{path, size, sha1, kind, mtime_ns}, ...]}

A snapshot directory is built as `<name>.tmp` and renamed into place only when complete, so a killed backup
leaves the previous snapshots untouched plus a `.tmp` that the next run removes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import uuid
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import apsw

from immich_lite.faults import fault
from immich_lite.repos import marks
from immich_lite.storage import FOLDERS, commit_file, copy_hashing, fsync_dir, move_into_place, sha1_file

DB_NAME = "immich-lite.db"
LOCK_NAME = "immich-lite.lock"  # held by `serve` for its lifetime; `restore` takes it too
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
CHUNK = 1 << 20
DERIVED_TYPES = ("thumbnail", "preview", "fullsize", "encoded_video")
# test-only: seconds to sleep after each copied file, so a test can SIGKILL a backup mid-copy (fault F6)
COPY_DELAY_ENV = "IMMICH_LITE_BACKUP_COPY_DELAY"

Progress = Callable[[str, int], None]  # (event, amount): "total" files, "file" done, "bytes" copied


class BackupError(Exception):
    """A backup, verify or restore that must stop; the message is shown to the operator."""


class Locked(BackupError):
    """The lock is held by someone else (a running server, or another backup/restore)."""


def _noop(event: str, amount: int) -> None:
    return None


# --- locks ---------------------------------------------------------------------------------------------

def acquire_lock(path: Path, what: str) -> TextIO:
    """Take an exclusive flock on `path` without waiting and write our pid; closing the file releases it.

    :raises Locked: when another process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")  # noqa: SIM115 (kept open for the lock's lifetime)
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        raise Locked(f"{what} (lock {path} held by pid {holder})") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


@contextmanager
def hold_lock(path: Path, what: str) -> Iterator[TextIO]:
    """acquire_lock for the duration of a with-block.

    :raises Locked: when another process holds it.
    """
    f = acquire_lock(path, what)
    try:
        yield f
    finally:
        f.close()


def restore_lock_path(data: Path) -> Path:
    """The flock `restore` holds while it rebuilds and swaps data dir `data` (admin commands check it)."""
    return data.parent / f".{data.name}.restore.lock"


def lock_data_dir(data: Path) -> TextIO:
    """Lock a data dir for a server's lifetime (keep the returned file open; closing it unlocks).

    :raises Locked: when a server (or a restore) already uses it.
    """
    return acquire_lock(data / LOCK_NAME, f"{data} is in use by another immich-lite server or restore")


# --- hashing and copying -------------------------------------------------------------------------------

def _copy_hashing(src: Path, dest: Path, progress: Progress) -> tuple[str, int]:
    """Copy src to dest (fsynced), returning (hex sha1, size) of the bytes actually copied."""
    digest, size = copy_hashing(src, dest, lambda n: progress("bytes", n), CHUNK)
    return digest.hex(), size


def _store_path(store: Path, sha1: str) -> Path:
    return store / sha1[:2] / sha1


def _integrity(conn: apsw.Connection) -> list[str]:
    rows = [next(iter(r.values())) if isinstance(r, dict) else r[0] for r in conn.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else [str(r) for r in rows]


# --- backup --------------------------------------------------------------------------------------------

@dataclass
class BackupResult:
    name: str
    path: Path
    files: int = 0
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    vanished: list[str] = field(default_factory=list)   # referenced by the snapshot, gone before we copied it
    mismatched: list[str] = field(default_factory=list)  # original whose bytes differ from the recorded SHA-1


def snapshot_db(src_db: Path, dest: Path) -> None:
    """Consistent copy of a live WAL database via the online backup API, checked, fsynced and renamed to dest.

    :raises BackupError: when the copy fails `PRAGMA integrity_check`.
    """
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")  # never shared by two writers
    src = apsw.Connection(str(src_db), flags=apsw.SQLITE_OPEN_READONLY)
    src.setbusytimeout(10_000)
    try:
        out = apsw.Connection(str(tmp))
        try:
            with out.backup("main", src, "main") as b:
                b.step(-1)  # one read transaction on the source: a single point-in-time copy
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal to carry
            problems = _integrity(out)
        finally:
            out.close()
    finally:
        src.close()
    if problems:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"database snapshot failed integrity_check: {'; '.join(problems[:5])}")
    commit_file(tmp, dest)


def referenced_files(db_file: Path, with_derived: bool = False) -> list[dict[str, Any]]:
    """Files a database references, relative to the data dir: originals (with their SHA-1), sidecars, profile
    images, plus derived files when asked. Each: {"path", "kind", "sha1" (or None)}."""
    conn = apsw.Connection(str(db_file), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        out: dict[str, dict[str, Any]] = {}
        for path, checksum, algo in conn.execute(
                "SELECT original_path, checksum, checksum_algorithm FROM asset WHERE library_id IS NULL"):
            sha = checksum.hex() if isinstance(checksum, bytes) and algo == "sha1" and len(checksum) == 20 else None
            out[path] = {"path": path, "kind": "original", "sha1": sha}
        types = ("sidecar", *DERIVED_TYPES) if with_derived else ("sidecar",)
        for path, kind in conn.execute(f"SELECT path, type FROM asset_file WHERE type IN ({marks(types)})", types):
            out.setdefault(path, {"path": path, "kind": kind, "sha1": None})
        for (path,) in conn.execute("SELECT profile_image_path FROM \"user\" WHERE profile_image_path != ''"):
            out.setdefault(path, {"path": path, "kind": "profile", "sha1": None})
        if with_derived:
            for (path,) in conn.execute("SELECT thumbnail_path FROM person WHERE thumbnail_path != ''"):
                out.setdefault(path, {"path": path, "kind": "person_thumbnail", "sha1": None})
    finally:
        conn.close()
    # absolute paths are external-library files (read-only import paths): not ours to back up
    return [f for f in sorted(out.values(), key=lambda f: f["path"]) if not os.path.isabs(f["path"])]


def _previous_manifest(snapshots: Path) -> dict[str, dict[str, Any]]:
    names = sorted(p.name for p in snapshots.iterdir() if p.is_dir() and not p.name.endswith(".tmp")) \
        if snapshots.is_dir() else []
    for name in reversed(names):
        try:
            m = json.loads((snapshots / name / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        return {f["path"]: f for f in m.get("files", [])}
    return {}


def _clean_leftovers(dest: Path) -> None:
    """Remove what a killed backup left: `<name>.tmp` snapshot dirs and half-written store objects."""
    for p in (dest / "snapshots").glob("*.tmp"):
        shutil.rmtree(p, ignore_errors=True)
    for p in [*(dest / "store").glob("*.tmp"), *(dest / "store").glob("*/*.tmp")]:
        p.unlink(missing_ok=True)


def backup(data: Path, dest: Path, *, with_derived: bool = False, progress: Progress = _noop,
           now: datetime | None = None) -> BackupResult:
    """Back up data dir `data` into `dest`: DB snapshot first, then the files it references (incremental).

    :raises Locked: when another backup into `dest` is running.
    :raises BackupError: when there is no database or the snapshot is corrupt.
    """
    db = data / DB_NAME
    if not db.is_file():
        raise BackupError(f"no database at {db}")
    dest.mkdir(parents=True, exist_ok=True)
    with hold_lock(dest / ".backup.lock", f"another backup into {dest} is running"):
        _clean_leftovers(dest)
        snapshots, store = dest / "snapshots", dest / "store"
        snapshots.mkdir(exist_ok=True)
        store.mkdir(exist_ok=True)
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%f")
        name = f"backup-{stamp}"
        work = snapshots / f"{name}.tmp"
        work.mkdir()
        snapshot_db(db, work / DB_NAME)  # the database first: files newer than it are merely untracked
        previous = _previous_manifest(snapshots)
        wanted = referenced_files(work / DB_NAME, with_derived)
        result = BackupResult(name=name, path=snapshots / name)
        progress("total", len(wanted))
        delay = float(os.environ.get(COPY_DELAY_ENV) or 0)
        entries = []
        for f in wanted:
            src = data / f["path"]
            try:
                st = src.stat()
            except FileNotFoundError:
                result.vanished.append(f["path"])
                progress("file", 1)
                continue
            prev = previous.get(f["path"])
            expected = f["sha1"]
            if prev and prev["size"] == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns \
                    and (expected is None or prev["sha1"] == expected) \
                    and _store_path(store, prev["sha1"]).is_file():
                sha, size = prev["sha1"], prev["size"]  # unchanged since the last backup: nothing to read
                result.skipped += 1
            elif expected and (obj := _store_path(store, expected)).is_file() and obj.stat().st_size == st.st_size:
                sha, size = expected, st.st_size  # same bytes already stored (e.g. a previous backup's copy)
                result.skipped += 1
            else:
                tmp = store / "incoming.tmp"
                sha, size = _copy_hashing(src, tmp, progress)
                obj = _store_path(store, sha)
                move_into_place(tmp, obj)
                fsync_dir(obj.parent)
                result.copied += 1
                result.bytes_copied += size
                if delay:
                    time.sleep(delay)
            if expected and sha != expected:
                result.mismatched.append(f["path"])
            entries.append({"path": f["path"], "kind": f["kind"], "size": size, "sha1": sha,
                            "mtime_ns": st.st_mtime_ns})
            progress("file", 1)
        result.files = len(entries)
        manifest = {"version": MANIFEST_VERSION, "name": name, "created_at": stamp, "source": str(data),
                    "with_derived": with_derived,
                    "db": {"path": DB_NAME, "size": (work / DB_NAME).stat().st_size,
                           "sha1": sha1_file(work / DB_NAME).hex()},
                    "files": entries}
        with open(work / MANIFEST, "w") as mf:
            json.dump(manifest, mf, indent=0)
            mf.flush()
            os.fsync(mf.fileno())
        fsync_dir(work)
        os.rename(work, result.path)  # the snapshot exists only once it is complete
        fsync_dir(snapshots)
        return result


# --- verify a backup -----------------------------------------------------------------------------------

def resolve_snapshot(src: Path) -> tuple[Path, Path]:
    """(snapshot dir, store dir) for SRC: a snapshot dir, or a backup destination (its newest snapshot).

    :raises BackupError: when SRC holds no complete snapshot.
    """
    src = src.expanduser().resolve()
    if (src / MANIFEST).is_file():
        return src, src.parent.parent / "store"
    snaps = src / "snapshots"
    names = sorted(p.name for p in snaps.iterdir() if (p / MANIFEST).is_file() and not p.name.endswith(".tmp")) \
        if snaps.is_dir() else []
    if not names:
        raise BackupError(f"no complete backup found in {src}")
    return snaps / names[-1], src / "store"


def check_backup(snapshot: Path, store: Path, progress: Progress = _noop) -> tuple[dict[str, Any], list[str]]:
    """Read every byte of a snapshot: the DB copy's SHA-1 and integrity_check, each file's size and SHA-1.

    Returns (manifest, problems); problems name the bad file.
    """
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return {}, [f"{snapshot / MANIFEST}: unreadable manifest ({e})"]
    problems: list[str] = []
    db = snapshot / manifest["db"]["path"]
    progress("total", len(manifest["files"]) + 1)
    if not db.is_file():
        problems.append(f"{db}: database copy missing")
    elif sha1_file(db).hex() != manifest["db"]["sha1"]:
        problems.append(f"{db}: database copy does not match its SHA-1 in the manifest (corrupted)")
    else:
        conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            bad = _integrity(conn)
        except apsw.Error as e:
            bad = [str(e)]
        finally:
            conn.close()
        if bad:
            problems.append(f"{db}: integrity_check failed: {'; '.join(bad[:3])}")
    progress("file", 1)
    for f in manifest["files"]:
        obj = _store_path(store, f["sha1"])
        if not obj.is_file():
            problems.append(f"{f['path']}: missing from the backup store ({obj})")
        elif obj.stat().st_size != f["size"]:
            problems.append(f"{f['path']}: wrong size in the backup store ({obj})")
        elif sha1_file(obj).hex() != f["sha1"]:
            problems.append(f"{f['path']}: corrupted in the backup store, SHA-1 mismatch ({obj})")
        progress("file", 1)
    return manifest, problems


# --- restore -------------------------------------------------------------------------------------------

RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when the platform lacks it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_in(new: Path, target: Path) -> Path | None:
    """Put directory `new` at `target` atomically; returns where the old target now is (None if none).

    The old dir's -wal/-shm travel with it, so the new DB is never paired with them.
    """
    if not target.exists():
        os.rename(new, target)
        fsync_dir(target.parent)
        return None
    if _exchange(new, target):
        fsync_dir(target.parent)
        return new  # `new` now holds the old data
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)  # revert
        raise
    fsync_dir(target.parent)
    return aside


@dataclass
class RestoreResult:
    snapshot: Path
    files: int
    old: Path | None  # where the previous data dir was kept (None when removed or there was none)


def restore(src: Path, data: Path, *, keep_old: bool = True, progress: Progress = _noop,
            verify_progress: Progress = _noop) -> RestoreResult:
    """Restore a backup over data dir `data`: verify, build a new dir beside it, swap it in, drop the old.

    :raises Locked: when a server (or another restore) uses `data`.
    :raises BackupError: when the backup is corrupt (nothing is touched).
    """
    snapshot, store = resolve_snapshot(src)
    data = data.expanduser().resolve()
    data.parent.mkdir(parents=True, exist_ok=True)
    with hold_lock(restore_lock_path(data), f"another restore into {data} is running"):
        lock = acquire_lock(data / LOCK_NAME, f"refusing to restore: {data} is in use by a running immich-lite "
                            "server; stop it first") if data.exists() else None
        try:
            manifest, problems = check_backup(snapshot, store, verify_progress)
            if problems:
                raise BackupError("refusing to restore a corrupted backup:\n  " + "\n  ".join(problems))
            for p in data.parent.glob(f".{data.name}.restore-*.tmp"):  # a killed restore's half-built dir
                shutil.rmtree(p, ignore_errors=True)
            new = data.parent / f".{data.name}.restore-{os.getpid()}.tmp"
            new.mkdir()
            try:
                for name in FOLDERS:
                    (new / name).mkdir(exist_ok=True)
                shutil.copyfile(snapshot / manifest["db"]["path"], new / DB_NAME)
                with open(new / DB_NAME, "rb") as f:
                    os.fsync(f.fileno())
                progress("total", len(manifest["files"]))
                for f in manifest["files"]:
                    dest = new / f["path"]
                    if new.resolve() not in dest.resolve().parents:
                        raise BackupError(f"{f['path']}: path escapes the data dir")
                    sha, _ = _copy_hashing(_store_path(store, f["sha1"]), dest, progress)
                    if sha != f["sha1"]:
                        raise BackupError(f"{f['path']}: changed while restoring (SHA-1 mismatch)")
                    progress("file", 1)
                if data.exists() and (data / "backups").is_dir():  # keep the admin API's DB snapshots
                    shutil.rmtree(new / "backups")
                    shutil.copytree(data / "backups", new / "backups")
                for d in sorted({p for p in new.rglob("*") if p.is_dir()}, reverse=True):
                    fsync_dir(d)
                fsync_dir(new)
                fault("restore.mid_swap")
                old = swap_in(new, data)
            except BaseException:
                shutil.rmtree(new, ignore_errors=True)
                raise
        finally:
            if lock is not None:
                lock.close()
        if old is not None and not keep_old:
            shutil.rmtree(old, ignore_errors=True)
            old = None
        elif old is not None:
            kept = data.with_name(f"{data.name}.pre-restore-{time.strftime('%Y%m%dT%H%M%S')}")
            os.rename(old, kept)
            old = kept
        return RestoreResult(snapshot=snapshot, files=len(manifest["files"]), old=old)


# --- verify a data dir ---------------------------------------------------------------------------------

@dataclass
class VerifyResult:
    integrity: list[str] = field(default_factory=list)
    assets: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    thumbnails_requeued: int = 0
    search_index: list[str] = field(default_factory=list)  # where the search index disagrees with the DB
    search_pending: int = 0                                # assets with changes the index has yet to take in
    search_rebuild: bool = False                           # a rebuild was queued (index missing or disagreeing)

    @property
    def ok(self) -> bool:
        return not (self.integrity or self.missing or self.mismatched or self.orphans or self.search_index)

    def summary(self) -> str:
        state = "OK" if self.ok else "PROBLEMS"
        index = "DISAGREES" if self.search_index else "rebuild-queued" if self.search_rebuild else "ok"
        return (f"verify: {state} integrity={'ok' if not self.integrity else 'FAILED'} assets={self.assets} "
                f"missing={len(self.missing)} checksum_mismatch={len(self.mismatched)} "
                f"orphans={len(self.orphans)} thumbnails_requeued={self.thumbnails_requeued} "
                f"search_index={index} search_pending={self.search_pending}")


def requeue_missing_thumbnails(ctx: Any) -> int:
    """Queue AssetGenerateThumbnails, in one write transaction, for each live asset lacking a thumbnail/preview."""
    from immich_lite import jobs  # noqa: PLC0415
    from immich_lite.services import media  # noqa: F401,PLC0415 (registers the thumbnail job)

    conn = ctx.db.reader()
    rows = list(conn.execute(
        "SELECT a.id, (SELECT group_concat(f.path, char(10)) FROM asset_file f WHERE f.asset_id = a.id "
        "AND f.type IN ('thumbnail', 'preview') AND f.is_edited = 0) AS paths FROM asset a "
        "WHERE a.status != 'deleted' AND a.deleted_at IS NULL"))
    todo = []
    for r in rows:
        paths = (r["paths"] or "").split("\n") if r["paths"] else []
        if len(paths) < 2 or not all(ctx.storage.absolute(p).is_file() for p in paths):
            todo.append(r["id"])
    if todo:
        with ctx.db.write() as w:
            for aid in todo:
                jobs.enqueue(w, jobs.JobName.ASSET_GENERATE_THUMBNAILS, {"id": aid},
                             dedupe_key=f"thumbnails:{aid}")
    return len(todo)


def verify(ctx: Any, *, checksums: bool = True, progress: Progress = _noop) -> VerifyResult:
    """fsck a data dir: integrity_check, each asset's original present with its SHA-1, orphans under upload/,
    missing thumbnails requeued, the search index compared with the DB (and rebuilt by a queued job if it
    disagrees)."""
    res = VerifyResult()
    root: Path = ctx.storage.root
    # walk the files before reading rows: an upload commits its file before its row, never after
    on_disk = {str(p.relative_to(root)) for p in (root / "upload").rglob("*") if p.is_file()}
    conn = ctx.db.reader()
    res.integrity = _integrity(conn)
    with ctx.db.read() as c:
        assets = list(c.execute("SELECT id, original_path, checksum, checksum_algorithm FROM asset"))
        referenced = {r["path"] for r in c.execute("SELECT path FROM asset_file")}
        referenced |= {r["p"] for r in c.execute("SELECT profile_image_path AS p FROM \"user\"")}
    res.assets = len(assets)
    progress("total", len(assets))
    for a in assets:
        referenced.add(a["original_path"])
        path = ctx.storage.absolute(a["original_path"])
        if not path.is_file():
            res.missing.append(f"{a['id']}: {a['original_path']}")
        elif checksums and a["checksum_algorithm"] == "sha1" and sha1_file(path) != bytes(a["checksum"]):
            res.mismatched.append(f"{a['id']}: {a['original_path']}")
        progress("file", 1)
    res.orphans = sorted(on_disk - referenced)
    res.thumbnails_requeued = requeue_missing_thumbnails(ctx)
    from immich_lite.services import search_index  # noqa: PLC0415

    agreement = search_index.check(ctx)
    res.search_index, res.search_pending = agreement.problems, agreement.pending
    if agreement.problems or agreement.missing:
        search_index.queue_rebuild(ctx)  # derived data: the server rebuilds it from the DB
        res.search_rebuild = True
    return res


# --- database snapshots in <data>/backups (the Database Backups (admin) API and the DatabaseBackup job) ----

DB_BACKUP_RE = re.compile(r"^(immich-db-backup|uploaded)-[A-Za-z0-9_\-.]+\.db$")


def db_backup_path(ctx: Any, filename: str) -> Path:
    """The file for a backup name; only names we create pass, so no path can leave <data>/backups.

    :raises ValueError: for any other name.
    """
    if not DB_BACKUP_RE.match(filename) or ".." in filename:
        raise ValueError(f"Invalid backup name: {filename}")
    return Path(ctx.storage.root) / "backups" / filename


def list_db_backups(ctx: Any) -> list[dict[str, Any]]:
    """Database snapshots in <data>/backups, newest first: {filename, filesize}."""
    folder = Path(ctx.storage.root) / "backups"
    out = [{"filename": p.name, "filesize": p.stat().st_size} for p in folder.iterdir()
           if p.is_file() and DB_BACKUP_RE.match(p.name)] if folder.is_dir() else []
    return sorted(out, key=lambda b: b["filename"], reverse=True)


def create_db_backup(ctx: Any, keep_last: int | None = None, now: datetime | None = None) -> Path:
    """Snapshot the live database into <data>/backups (online backup API) and prune to `keep_last` snapshots.

    :raises BackupError: when the snapshot fails integrity_check.
    """
    from immich_lite import __version__  # noqa: PLC0415

    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    dest = db_backup_path(ctx, f"immich-db-backup-{stamp}-v{__version__}.db")
    snapshot_db(ctx.storage.db_path, dest)
    if keep_last is not None and keep_last > 0:
        ours = [b for b in list_db_backups(ctx) if b["filename"].startswith("immich-db-backup-")]
        for b in ours[keep_last:]:
            db_backup_path(ctx, b["filename"]).unlink(missing_ok=True)
    return dest


def check_sqlite_file(path: Path) -> list[str]:
    """Problems with a file claimed to be a database backup ([] when it is a sound immich-lite database)."""
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    except apsw.Error as e:
        return [str(e)]
    try:
        problems = _integrity(conn)
        if not problems and not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'asset'").fetchall():
            problems = ["not an immich-lite database (no asset table)"]
        return problems
    except apsw.Error as e:
        return [str(e)]
    finally:
        conn.close()
