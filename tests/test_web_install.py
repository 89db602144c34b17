"""`immich-lite web install SOURCE`: the official web app into <data-dir>/www from a directory, a tarball or an image.

Real files throughout: the real web build in ../shared/immich-web (test data, never copied into the project), small
builds and tarballs the tests write, and a small image served by a real registry on 127.0.0.1 (the OCI distribution
API with a Bearer challenge, an index per platform, blobs behind a redirect, whiteouts)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from immich_lite.cli import cli

REPO = Path(__file__).resolve().parents[1]
WEB = REPO.parent / "shared" / "immich-web"
TOKEN = "anonymous-pull-token"
NAME = "immich-app/immich-server"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def install(data: Path, source: str | Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["web", "install", str(source), "--data-dir", str(data), *extra])


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def build(root: Path, version: str = "3.1.0", title: str = "Immich") -> Path:
    (root / "_app" / "immutable").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f"<!doctype html><title>{title}</title>")
    (root / "_app" / "version.json").write_text(json.dumps({"version": version}))
    (root / "_app" / "immutable" / "app.js").write_text(f"console.log({title!r})")
    return root


def tar_bytes(entries: dict[str, bytes | str | None]) -> bytes:
    """A tar of files (bytes), directories (None) and symlinks (str: the target), in this order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def installed_with_nothing_else(data: Path) -> None:
    assert sorted(p.name for p in data.iterdir()) == ["www"]


# --- a registry on 127.0.0.1 ---------------------------------------------------------------------------------

def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """Serves one small image: an OCI index (amd64, arm64, an attestation) over two gzip layers each."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.replaced: dict[str, bytes] = {}  # digest -> the wrong bytes the store sends instead
        self.cut: set[str] = set()  # digests whose download stops halfway (the connection is closed)
        self.stall: set[str] = set()  # digests whose download stops halfway until `release` is set
        self.stalled, self.release = threading.Event(), threading.Event()
        self.log: list[tuple[str, int]] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                registry.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def ref(self, tag: str = "v3.1.0") -> str:
        return f"127.0.0.1:{self.port}/{NAME}:{tag}"

    def add_blob(self, data: bytes) -> dict[str, Any]:
        self.blobs[digest(data)] = data
        return {"digest": digest(data), "size": len(data)}

    def add_image(self, tag: str, platforms: dict[str, list[bytes]]) -> None:
        entries = []
        for arch, layers in platforms.items():
            config = self.add_blob(json.dumps({"architecture": arch, "os": "linux"}).encode())
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": GZIP_LAYER, **self.add_blob(layer)} for layer in layers]}).encode()
            self.manifests[digest(manifest)] = (OCI_MANIFEST, manifest)
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
                            "platform": {"architecture": arch, "os": "linux"}})
        entries.append({**entries[0], "platform": {"architecture": "unknown", "os": "unknown"}})  # an attestation
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        self.manifests[tag] = (OCI_INDEX, index)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        if path == "/token":
            ok = f"scope=repository%3A{NAME.replace('/', '%2F')}%3Apull" in query and "service=test" in query
            return self.send(h, 200 if ok else 400, json.dumps({"token": TOKEN}).encode(), "application/json")
        if path.startswith("/store/"):  # like S3 behind ghcr.io: it refuses a request that carries the token
            return self.send_blob(h, path.removeprefix("/store/"))
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            challenge = (f'Bearer realm="http://127.0.0.1:{self.port}/token",service="test",'
                         f'scope="repository:{NAME}:pull"')
            return self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', "application/json",
                             {"WWW-Authenticate": challenge})
        kind, _, ref = path.removeprefix(f"/v2/{NAME}/").partition("/")
        if kind == "manifests" and ref in self.manifests:
            media, body = self.manifests[ref]
            return self.send(h, 200, body, media)
        if kind == "blobs" and ref in self.blobs:
            return self.send(h, 307, b"", "text/plain", {"Location": f"/store/{ref}"})
        self.send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json")

    def send_blob(self, h: BaseHTTPRequestHandler, ref: str) -> None:
        if "Authorization" in h.headers or ref not in self.blobs:
            return self.send(h, 400, b"", "text/plain")
        data = self.replaced.get(ref, self.blobs[ref])
        if ref not in self.cut | self.stall:
            return self.send(h, 200, data, "application/octet-stream")
        self.log.append((h.path, 200))
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        if ref in self.stall:
            self.stalled.set()
            self.release.wait(30)
        h.close_connection = True

    def send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, media: str,
             headers: dict[str, str] | None = None) -> None:
        self.log.append((h.path, status))
        h.send_response(status)
        for k, v in {"Content-Type": media, "Content-Length": str(len(body)), **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)


def layer(files: dict[str, bytes | str | None]) -> bytes:
    return gzip.compress(tar_bytes(files), mtime=0)


LAYER1 = layer({
    "build": None, "build/www": None, "build/www/_app": None, "build/www/_app/immutable": None,
    "build/www/index.html": b"<!doctype html><title>Immich</title>",
    "build/www/_app/version.json": b'{"version":"3.1.0"}',
    "build/www/_app/immutable/old.js": b"old()",
    "build/www/robots.txt": b"old robots",
    "build/www/static/a.txt": b"from the first layer",
    "usr/src/app/server/dist/main.js": b"the server, not wanted",
})


def second_layer(robots: bytes) -> bytes:
    return layer({
        "build/www/_app/immutable/.wh.old.js": b"",  # deletes old.js of the first layer
        "build/www/robots.txt": robots,
        "build/www/_app/immutable/new.js": b"new()",
        "build/www/static/b.txt": b"from the second layer",
        "build/www/static/.wh..wh..opq": b"",  # hides static/a.txt of the first layer, not b.txt of this one
    })


HOST_ARCH = {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "amd64")
EXPECTED = {
    "_app/immutable/new.js": b"new()",
    "_app/version.json": b'{"version":"3.1.0"}',
    "index.html": b"<!doctype html><title>Immich</title>",
    "robots.txt": f"robots for {HOST_ARCH}".encode(),
    "static/b.txt": b"from the second layer",
}


@pytest.fixture
def registry() -> Iterator[Registry]:
    r = Registry()
    r.add_image("v3.1.0", {arch: [LAYER1, second_layer(f"robots for {arch}".encode())] for arch in ("amd64", "arm64")})
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A data dir whose www holds an earlier install."""
    data = tmp_path / "data"
    r = install(data, build(tmp_path / "earlier", title="earlier"))
    assert r.exit_code == 0, r.output
    return data, snapshot(data / "www")


# --- directories and tarballs --------------------------------------------------------------------------------

@pytest.mark.skipif(not (WEB / "index.html").is_file(), reason="../shared/immich-web is not here")
def test_install_from_the_real_build_directory(tmp_path: Path) -> None:
    r = install(tmp_path / "data", WEB)
    assert r.exit_code == 0, r.output
    www = tmp_path / "data" / "www"
    files = [p for p in www.rglob("*") if p.is_file()]
    assert len(files) == sum(1 for p in WEB.rglob("*") if p.is_file()) == 1179
    assert (www / "index.html").read_bytes() == (WEB / "index.html").read_bytes()
    size = sum(p.stat().st_size for p in files)
    assert r.output.startswith(f"installed Immich web 3.1.0 (1,179 files, {size / 1e6:.1f} MB) into {www}")
    installed_with_nothing_else(tmp_path / "data")


@pytest.mark.parametrize("top", ["immich-web-3.1.0/", "build/www/", "./"])
def test_install_from_a_tarball_finds_the_build_folder(tmp_path: Path, top: str) -> None:
    src = build(tmp_path / "src")
    archive = tmp_path / "web.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=top.rstrip("/") or ".")
        if top != "./":
            tar.addfile(tarfile.TarInfo("README"), io.BytesIO(b""))  # beside the build: not installed
    r = install(tmp_path / "data", archive)
    assert r.exit_code == 0, r.output
    assert snapshot(tmp_path / "data" / "www") == snapshot(src)
    assert "installed Immich web 3.1.0 (3 files," in r.output


def test_a_directory_that_is_not_a_web_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.html").write_text("hello")
    r = install(tmp_path / "data", tmp_path / "src")
    assert r.exit_code == 1 and "not an Immich web build" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "data").exists()


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    for source in (tmp_path / "nothing.tar.gz", "immich-web"):
        r = install(tmp_path / "data", source)
        assert r.exit_code == 1 and "no such file or directory" in r.output
    assert not (tmp_path / "data").exists()


BUILD: dict[str, bytes | str | None] = {"w/index.html": b"x", "w/_app/version.json": b'{"version":"3.1.0"}'}


@pytest.mark.parametrize("entries", [
    {**BUILD, "w/../escaped": b"x"},
    {**BUILD, "w/passwd": "/etc/passwd"},
    {**BUILD, "w/up": "../../.."},
    {**BUILD, "w/b": "c/..", "w/c": "."},  # each link is inside when made; together b is the parent of the root
    {**BUILD, "w/b": "c/..", "w/c": ".", "w/b/x": b"x"},  # ... and a later entry would write through it
], ids=["dotdot", "absolute-link", "relative-link-out", "chained-links", "write-through-chained-links"])
def test_a_tarball_that_would_reach_outside_is_refused(tmp_path: Path, entries: dict[str, bytes | str | None]) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes(entries))
    r = install(tmp_path / "data", archive)
    assert r.exit_code == 1 and ("unsafe path" in r.output or "outside the web root" in r.output), r.output
    assert sorted(p.name for p in tmp_path.iterdir()) in (["evil.tar"], ["data", "evil.tar"])
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []


# --- versions --------------------------------------------------------------------------------------------------

def test_a_wrong_version_is_refused_and_nothing_changes(tmp_path: Path,
                                                        previous: tuple[Path, dict[str, bytes]]) -> None:
    data, before = previous
    r = install(data, build(tmp_path / "old", version="2.9.0"))
    assert r.exit_code == 1 and "2.9.0" in r.output and "3.1.0" in r.output and "--force" in r.output
    assert snapshot(data / "www") == before
    installed_with_nothing_else(data)


def test_force_installs_a_wrong_version(tmp_path: Path, previous: tuple[Path, dict[str, bytes]]) -> None:
    data, _ = previous
    src = build(tmp_path / "old", version="2.9.0", title="two-nine")
    r = install(data, src, "--force")
    assert r.exit_code == 0 and "installed Immich web 2.9.0" in r.output
    assert snapshot(data / "www") == snapshot(src)
    installed_with_nothing_else(data)


# --- images ----------------------------------------------------------------------------------------------------

def test_install_from_an_image_applies_its_layers_for_this_platform(tmp_path: Path, registry: Registry) -> None:
    r = install(tmp_path / "data", registry.ref())
    assert r.exit_code == 0, r.output
    assert snapshot(tmp_path / "data" / "www") == EXPECTED
    assert r.output.startswith("installed Immich web 3.1.0 (5 files,")
    assert (f"/v2/{NAME}/manifests/v3.1.0", 401) in registry.log  # anonymous first, then the token
    assert any(path.startswith("/token?") for path, _ in registry.log)
    assert sum(status == 200 and path.startswith("/store/") for path, status in registry.log) == 2
    installed_with_nothing_else(tmp_path / "data")


def test_an_unknown_tag_is_refused(tmp_path: Path, registry: Registry) -> None:
    r = install(tmp_path / "data", registry.ref("v9.9.9"))
    assert r.exit_code == 1 and "not found" in r.output and "HTTP 404" in r.output
    assert list((tmp_path / "data").iterdir()) == []


def test_a_layer_whose_digest_does_not_match_is_refused(registry: Registry,
                                                        previous: tuple[Path, dict[str, bytes]]) -> None:
    data, before = previous
    registry.replaced[digest(LAYER1)] = gzip.compress(gzip.decompress(LAYER1), mtime=1)  # same tar, same size
    r = install(data, registry.ref())
    assert r.exit_code == 1 and "digest mismatch" in r.output, r.output
    assert snapshot(data / "www") == before
    installed_with_nothing_else(data)


def test_a_dropped_download_leaves_the_previous_web_root(registry: Registry,
                                                        previous: tuple[Path, dict[str, bytes]]) -> None:
    data, before = previous
    registry.cut.add(digest(second_layer(f"robots for {HOST_ARCH}".encode())))
    r = install(data, registry.ref())
    assert r.exit_code == 1 and "cut off" in r.output, r.output
    assert snapshot(data / "www") == before
    installed_with_nothing_else(data)


def test_a_killed_install_leaves_the_previous_web_root_and_the_next_run_cleans_up(
        registry: Registry, previous: tuple[Path, dict[str, bytes]]) -> None:
    data, before = previous
    registry.stall.add(digest(LAYER1))
    proc = subprocess.Popen([sys.executable, "-m", "immich_lite", "web", "install", registry.ref(),
                             "--data-dir", str(data)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert registry.stalled.wait(20), "the install never started downloading"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert snapshot(data / "www") == before
    assert [p.name for p in data.glob("www.new-*")]  # what the kill left behind
    registry.stall.clear()
    registry.release.set()
    r = install(data, registry.ref())
    assert r.exit_code == 0, r.output
    assert snapshot(data / "www") == EXPECTED
    installed_with_nothing_else(data)


def test_a_crash_between_the_two_renames_is_recovered(tmp_path: Path, previous: tuple[Path, dict[str, bytes]]) -> None:
    data, before = previous
    (data / "www").rename(data / "www.old-0123")  # the state after the first rename of a swap
    (data / "www.new-4567" / "_app").mkdir(parents=True)
    r = install(data, build(tmp_path / "old", version="2.9.0"))  # refused, but the recovery runs first
    assert r.exit_code == 1
    assert snapshot(data / "www") == before
    installed_with_nothing_else(data)


def test_every_web_command_has_help() -> None:
    r = CliRunner().invoke(cli, ["web", "install", "--help"])
    assert r.exit_code == 0 and "--data-dir" in r.output and "--force" in r.output and "ghcr.io" in r.output
