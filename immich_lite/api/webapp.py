"""The official Immich web app, served from a web root as upstream serves its /build/www.

Upstream (server/src/app.common.ts, services/api.service.ts): `sirv` serves the build's files at the root, with
ETags, precompressed `.br`/`.gz` siblings when the browser accepts them, and `public,max-age=31536000,immutable`
for `_app/immutable/**`; every other GET/HEAD outside `/api` and the excluded paths is the SPA: `index.html`,
`Cache-Control: no-store`, with the shared link's Open Graph tags filled in for `/share/:key` and `/s/:slug`
(404 with the bare page for an invalid link), and 406 for a client that does not accept text/html. Files other
than `_app/immutable/**` are sent `Cache-Control: no-cache`, so the browser revalidates them (ETag → 304).

The web root's file list is read once (a walk of ~1,200 entries, in a worker thread) and read again when the
directory is replaced: `immich-lite web install` swaps `<data-dir>/www` atomically, and the server notices within
`RECHECK` seconds without a restart. File bodies are read in worker threads, never on the event loop.
"""
from __future__ import annotations

import email.utils
import mimetypes
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from immich_lite.errors import ImmichError

RECHECK = 2.0  # seconds between checks that the web root is still the directory that was indexed
SMALL = 4 * 1024 * 1024  # files up to this size are read in one worker-thread call; larger ones are streamed
CHUNK = 256 * 1024
# Bodies up to CACHE_FILE are kept in memory after their first read, CACHE_BUDGET bytes in all, least recently used
# dropped first: the web build's largest script is ~1 MB (~240 KB as brotli), and one page load asks for ~140 files.
CACHE_FILE = 2 * 1024 * 1024
CACHE_BUDGET = 8 * 1024 * 1024
EXCLUDED = ("/.well-known/immich", "/custom.css", "/favicon.ico")  # upstream constants.ts excludePaths
IMMUTABLE = "public,max-age=31536000,immutable"
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
          ".webmanifest": "application/manifest+json", ".ttf": "font/ttf", ".woff": "font/woff",
          ".woff2": "font/woff2", ".wasm": "application/wasm", ".svg": "image/svg+xml", ".ico": "image/x-icon",
          ".html": "text/html;charset=utf-8", ".css": "text/css", ".txt": "text/plain", ".map": "application/json",
          ".webp": "image/webp", ".avif": "image/avif", ".png": "image/png"}
_ENCODINGS = (("br", ".br", re.compile(r"\b(br|brotli)\b", re.I)), ("gzip", ".gz", re.compile(r"\bgzip\b", re.I)))


class NotAcceptable(ImmichError):
    status = 406


@dataclass(frozen=True)
class _File:
    path: str
    size: int
    etag: str
    last_modified: str
    content_type: str
    immutable: bool
    mtime: float = 0.0
    variants: dict[str, tuple[str, int]] = field(default_factory=dict)  # encoding -> (path, size)


@dataclass
class _Index:
    identity: tuple[int, int, int] | None = None  # (st_dev, st_ino, st_mtime_ns) of the root when indexed
    files: dict[str, _File] = field(default_factory=dict)
    index_html: str | None = None
    index_html_bytes: bytes = b""


def _content_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return _TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _identity(root: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns) if os.path.isdir(root) else None


def _scan(root: Path) -> _Index:
    identity = _identity(root)
    index = _Index(identity=identity)
    if identity is None or not (root / "index.html").is_file():
        return _Index(identity=identity)
    names: dict[str, os.stat_result] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            rel = "/" + os.path.relpath(full, root).replace(os.sep, "/")
            names[rel] = st
    for rel, st in names.items():
        variants = {enc: (str(root) + rel + suffix, names[rel + suffix].st_size)
                    for enc, suffix, _ in _ENCODINGS if rel + suffix in names}
        mtime_ms = int(st.st_mtime * 1000)
        index.files[rel] = _File(path=str(root) + rel, size=st.st_size, etag=f'W/"{st.st_size}-{mtime_ms}"',
                                 last_modified=email.utils.formatdate(st.st_mtime, usegmt=True),
                                 content_type=_content_type(rel), immutable=rel.startswith("/_app/immutable/"),
                                 mtime=st.st_mtime, variants=variants)
    try:
        index.index_html = (root / "index.html").read_text(encoding="utf-8")
        index.index_html_bytes = index.index_html.encode("utf-8")
    except (OSError, UnicodeDecodeError):
        index.index_html = None
    return index


class WebRoot:
    """The web app directory, its file list, and the SPA page; `None` root = no web app configured."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._index = _scan(root) if root is not None else _Index()
        self._checked = time.monotonic()

    async def current(self) -> _Index:
        """The index, read again if the directory was replaced or appeared (checked every RECHECK s)."""
        if self.root is None:
            return self._index
        now = time.monotonic()
        if now - self._checked >= RECHECK:
            self._checked = now
            if _identity(self.root) != self._index.identity:  # one stat() of a local directory
                self._index = await run_in_threadpool(_scan, self.root)
        return self._index

    def page(self, tags_html: str | None) -> str | None:
        html = self._index.index_html
        if html is None:
            return None
        return html.replace("<!-- metadata:tags -->", tags_html, 1) if tags_html else html


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SMALL + 1)


def accepts_html(request: Request) -> bool:
    """express `req.accepts('text/html')`: no Accept header, */*, text/*, or text/html with q > 0."""
    accept = request.headers.get("accept")
    return True if not accept else accepts_html_value(accept)


def accepts_html_value(accept: str) -> bool:
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and media in ("*/*", "text/*", "text/html"):
            return True
    return False


def html_response(html: str, status: int = 200, method: str = "GET") -> Response:
    body = html.encode("utf-8")
    headers = {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}
    if method == "HEAD":
        return Response(status_code=status, headers={**headers, "Content-Length": str(len(body))})
    return Response(body, status_code=status, headers=headers)


def not_acceptable(request: Request) -> NotAcceptable:
    accept = request.headers.get("accept", "")
    return NotAcceptable(f"The route {request.url.path} was requested as {accept}, but only returns text/html")


# -- the fast path ---------------------------------------------------------------------------------------------
# A page load of the web app asks for ~140 files at once. Going through Starlette's router (≈250 API routes tried
# in turn before the catch-all), Request/Response objects and a worker-thread read per file cost ~1 ms of CPU
# each; this ASGI layer, in front of everything, answers a web-root file or the SPA page straight from the file
# list with headers built once, and keeps small bodies in a bounded in-memory cache (bench/web.py measures it
# against a bare app on the same HTTP stack). The API, share pages and the rest go on to the router unchanged.

_ROUTED_PREFIXES = ("/api", "/share/", "/s/")
_ROUTED_EXACT = frozenset({"/.well-known/immich", "/custom.css"})


class _BodyCache:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[tuple[str, float], bytes] = OrderedDict()

    def get(self, key: tuple[str, float]) -> bytes | None:
        body = self.items.get(key)
        if body is not None:
            self.items.move_to_end(key)
        return body

    def put(self, key: tuple[str, float], body: bytes) -> None:
        if len(body) > CACHE_FILE or key in self.items:
            return
        self.items[key] = body
        self.used += len(body)
        while self.used > self.budget and self.items:
            _, old = self.items.popitem(last=False)
            self.used -= len(old)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return b""


class WebAppFront:
    """ASGI middleware: the web app's files and SPA page without the router (see the comment above). The one place
    files of the web root are served; the router's catch-all (frontdoor) only answers what is left: a file that
    vanished meanwhile, excluded paths, clients that take no HTML."""

    def __init__(self, app: ASGIApp, web: WebRoot) -> None:
        self.app = app
        self.web = web
        self.cache = _BodyCache(CACHE_BUDGET)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or self.web.root is None
                or scope["path"].startswith(_ROUTED_PREFIXES) or scope["path"] in _ROUTED_EXACT):
            await self.app(scope, receive, send)
            return
        index = await self.web.current()
        if index.index_html is None:
            await self.app(scope, receive, send)
            return
        entry = index.files.get(scope["path"])
        if entry is not None:
            if await self._file(scope, send, entry):
                return
        elif not scope["path"].startswith(EXCLUDED) and _accepts_html(_header(scope, b"accept")):
            body = index.index_html_bytes
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        await self.app(scope, receive, send)

    async def _file(self, scope: Scope, send: Send, entry: _File) -> bool:
        """sirv: the file, precompressed when accepted, 304 when the ETag matches. False if it vanished."""
        encoding, path, size = None, entry.path, entry.size
        if entry.variants:
            accept = _header(scope, b"accept-encoding").decode("latin-1")
            for enc, _, pattern in _ENCODINGS:
                if enc in entry.variants and pattern.search(accept):
                    encoding = enc
                    path, size = entry.variants[enc]
                    break
        headers = [(b"content-type", entry.content_type.encode()), (b"last-modified", entry.last_modified.encode()),
                   (b"etag", entry.etag.encode()),
                   (b"cache-control", IMMUTABLE.encode() if entry.immutable else b"no-cache")]
        if entry.variants:
            headers.append((b"vary", b"Accept-Encoding"))
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        if_none_match = _header(scope, b"if-none-match")
        if if_none_match and entry.etag in [t.strip() for t in if_none_match.decode("latin-1").split(",")]:
            headers = [h for h in headers if h[0] not in (b"content-type", b"content-encoding")]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        if scope["method"] == "HEAD":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*headers, (b"content-length", str(size).encode())]})
            await send({"type": "http.response.body", "body": b""})
            return True
        if size > SMALL:
            return await self._stream(send, path, size, headers)
        key = (path, entry.mtime)
        body = self.cache.get(key)
        if body is None:
            try:
                body = await run_in_threadpool(_read, path)
            except OSError:
                return False  # vanished (a web install swapped the root): the app answers
            self.cache.put(key, body)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    @staticmethod
    async def _stream(send: Send, path: str, size: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """A file above SMALL, CHUNK bytes per worker-thread read."""
        try:
            fh = await run_in_threadpool(open, path, "rb")
        except OSError:
            return False
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*headers, (b"content-length", str(size).encode())]})
            while chunk := await run_in_threadpool(fh.read, CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await run_in_threadpool(fh.close)
        return True


def _accepts_html(accept: bytes) -> bool:
    return not accept or accepts_html_value(accept.decode("latin-1"))
