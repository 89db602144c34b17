"""`immich-lite web install`: put the official Immich web app (a static SvelteKit build) into <data-dir>/www.

The build comes from a directory, a tarball of one, or upstream's server image (`ghcr.io/immich-app/immich-server`,
whose /build/www is exactly this build), pulled anonymously over the OCI distribution API with the standard library:
each layer is streamed through `tarfile` (never held in memory) while its digest is checked, and only build/www/ is
kept. The new tree is built and fsynced in `www.new-*` beside the target, then swapped in with two renames; an
interrupted run leaves the previous `www` in place (or the new one), and the next run restores/cleans leftovers.

Files get the install time as mtime, not the archive's: the server's ETags are size + mtime, and a reproducible
build (every mtime the same) would otherwise let a browser keep an old index.html across an upgrade.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from immich_lite import IMMICH_VERSION, oci
from immich_lite.storage import fsync_dir, start_writeback

Progress = Callable[[str, int], None]  # ("download", total bytes) ("bytes", n) ("copy", total files) ("files", n)
WWW = "www"
IMAGE_PREFIX = "build/www"  # where upstream's server image keeps the web build
CHUNK = 1 << 20
class WebInstallError(Exception):
    """A refusal or failure with a message for the user; nothing was changed."""


@dataclass(frozen=True)
class InstallResult:
    version: str
    files: int
    bytes: int
    path: Path


def _noop(event: str, amount: int) -> None:
    pass


def install(source: str, data_dir: Path, *, force: bool = False, progress: Progress = _noop) -> InstallResult:
    """Install the web build from `source` (directory, tarball or image reference) as <data_dir>/www, atomically.

    :raises WebInstallError: source missing or not a web build, version mismatch (unless force), network or
        registry error, digest mismatch, another install running.
    """
    if data_dir.is_dir():  # repair what a killed run left, even if this one is refused
        with _install_lock(data_dir):
            recover(data_dir)
    try:
        return _install(source, data_dir, force, progress)
    except oci.RegistryError as e:
        raise WebInstallError(str(e)) from None


def _install(source: str, data_dir: Path, force: bool, progress: Progress) -> InstallResult:
    populate = _plan(source, force, progress)  # checks what it can before anything is created
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / WWW
    with _install_lock(data_dir):
        recover(data_dir)
        staging = data_dir / f"{WWW}.new-{secrets.token_hex(6)}"
        staging.mkdir()
        try:
            populate(staging)
            version = check_version(_read_version(staging, source), force, source)
            _audit_links(staging)
            files, size = _fsync_tree(staging)
            _swap(staging, target)
        except BaseException:
            _remove(staging)
            raise
    return InstallResult(version=version, files=files, bytes=size, path=target)


def recover(data_dir: Path) -> None:
    """Undo an interrupted install: bring back `www.old-*` if `www` is gone; remove `www.new-*` and `www.old-*`."""
    olds = sorted(data_dir.glob(f"{WWW}.old-*"), key=lambda p: p.lstat().st_ctime)
    target = data_dir / WWW
    if olds and not os.path.lexists(target):  # killed between the two renames of _swap
        os.rename(olds.pop(), target)
        fsync_dir(data_dir)
    for leftover in [*data_dir.glob(f"{WWW}.new-*"), *olds]:
        _remove(leftover)


def check_version(version: str, force: bool, source: str) -> str:
    """The build's version if its major.minor is the Immich API's (or force).

    :raises WebInstallError: when it is not.
    """
    m = re.match(r"v?(\d+)\.(\d+)", version)
    if not force and (m is None or (int(m[1]), int(m[2])) != tuple(IMMICH_VERSION[:2])):
        api = ".".join(map(str, IMMICH_VERSION))
        raise WebInstallError(f"{source} is Immich web {version}, but immich-lite speaks the Immich {api} API "
                              f"(the web app needs the same major.minor); --force installs it anyway")
    return version


# --- the swap --------------------------------------------------------------------------------------------------

@contextmanager
def _install_lock(data_dir: Path) -> Iterator[None]:
    # a flock on the data dir itself: no lock file to leave behind; the server's lock is another inode
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WebInstallError(f"another web install is running on {data_dir}") from None
        yield
    finally:
        os.close(fd)


def _swap(staging: Path, target: Path) -> None:
    old = None
    if os.path.lexists(target):
        old = target.with_name(f"{WWW}.old-{secrets.token_hex(6)}")
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        if old is not None and not os.path.lexists(target):
            os.rename(old, target)
        raise
    fsync_dir(target.parent)
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _fsync_tree(root: Path) -> tuple[int, int]:
    """fsync every file, then every directory bottom-up; returns (files, bytes). One pass at the end (the data is
    already being written back) costs far less than an fsync per file while extracting."""
    files = size = 0
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(fd)
                size += os.fstat(fd).st_size
            finally:
                os.close(fd)
            files += 1
        fsync_dir(Path(dirpath))
    return files, size


def _audit_links(root: Path) -> None:
    """Every symlink in the finished tree must resolve inside it (links made in any order can chain outward)."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) and not _within(os.path.realpath(p), real_root):
                raise WebInstallError(f"refusing a link that points outside the web root: {os.path.relpath(p, root)}")


def _within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


# --- sources ---------------------------------------------------------------------------------------------------

def _plan(source: str, force: bool, progress: Progress) -> Callable[[Path], None]:
    """What fills the staging dir for `source`; the version of a directory or tarball is checked here already."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not ((path / "index.html").is_file() and (path / "_app" / "version.json").is_file()):
            raise WebInstallError(f"{source} is not an Immich web build (no index.html and _app/version.json)")
        check_version(_read_version(path, source), force, source)
        return lambda staging: _copy_dir(path, staging, progress)
    if path.is_file():
        prefix, version, count = _scan_tarball(path, source)
        check_version(version, force, source)
        return lambda staging: _extract_tarball(path, prefix, count, staging, progress)
    if (source.startswith(("/", ".", "~")) or source.endswith((".tar", ".tgz", ".gz", ".zst"))
            or not any(c in source for c in "/:@")):  # a bare word is a missing path, not a Docker Hub image
        raise WebInstallError(f"{source}: no such file or directory")
    ref = oci.ImageRef.parse(source)
    return lambda staging: _pull(ref, staging, progress)


def _read_version(root: Path, source: str) -> str:
    try:
        raw = (root / "_app" / "version.json").read_bytes()
        if not (root / "index.html").is_file():
            raise FileNotFoundError
    except FileNotFoundError:
        raise WebInstallError(f"{source} holds no Immich web build (no index.html and _app/version.json)") from None
    return _parse_version(raw, source)


def _parse_version(raw: bytes, source: str) -> str:
    try:
        version = json.loads(raw)["version"]
    except (ValueError, KeyError, TypeError):
        version = None
    if not isinstance(version, str):
        raise WebInstallError(f"{source}: _app/version.json has no version")
    return version


def _copy_dir(src: Path, staging: Path, progress: Progress) -> None:
    files = [(d, n) for d, n in _walk_files(src)]
    progress("copy", len(files))
    for dirpath, name in files:
        dest = staging / os.path.relpath(dirpath, src) / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(os.path.join(dirpath, name), "rb") as fi:
            _write(dest, fi)
        progress("files", 1)


def _walk_files(src: Path) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()  # symlinked directories are followed, once (a link loop must not hang us)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        for name in filenames:
            if os.path.isfile(os.path.join(dirpath, name)):
                yield dirpath, name


def _write(dest: Path, src: IO[bytes]) -> None:
    """Write a new file at dest (never through a link that sits there), hinting the kernel to write it back now."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with open(fd, "wb") as f:
        offset = 0
        while chunk := src.read(CHUNK):
            f.write(chunk)
            f.flush()
            start_writeback(fd, offset, len(chunk))
            offset += len(chunk)


@contextmanager
def _open_tar(path: Path, source: str) -> Iterator[tarfile.TarFile]:
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        try:
            if magic == b"\x28\xb5\x2f\xfd":
                with _zstd_reader(f, source) as z, tarfile.open(fileobj=z, mode="r|") as tar:
                    yield tar
            else:
                with tarfile.open(fileobj=f, mode="r|*") as tar:
                    yield tar
        except (tarfile.TarError, zlib.error, EOFError) as e:
            raise WebInstallError(f"{source} is not a readable tar archive ({e})") from None


@contextmanager
def _zstd_reader(f: IO[bytes], what: str) -> Iterator[IO[bytes]]:
    try:
        import zstandard  # type: ignore[import-not-found]  # noqa: PLC0415 (optional)
    except ImportError:
        raise WebInstallError(f"{what} is zstd-compressed: install the zstandard module to read it") from None
    with zstandard.ZstdDecompressor().stream_reader(f) as z:
        yield z


def _scan_tarball(path: Path, source: str) -> tuple[str, str, int]:
    """First pass: find the folder holding index.html + _app/version.json; (prefix, version, files under it)."""
    names: set[str] = set()
    files: list[str] = []
    versions: dict[str, bytes] = {}
    with _open_tar(path, source) as tar:
        for m in tar:
            name = _member_name(m.name)
            names.add(name)
            if not m.isdir():
                files.append(name)
            if m.isfile() and name.endswith("_app/version.json") and m.size < 65536:
                versions[name] = tar.extractfile(m).read()  # type: ignore[union-attr]
    found = [n[: -len("index.html")] for n in names if n == "index.html" or n.endswith("/index.html")]
    found = sorted((p for p in found if p + "_app/version.json" in versions), key=lambda p: (p.count("/"), p))
    if not found:
        raise WebInstallError(f"{source} holds no Immich web build (no folder with index.html and _app/version.json)")
    prefix = found[0]
    count = sum(1 for n in files if n.startswith(prefix))
    return prefix, _parse_version(versions[prefix + "_app/version.json"], source), count


def _extract_tarball(path: Path, prefix: str, count: int, staging: Path, progress: Progress) -> None:
    progress("copy", count)
    out = _Extractor(staging, prefix.rstrip("/"), whiteouts=False)
    with _open_tar(path, source=str(path)) as tar:
        out.layer(tar, lambda: progress("files", 1))


def _member_name(name: str) -> str:
    """The archive path without ./ prefixes; refuses absolute paths and `..`."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise WebInstallError(f"refusing an unsafe path in the archive: {name}")
    return "/".join(p for p in parts if p not in ("", "."))


class _Extractor:
    """Applies tar streams over a staging dir: only entries under `prefix`, image-layer whiteouts if asked, and
    nothing ever written outside the staging dir."""

    def __init__(self, root: Path, prefix: str, *, whiteouts: bool):
        self.root, self.prefix, self.whiteouts = root, prefix, whiteouts
        self.real_root = os.path.realpath(root)
        self.keep: set[str] = set()  # paths (and their parents) written by the current layer: whiteouts spare them

    def layer(self, tar: tarfile.TarFile, on_file: Callable[[], None] = lambda: None) -> None:
        self.keep = set()
        for m in tar:
            name = _member_name(m.name)
            parent, _, base = name.rpartition("/")
            if self.whiteouts and base.startswith(".wh."):
                self._whiteout(parent, base)
                continue
            if name != self.prefix and not self._under(name):
                if self._above(name) and not m.isdir():  # e.g. `build` replaced by a file: the build is gone
                    self._clear("")
                continue
            rel = self._rel(name)
            if rel:
                self._entry(m, rel, tar)
                if m.isfile():
                    on_file()

    def _under(self, name: str) -> bool:
        return not self.prefix or name.startswith(self.prefix + "/")

    def _above(self, name: str) -> bool:  # the prefix, one of its parents, or the image root
        return name == "" or (self.prefix + "/").startswith(name + "/")

    def _rel(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name

    def _dest(self, rel: str, mark: bool = True) -> Path:
        dest = self.root / rel
        if not _within(os.path.realpath(dest.parent), self.real_root):
            raise WebInstallError(f"refusing to write through a link to outside the web root: {rel}")
        if mark:
            self._mark(rel)
        return dest

    def _mark(self, rel: str) -> None:
        while rel and rel not in self.keep:
            self.keep.add(rel)
            rel = rel.rpartition("/")[0]

    def _entry(self, m: tarfile.TarInfo, rel: str, tar: tarfile.TarFile) -> None:
        dest = self._dest(rel)
        if m.isdir():
            if not dest.is_dir() or dest.is_symlink():
                self._drop(dest)
                dest.mkdir(parents=True)
            return
        if not (m.isfile() or m.issym() or m.islnk()):
            return  # devices, fifos: nothing a web root needs
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._drop(dest)
        if m.issym():
            if os.path.isabs(m.linkname) or not _within(
                    os.path.realpath(os.path.join(os.path.realpath(dest.parent), m.linkname)), self.real_root):
                raise WebInstallError(f"refusing a link that points outside the web root: {rel} -> {m.linkname}")
            os.symlink(m.linkname, dest)
        elif m.islnk():  # a hard link names an earlier archive member: copy it
            target = _member_name(m.linkname)
            src = self.root / self._rel(target) if self._under(target) else None
            if src is None or not src.is_file() or not _within(os.path.realpath(src), self.real_root):
                raise WebInstallError(f"refusing a hard link to outside the web root: {rel} -> {m.linkname}")
            with open(src, "rb") as fi:
                _write(dest, fi)
        else:
            _write(dest, tar.extractfile(m))  # type: ignore[arg-type]

    def _whiteout(self, parent: str, base: str) -> None:
        if base == ".wh..wh..opq":  # opaque dir: lower layers' contents are hidden
            if self._under(parent):
                self._clear(self._rel(parent))
            elif self._above(parent):  # the prefix itself or one of its parents
                self._clear("")
            return
        if base.startswith(".wh..wh."):
            return  # aufs bookkeeping (.wh..wh.plnk and friends)
        name = f"{parent}/{base[4:]}" if parent else base[4:]
        if self._under(name):
            rel = self._rel(name)
            if rel not in self.keep:
                self._drop(self._dest(rel, mark=False))
        elif self._above(name):  # `.wh.www` in build/: the whole build is deleted
            self._clear("")

    def _clear(self, rel: str) -> None:
        """Empty a directory, sparing what the current layer wrote into it."""
        d = self.root / rel
        if not _within(os.path.realpath(d), self.real_root) or not d.is_dir() or d.is_symlink():
            return
        for child in os.listdir(d):
            child_rel = f"{rel}/{child}" if rel else child
            p = d / child
            if child_rel not in self.keep:
                self._drop(p)
            elif p.is_dir() and not p.is_symlink():
                self._clear(child_rel)

    @staticmethod
    def _drop(p: Path) -> None:
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)


# --- container images (immich_lite.oci) ------------------------------------------------------------------------

def _pull(ref: oci.ImageRef, staging: Path, progress: Progress) -> None:
    reg = oci.Registry(ref)
    doc = reg.manifest(ref.reference, ref.reference if ref.reference.startswith("sha") else None)
    if "manifests" in doc:  # an OCI index / Docker manifest list: one manifest per platform
        chosen = oci.pick_platform(doc["manifests"])
        doc = reg.manifest(chosen["digest"], chosen["digest"])
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise WebInstallError(f"{ref.host}/{ref.name}:{ref.reference}: unsupported manifest "
                              f"(schemaVersion {doc.get('schemaVersion')})")
    progress("download", sum(int(layer.get("size", 0)) for layer in layers))
    out = _Extractor(staging, IMAGE_PREFIX, whiteouts=True)
    for layer in layers:
        digest, media = str(layer["digest"]), str(layer.get("mediaType", ""))
        size = layer.get("size")
        with reg.get(f"blobs/{digest}") as resp:
            blob = oci.VerifyingReader(resp, digest, int(size) if size is not None else None, progress)
            try:
                if "zstd" in media:
                    with _zstd_reader(blob, f"layer {digest}") as z, tarfile.open(fileobj=z, mode="r|") as tar:
                        out.layer(tar)
                else:
                    with tarfile.open(fileobj=blob, mode="r|gz" if "gzip" in media else "r|*") as tar:
                        out.layer(tar)
            except (tarfile.TarError, zlib.error, EOFError) as e:
                raise WebInstallError(f"layer {digest} is not a readable tar stream ({e})") from None
            blob.finish()
