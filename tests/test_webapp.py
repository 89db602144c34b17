"""The official web app served from a web root (--web-root, or <data-dir>/www), as upstream's sirv + ssr serve it.

Uses the real web build in ../shared/immich-web (test data, never copied into the project) and, for the swap
tests, small builds the test writes itself."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from immich_lite.api import webapp
from immich_lite.app import create_app
from immich_lite.config import Settings
from tests.conftest import ADMIN, login

WEB = Path(__file__).resolve().parents[2] / "shared" / "immich-web"
needs_web = pytest.mark.skipif(not (WEB / "index.html").is_file(), reason="../shared/immich-web is not here")


def _client(data_dir: Path, web_root: str = "") -> Any:
    return TestClient(create_app(Settings(data_dir=str(data_dir), web_root=web_root)))


def _build(root: Path, title: str, version: str = "3.1.0") -> Path:
    (root / "_app" / "immutable").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f"<!doctype html><html><head><!-- metadata:tags --><title>{title}</title>"
                                     "</head><body></body></html>")
    (root / "_app" / "version.json").write_text(json.dumps({"version": version}))
    (root / "_app" / "immutable" / "app.js").write_text(f"console.log({title!r})")
    return root


@needs_web
def test_static_files_spa_routes_and_caching_as_upstream(tmp_path: Path) -> None:
    with _client(tmp_path / "data", str(WEB)) as c:
        index = (WEB / "index.html").read_bytes()
        for path in ("/", "/photos", "/photos/", "/albums/1b2c", "/auth/login?continue=%2Fphotos", "/admin/users"):
            r = c.get(path, headers={"accept": "text/html,application/xhtml+xml", "accept-encoding": "identity"})
            assert r.status_code == 200 and r.content == index, path
            assert r.headers["cache-control"] == "no-store" and r.headers["content-type"].startswith("text/html")
        # files at the root; precompressed siblings when accepted; ETag and revalidation
        chunk = next((WEB / "_app" / "immutable" / "chunks").glob("*.js"))
        url = "/_app/immutable/chunks/" + chunk.name
        plain = c.get(url, headers={"accept-encoding": "identity"})
        assert plain.status_code == 200 and plain.content == chunk.read_bytes()
        assert plain.headers["content-type"] == "text/javascript"
        assert plain.headers["cache-control"] == "public,max-age=31536000,immutable"
        assert "content-encoding" not in plain.headers
        if chunk.with_name(chunk.name + ".br").exists():
            br = c.get(url, headers={"accept-encoding": "gzip, deflate, br"})
            assert br.headers["content-encoding"] == "br" and br.headers["vary"] == "Accept-Encoding"
            assert br.content == chunk.with_name(chunk.name + ".br").read_bytes()  # the precompressed file
        gz = c.get("/_app/version.json", headers={"accept-encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.json() == {"version": "3.1.0"}
        assert gz.headers["cache-control"] == "no-cache"  # not immutable: revalidated
        again = c.get("/_app/version.json", headers={"if-none-match": gz.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = c.head("/favicon.ico")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == (WEB / "favicon.ico").stat().st_size
        big = max((p for p in WEB.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        streamed = c.get("/" + big.relative_to(WEB).as_posix(), headers={"accept-encoding": "identity"})
        assert streamed.status_code == 200 and streamed.content == big.read_bytes()  # > 256 KiB: streamed
        # what the SPA is not: the API, the excluded paths, clients that do not take HTML, other methods
        assert c.get("/api/nothing").json() == {"message": "Cannot GET /api/nothing"}
        assert c.get("/.well-known/immich").json() == {"api": {"endpoint": "/api"}}
        assert c.get("/custom.css").headers["content-type"].startswith("text/css")
        r = c.get("/missing.png", headers={"accept": "image/avif,image/webp"})
        assert r.status_code == 406
        assert r.json() == {"message": "The route /missing.png was requested as image/avif,image/webp, "
                                       "but only returns text/html"}
        assert c.post("/photos").status_code == 404
        assert c.get("/../../etc/passwd", headers={"accept": "text/html"}).content == index


@needs_web
def test_shared_link_pages_are_the_web_app_with_the_links_tags(tmp_path: Path) -> None:
    with _client(tmp_path / "data", str(WEB)) as c:
        c.post("/api/auth/admin-sign-up", json=ADMIN)
        token = login(c, ADMIN["email"], ADMIN["password"])["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        album = c.post("/api/albums", json={"albumName": 'Ski "trip" <2026>'}, headers=auth).json()
        link = c.post("/api/shared-links", json={"type": "ALBUM", "albumId": album["id"], "slug": "ski"},
                      headers=auth).json()
        for path in (f"/share/{link['key']}", "/s/ski"):
            r = c.get(path, headers={"host": "photos.example"})
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            assert '<meta property="og:title" content="Ski &quot;trip&quot; &lt;2026&gt;" />' in r.text
            assert '<meta property="og:image" content="http://photos.example/feature-panel.png" />' in r.text
            assert "<!-- metadata:tags -->" not in r.text and 'class="dark"' in r.text  # the web app's page
        bad = c.get("/share/not-a-key")
        assert bad.status_code == 404 and bad.content == (WEB / "index.html").read_bytes()


def test_without_a_web_root_the_front_page_says_how_to_install_it(tmp_path: Path) -> None:
    with _client(tmp_path / "data") as c:
        r = c.get("/")
        assert r.status_code == 200 and "immich-lite web install" in r.text and "Create the first admin" in r.text
        assert c.get("/photos").text == r.text


def test_the_data_dirs_www_is_picked_up_and_a_swap_is_seen_without_a_restart(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webapp, "RECHECK", 0.0)
    data = tmp_path / "data"
    data.mkdir()
    with _client(data) as c:
        assert "immich-lite web install" in c.get("/").text  # nothing installed yet
        _build(data / "www", "first")
        assert "<title>first</title>" in c.get("/").text  # installed while serving
        assert c.get("/_app/immutable/app.js").text == "console.log('first')"
        staged = _build(data / "www.new-x", "second")  # what `web install` does: build beside, then rename
        os.rename(data / "www", data / "www.old-x")
        os.rename(staged, data / "www")
        shutil.rmtree(data / "www.old-x")
        time.sleep(0.01)
        assert "<title>second</title>" in c.get("/photos").text
        assert c.get("/_app/immutable/app.js").text == "console.log('second')"


def test_a_web_root_given_explicitly_wins_over_the_data_dir(tmp_path: Path) -> None:
    _build(tmp_path / "data" / "www", "data-dir")
    custom = _build(tmp_path / "custom", "custom")
    (custom / "index.html.gz").write_bytes(gzip.compress((custom / "index.html").read_bytes()))
    with _client(tmp_path / "data", str(custom)) as c:
        assert "<title>custom</title>" in c.get("/").text
        r = c.get("/index.html", headers={"accept-encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip" and "<title>custom</title>" in r.text


def test_large_files_stream_and_the_body_cache_stays_within_its_budget(tmp_path: Path) -> None:
    root = _build(tmp_path / "www", "big")
    big = os.urandom(webapp.SMALL + 12345)  # above the one-read size: streamed in chunks
    (root / "_app" / "immutable" / "big.bin").write_bytes(big)
    pieces = {f"/_app/immutable/p{i}.js": os.urandom(webapp.CACHE_FILE - i) for i in range(6)}  # 6 x 2 MiB > 8 MiB
    for rel, data in pieces.items():
        (root / rel.lstrip("/")).write_bytes(data)
    app = create_app(Settings(data_dir=str(tmp_path / "data"), web_root=str(root)))
    with TestClient(app) as c:
        r = c.get("/_app/immutable/big.bin")
        assert r.status_code == 200 and r.content == big and r.headers["content-length"] == str(len(big))
        for _ in range(2):
            for rel, data in pieces.items():
                assert c.get(rel).content == data
        front = app.middleware_stack
        while not isinstance(front, webapp.WebAppFront):
            front = front.app
        assert 0 < front.cache.used <= webapp.CACHE_BUDGET
        assert front.cache.used == sum(len(b) for b in front.cache.items.values())
