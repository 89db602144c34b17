"""Shared links through HTTP with real uploads: CRUD, link callers' reach, passwords, expiry, flags, /share pages."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from immich_lite import jobs
from immich_lite.api import share_page
from immich_lite.app import create_app
from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "el_torcal_rocks.jpg"
PNG = CORPUS / "png" / "png.png"
NO_ID = "00000000-0000-4000-8000-000000000000"
PAST = "2001-01-01T00:00:00.000Z"
COOKIE = "immich_shared_link_token"


@pytest.fixture
def app(settings: Any) -> Any:
    """The app, with the /share pages mounted before the catch-all if app.py does not do it yet."""
    a = create_app(settings)
    paths = [getattr(r, "path", "") for r in a.router.routes]
    if "/share/{key:path}" not in paths:
        at = paths.index("/")  # frontdoor's fallback routes come last
        a.router.routes[at:at] = share_page.routes(a.state.ctx)
    return a


@pytest.fixture
def other(client: Any, admin: Actor) -> Actor:
    return make_user(client, admin, "user2@immich.cloud", "User Two")


def _asset(actor: Actor, path: Path = JPEG) -> str:
    r = upload(actor, path, filename=f"{secrets.token_hex(4)}-{path.name}")
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _album(actor: Actor, asset_ids: list[str], name: str = "Trip") -> str:
    r = actor.post("/api/albums", json={"albumName": name, "assetIds": asset_ids})
    return str(assert_schema(r, "createAlbum")["id"])


def _link(actor: Actor, **body: Any) -> dict[str, Any]:
    return assert_schema(actor.post("/api/shared-links", json=body), "createSharedLink")


def _as_link(client: Any, method: str, path: str, key: str, **kw: Any) -> Any:
    client.cookies.clear()
    cookies = kw.pop("cookies", None)
    if cookies:
        client.cookies.update(cookies)
    try:
        return client.request(method, path, params={"key": key, **kw.pop("params", {})}, **kw)
    finally:
        client.cookies.clear()


@pytest.fixture
def shared(admin: Actor, ctx: Any) -> dict[str, str]:
    """An album with one asset, plus one asset of the same owner outside it; thumbnails generated."""
    inside, outside = _asset(admin), _asset(admin, PNG)
    album_id = _album(admin, [inside])
    jobs.drain(ctx)
    return {"inside": inside, "outside": outside, "album": album_id}


# --- owner CRUD ------------------------------------------------------------------------------------

def test_crud_round_trip(admin: Actor, other: Actor, shared: dict[str, str]) -> None:
    link = _link(admin, type="ALBUM", albumId=shared["album"], description="hi", slug="trip", password="pw")
    assert link["album"]["id"] == shared["album"] and link["album"]["hasSharedLink"] is True
    assert link["allowUpload"] is True and link["allowDownload"] is True and link["showMetadata"] is True
    assert link["password"] == "pw" and link["slug"] == "trip" and link["assets"] == []
    assert len(link["key"]) == 67  # base64url of 50 bytes, unpadded
    ind = _link(admin, type="INDIVIDUAL", assetIds=[shared["outside"]], showMetadata=False)
    assert ind["showMetadata"] is False and ind["allowDownload"] is False  # no metadata ⇒ no downloads
    assert [a["id"] for a in ind["assets"]] == [shared["outside"]]

    listed = assert_schema(admin.get("/api/shared-links"), "getAllSharedLinks")
    assert {x["id"] for x in listed} == {link["id"], ind["id"]}
    by_album = assert_schema(admin.get("/api/shared-links", params={"albumId": shared["album"]}), "getAllSharedLinks")
    assert [x["id"] for x in by_album] == [link["id"]]
    assert [x["id"] for x in admin.get("/api/shared-links", params={"id": ind["id"]}).json()] == [ind["id"]]
    assert other.get("/api/shared-links").json() == []

    got = assert_schema(admin.get(f"/api/shared-links/{link['id']}"), "getSharedLinkById")
    assert got["key"] == link["key"]
    assert_error(other.get(f"/api/shared-links/{link['id']}"), 400, "Shared link not found")

    r = admin.patch(f"/api/shared-links/{link['id']}", json={"description": "new", "allowUpload": False,
                                                               "password": None})
    upd = assert_schema(r, "updateSharedLink")
    assert (upd["description"], upd["allowUpload"], upd["password"], upd["slug"]) == ("new", False, None, "trip")
    upd = assert_schema(admin.patch(f"/api/shared-links/{link['id']}", json={"showMetadata": False}),
                        "updateSharedLink")
    assert upd["allowDownload"] is False
    assert_error(other.patch(f"/api/shared-links/{link['id']}", json={"description": "x"}), 400)
    assert_error(admin.post("/api/shared-links", json={"type": "INDIVIDUAL", "assetIds": [shared["inside"]],
                                                        "slug": "trip"}), 400, "Failed to save shared link")

    assert_error(other.delete(f"/api/shared-links/{link['id']}"), 400, "Shared link not found")
    assert admin.delete(f"/api/shared-links/{link['id']}").status_code == 204
    assert_error(admin.get(f"/api/shared-links/{link['id']}"), 400, "Shared link not found")


def test_create_requires_share_access(admin: Actor, other: Actor, shared: dict[str, str]) -> None:
    assert_error(admin.post("/api/shared-links", json={"type": "ALBUM"}), 400, "Invalid albumId")
    assert_error(admin.post("/api/shared-links", json={"type": "INDIVIDUAL", "assetIds": []}), 400,
                 "Invalid assetIds")
    assert_error(other.post("/api/shared-links", json={"type": "ALBUM", "albumId": shared["album"]}), 400,
                 "Not found or no album.share access")
    assert_error(other.post("/api/shared-links", json={"type": "INDIVIDUAL", "assetIds": [shared["inside"]]}),
                 400, "Not found or no asset.share access")
    # an INDIVIDUAL link does not smuggle in someone else's album
    mine = _asset(other)
    link = _link(other, type="INDIVIDUAL", assetIds=[mine], albumId=shared["album"])
    assert "album" not in link
    assert_error(other.client.get(f"/api/albums/{shared['album']}", params={"key": link["key"]}), 400)


def test_individual_link_assets(admin: Actor, other: Actor, shared: dict[str, str], client: Any) -> None:
    link = _link(admin, type="INDIVIDUAL", assetIds=[shared["inside"]])
    stranger = _asset(other)
    r = admin.put(f"/api/shared-links/{link['id']}/assets",
                  json={"assetIds": [shared["inside"], shared["outside"], stranger]})
    assert assert_schema(r, "addSharedLinkAssets") == [
        {"assetId": shared["inside"], "success": False, "error": "duplicate"},
        {"assetId": shared["outside"], "success": True},
        {"assetId": stranger, "success": False, "error": "no_permission"}]
    assert _as_link(client, "GET", f"/api/assets/{shared['outside']}", link["key"]).status_code == 200
    r = admin.delete(f"/api/shared-links/{link['id']}/assets", json={"assetIds": [shared["outside"], NO_ID]})
    assert assert_schema(r, "removeSharedLinkAssets") == [
        {"assetId": shared["outside"], "success": True}, {"assetId": NO_ID, "success": False, "error": "not_found"}]
    assert _as_link(client, "GET", f"/api/assets/{shared['outside']}", link["key"]).status_code == 400  # at once
    album_link = _link(admin, type="ALBUM", albumId=shared["album"])
    assert_error(admin.put(f"/api/shared-links/{album_link['id']}/assets", json={"assetIds": [shared["outside"]]}),
                 400, "Invalid shared link type")
    assert_error(_as_link(client, "GET", "/api/albums", link["key"]), 403)


# --- what a link caller reaches ----------------------------------------------------------------------

def test_album_link_reads_its_album_and_nothing_else(admin: Actor, shared: dict[str, str], client: Any) -> None:
    key = _link(admin, type="ALBUM", albumId=shared["album"])["key"]
    album = assert_schema(_as_link(client, "GET", f"/api/albums/{shared['album']}", key), "getAlbumInfo")
    assert album["id"] == shared["album"]
    assert assert_schema(_as_link(client, "GET", f"/api/assets/{shared['inside']}", key), "getAssetInfo")["id"] \
        == shared["inside"]
    thumb = _as_link(client, "GET", f"/api/assets/{shared['inside']}/thumbnail", key)
    assert thumb.status_code == 200 and thumb.content
    assert _as_link(client, "GET", f"/api/assets/{shared['inside']}/original", key).status_code == 200
    for path in (f"/api/assets/{shared['outside']}", f"/api/assets/{shared['outside']}/thumbnail",
                 f"/api/assets/{shared['outside']}/original"):
        assert_error(_as_link(client, "GET", path, key), 400)
    me = assert_schema(_as_link(client, "GET", "/api/shared-links/me", key), "getMySharedLink")
    assert me["album"]["id"] == shared["album"] and me["password"] is None
    assert [u["role"] for u in me["album"]["albumUsers"]] == ["owner"]  # not the other members
    assert_error(_as_link(client, "GET", "/api/shared-links", key), 403)
    assert_error(_as_link(client, "GET", "/api/shared-links/me", "not-a-key"), 401, "Invalid share key")


def test_password_link_refuses_every_route_until_login(admin: Actor, shared: dict[str, str], client: Any) -> None:
    link = _link(admin, type="ALBUM", albumId=shared["album"], password="s3cret")
    key, a = link["key"], shared["inside"]
    routes = [f"/api/assets/{a}", f"/api/assets/{a}/thumbnail", f"/api/assets/{a}/original",
              f"/api/albums/{shared['album']}", "/api/shared-links/me"]
    for path in routes:
        assert_error(_as_link(client, "GET", path, key), 401, "Password required")
    # GHSA-78x4-6x83-jx75: the password in the URL is ignored
    assert_error(_as_link(client, "GET", "/api/shared-links/me", key, params={"password": "s3cret"}), 401,
                 "Password required")
    assert_error(_as_link(client, "POST", "/api/shared-links/login", key, json={"password": "nope"}), 401,
                 "Invalid password")
    r = _as_link(client, "POST", "/api/shared-links/login", key, json={"password": "s3cret"})
    body = assert_schema(r, "sharedLinkLogin")
    assert body["id"] == link["id"] and body["password"] is None
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=") and "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie \
        and "Path=/" in set_cookie
    token = r.cookies[COOKIE]
    for path in routes:
        assert _as_link(client, "GET", path, key, cookies={COOKIE: token}).status_code == 200, path
    # a password change takes effect on the very next request
    admin.patch(f"/api/shared-links/{link['id']}", json={"password": "other"})
    assert_error(_as_link(client, "GET", f"/api/assets/{a}", key, cookies={COOKIE: token}), 401, "Password required")
    # login needs a link credential; a plain user is the wrong kind of caller; no link password to check
    assert_error(client.post("/api/shared-links/login", json={"password": "x"}), 401, "Authentication required")
    assert_error(admin.post("/api/shared-links/login", json={"password": "x"}), 403)
    open_key = _link(admin, type="ALBUM", albumId=shared["album"])["key"]
    assert_error(_as_link(client, "POST", "/api/shared-links/login", open_key, json={"password": "x"}), 400,
                 "Shared link is not password protected")


def test_wrong_link_passwords_are_throttled(admin: Actor, shared: dict[str, str], client: Any) -> None:
    key = _link(admin, type="ALBUM", albumId=shared["album"], password="right")["key"]
    for _ in range(10):
        assert_error(_as_link(client, "POST", "/api/shared-links/login", key, json={"password": "wrong"}), 401)
    r = _as_link(client, "POST", "/api/shared-links/login", key, json={"password": "right"})
    assert_error(r, 429)
    assert int(r.headers["retry-after"]) > 0


def test_expired_link_is_refused_everywhere(admin: Actor, shared: dict[str, str], client: Any) -> None:
    link = _link(admin, type="ALBUM", albumId=shared["album"])
    key, a = link["key"], shared["inside"]
    assert _as_link(client, "GET", f"/api/assets/{a}/thumbnail", key).status_code == 200
    upd = assert_schema(admin.patch(f"/api/shared-links/{link['id']}", json={"expiresAt": PAST}), "updateSharedLink")
    assert upd["expiresAt"] == PAST
    for path in (f"/api/assets/{a}", f"/api/assets/{a}/thumbnail", f"/api/assets/{a}/original",
                 f"/api/albums/{shared['album']}", "/api/shared-links/me"):
        assert_error(_as_link(client, "GET", path, key), 401, "Invalid share key")
    client.cookies.clear()
    assert client.get(f"/share/{key}").status_code == 404
    admin.patch(f"/api/shared-links/{link['id']}", json={"expiresAt": None})
    assert _as_link(client, "GET", f"/api/assets/{a}", key).status_code == 200


def test_download_and_metadata_flags(admin: Actor, shared: dict[str, str], client: Any) -> None:
    link = _link(admin, type="ALBUM", albumId=shared["album"], allowDownload=False)
    key, a = link["key"], shared["inside"]
    assert_error(_as_link(client, "GET", f"/api/assets/{a}/original", key), 400)
    r = _as_link(client, "POST", "/api/download/archive", key, json={"assetIds": [a]})
    assert r.status_code in (400, 401, 403), r.text
    assert _as_link(client, "GET", f"/api/assets/{a}/thumbnail", key).status_code == 200
    admin.patch(f"/api/shared-links/{link['id']}", json={"allowDownload": True})  # applies immediately
    assert _as_link(client, "GET", f"/api/assets/{a}/original", key).status_code == 200
    assert _as_link(client, "POST", "/api/download/archive", key, json={"assetIds": [a]}).status_code == 200
    admin.patch(f"/api/shared-links/{link['id']}", json={"allowDownload": False})
    assert_error(_as_link(client, "GET", f"/api/assets/{a}/original", key), 400)

    full = _as_link(client, "GET", f"/api/assets/{a}", key).json()
    assert "exifInfo" in full and full["originalFileName"].endswith("el_torcal_rocks.jpg")
    admin.patch(f"/api/shared-links/{link['id']}", json={"showMetadata": False})
    info = _as_link(client, "GET", f"/api/assets/{a}", key).json()
    # upstream's SanitizedAssetResponseDto (mapAsset stripMetadata): exactly these keys, whatever the spec says
    assert set(info) == {"id", "type", "originalMimeType", "thumbhash", "localDateTime", "duration",
                         "livePhotoVideoId", "hasMetadata", "width", "height"}
    assert info["id"] == a and info["hasMetadata"] is False and info["originalMimeType"] == "image/jpeg"
    me = _as_link(client, "GET", "/api/shared-links/me", key).json()
    assert me["showMetadata"] is False and me["allowDownload"] is False
    individual = _link(admin, type="INDIVIDUAL", assetIds=[a], showMetadata=False)
    me = _as_link(client, "GET", "/api/shared-links/me", individual["key"]).json()
    assert len(me["assets"]) == 1 and me.get("album") is None  # upstream e2e: no exif, dates or names of the file
    assert not {"exifInfo", "fileCreatedAt", "originalFileName", "originalPath"} & set(me["assets"][0])
    thumb = _as_link(client, "GET", f"/api/assets/{a}/thumbnail", key)
    assert "el_torcal" not in thumb.headers.get("content-disposition", "")


def _asset_count(ctx: Any) -> int:
    return int(ctx.db.reader().execute("SELECT count(*) AS n FROM asset").fetchone()["n"])


def _upload_files(ctx: Any) -> int:
    root = Path(ctx.settings.data_path) / "upload"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_upload_through_link(admin: Actor, shared: dict[str, str], client: Any, ctx: Any) -> None:
    link = _link(admin, type="ALBUM", albumId=shared["album"], allowUpload=False)
    before, files = _asset_count(ctx), _upload_files(ctx)
    anon = Actor(client, "", "", "", "")
    client.cookies.clear()
    r = upload(anon, data=b"\xff\xd8" + secrets.token_bytes(2000), filename="x.jpg", headers={"Authorization": ""},
               params={"key": link["key"]})
    assert r.status_code in (401, 403), r.text
    assert _asset_count(ctx) == before and _upload_files(ctx) == files

    admin.patch(f"/api/shared-links/{link['id']}", json={"allowUpload": True})
    r = upload(anon, PNG, filename="from-guest.png", headers={"Authorization": ""}, params={"key": link["key"]},
               fields={"deviceAssetId": "guest-1"})
    assert r.status_code in (200, 201), r.text
    new_id = r.json()["id"]
    info = admin.get(f"/api/assets/{new_id}").json()
    assert info["ownerId"] == admin.id
    album = admin.get(f"/api/albums/{shared['album']}").json()
    assert album["assetCount"] == 2


# --- /share pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ['"><script>alert(1)</script>', '0;url=https://evil" http-equiv="refresh'])
def test_share_page_escapes_user_values(admin: Actor, shared: dict[str, str], client: Any, name: str) -> None:
    admin.patch(f"/api/albums/{shared['album']}", json={"albumName": name})
    link = _link(admin, type="ALBUM", albumId=shared["album"], description=name + "</title>", slug="s-" + name[:3])
    client.cookies.clear()
    for path in (f"/share/{link['key']}", f"/s/{link['slug']}"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert "<script>" not in page and "http-equiv" not in page.replace("http-equiv=&quot;", "")
        assert page.count("<meta property=\"og:title\"") == 1 and page.count("</title>") == 1
        assert '<meta property="og:image" content="http' in page and f"key={link['key']}" in page
        assert "default-src 'none'" in r.headers["content-security-policy"]


def test_share_page_password_and_invalid(admin: Actor, shared: dict[str, str], client: Any) -> None:
    key = _link(admin, type="ALBUM", albumId=shared["album"], password="pw")["key"]
    client.cookies.clear()
    r = client.get(f"/share/{key}")
    assert r.status_code == 200 and "og:" not in r.text and "Trip" not in r.text
    assert client.get("/share/" + "A" * 67).status_code == 404
    assert client.get("/s/nope").status_code == 404
    ind = _link(admin, type="INDIVIDUAL", assetIds=[shared["outside"]])
    page = client.get(f"/share/{ind['key']}").text
    assert 'content="Public Share"' in page and "1 shared photos &amp; videos" in page
    assert f"/api/assets/{shared['outside']}/thumbnail" in page


def test_share_page_meta_tags_as_upstream(admin: Actor, shared: dict[str, str], client: Any) -> None:
    # upstream e2e shared-link "GET /share/:key": self-closing tags, its count text, its og:image fallbacks
    album = _link(admin, type="ALBUM", albumId=shared["album"])
    assets = _link(admin, type="INDIVIDUAL", assetIds=[shared["outside"]], slug="one-asset")
    client.cookies.clear()
    page = client.get(f"/share/{assets['key']}").text
    assert '<meta name="description" content="1 shared photos &amp; videos" />' in page
    assert '<meta property="og:image" content="http://testserver/api/assets/' in page
    assert '<meta property="og:type" content="website" />' in page
    assert '<meta name="description" content="1 shared photos &amp; videos" />' in client.get("/s/one-asset").text
    count = admin.get(f"/api/albums/{shared['album']}").json()["assetCount"]
    assert f'<meta name="description" content="{count} shared photos &amp; videos" />' in \
        client.get(f"/share/{album['key']}").text
    page = client.get(f"/share/{assets['key']}", headers={"Host": ""}).text  # no Host: upstream's own domain
    assert '<meta property="og:image" content="https://my.immich.app/api/assets/' in page
    config = admin.get("/api/system-config").json()
    config["server"]["externalDomain"] = "https://photos.example.org"
    assert admin.put("/api/system-config", json=config).status_code == 200
    page = client.get(f"/share/{assets['key']}").text
    assert '<meta property="og:image" content="https://photos.example.org/api/assets/' in page
    admin.patch(f"/api/shared-links/{assets['id']}", json={"description": "Tom's <b>trip</b>"})
    assert 'content="Tom&#39;s &lt;b&gt;trip&lt;/b&gt;" />' in client.get(f"/share/{assets['key']}").text
    r = client.get("/share/invalid-key")
    assert r.status_code == 404 and "og:" not in r.text
