"""Data-dir layout (as upstream StorageCore) and atomic file writes."""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable

log = logging.getLogger("immich_lite.storage")
FOLDERS = ("upload", "thumbs", "encoded-video", "profile", "library", "backups", "tmp")


class Storage:
    def __init__(self, root: Path):
        self.root = root
        for name in FOLDERS:
            (root / name).mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        return self.root / "immich-lite.db"

    def tmp_path(self, suffix: str = "") -> Path:
        return self.root / "tmp" / f"{uuid.uuid4().hex}{suffix}.tmp"

    def _sharded(self, folder: str, user_id: str, file_id: str, name: str) -> Path:
        return self.root / folder / user_id / file_id[0:2] / file_id[2:4] / name

    def upload_path(self, user_id: str, asset_id: str, ext: str) -> Path:
        return self._sharded("upload", user_id, asset_id, f"{asset_id}{ext}")

    def thumb_path(self, user_id: str, asset_id: str, kind: str, ext: str, edited: bool = False) -> Path:
        suffix = "_edited" if edited else ""
        return self._sharded("thumbs", user_id, asset_id, f"{asset_id}_{kind}{suffix}.{ext}")

    def encoded_video_path(self, user_id: str, asset_id: str, suffix: str = "") -> Path:
        return self._sharded("encoded-video", user_id, asset_id, f"{asset_id}{suffix}.mp4")

    def profile_path(self, user_id: str, file_id: str, ext: str) -> Path:
        return self.root / "profile" / user_id / f"{file_id}{ext}"

    def person_thumb_path(self, user_id: str, person_id: str) -> Path:
        return self._sharded("thumbs", user_id, person_id, f"{person_id}.jpeg")

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def absolute(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    def remove(self, stored: Iterable[str | Path]) -> None:
        """Delete stored files (paths as kept in the database, or absolute), each once; called after the COMMIT
        that forgot them, so a crash leaves a stray file, never a row pointing at nothing. Never outside the data
        dir (whatever a row says), and a failure is logged, not raised: the rows are already gone."""
        for path in dict.fromkeys(str(s) for s in stored if s):
            p = self.absolute(path)
            if not parts_inside(self.root, p):
                log.warning("not deleting %s: outside the data dir", path)
                continue
            try:
                p.unlink(missing_ok=True)
            except OSError as e:
                log.warning("could not delete %s: %s", path, e)


def parts_inside(root: Path, path: Path) -> tuple[str, ...]:
    """The parts of `path` below `root`, both resolved (symlinks, ..); () when it is not strictly inside."""
    try:
        return path.resolve().relative_to(root.resolve()).parts
    except (ValueError, OSError):
        return ()


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    # Linux only, and not in the os module: glibc's wrapper through ctypes (a C call that releases the GIL)
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writing out dirty pages in the range, do not wait


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing [offset, offset + length) of fd to disk now, without waiting: the
    fsync at the end of a large file then has little left to write (PostgreSQL's *_flush_after does the same).
    A hint: it does nothing where sync_file_range does not exist, and its errors are left to that fsync."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha1_file(path: Path, chunk_size: int = 1 << 20) -> bytes:
    """SHA-1 digest of a file's bytes (Immich's checksum), read 1 MiB at a time."""
    h = hashlib.sha1()  # noqa: S324 (Immich's checksum)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.digest()


def copy_hashing(src: Path, dest: Path, on_chunk: "Callable[[int], None] | None" = None,
                 chunk_size: int = 1 << 20) -> tuple[bytes, int]:
    """Copy src to dest (fsynced), returning (SHA-1 digest, size) of the bytes actually written."""
    h = hashlib.sha1()  # noqa: S324 (Immich's checksum)
    size = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fi, open(dest, "wb") as fo:
        while chunk := fi.read(chunk_size):
            h.update(chunk)
            fo.write(chunk)
            size += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        fo.flush()
        os.fsync(fo.fileno())
    return h.digest(), size


def ensure_dir(path: Path) -> None:
    """`mkdir -p` whose new directories are durable: the parent of each directory it creates is fsynced (an
    fsync of a file's directory does not make that directory's own entry durable). One stat when it exists."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:  # another thread made it meanwhile
            pass
        fsync_dir(d.parent)


def move_into_place(tmp: Path, dest: Path) -> None:
    """Rename an already-fsynced temp file into place; the caller fsyncs dest's directory before acknowledging."""
    ensure_dir(dest.parent)
    os.replace(tmp, dest)


def commit_file(tmp: Path, dest: Path) -> None:
    """fsync the temp file, rename it into place, fsync the directory: durable before we acknowledge."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    move_into_place(tmp, dest)
    fsync_dir(dest.parent)


@contextmanager
def atomic_write(dest: Path) -> Iterator[BinaryIO]:
    """Write to a temp file beside dest, then fsync + rename; dest is whole or absent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
