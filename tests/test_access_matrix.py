"""Access matrix generated from the route table × actors × targets (RELIABILITY-AND-SECURITY §2, §1 #2/4/5/6/8/16/18).

One module-scoped server: owner A with real corpus JPEGs (private, in a shared album, archived, locked, in an
individual link), album members E (editor) and V (viewer), partner P, stranger S, admin M (not the owner), API keys
of A, and shared links with every flag. Every cell has an expected outcome computed from the rules; a denied cell
must look exactly like a call on a random id and carry none of the target's private bytes.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from immich_lite import jobs
from immich_lite.app import route_table
from tests.conftest import ADMIN, CORPUS, Actor, login
from tests.helpers.upload import upload

PAST = "2001-01-01T00:00:00.000Z"
COOKIE = "immich_shared_link_token"
FILES = {"private": "Canon_EOS_D60.jpg", "album": "Olympus_PEN_E-P3.jpg", "archived": "Panasonic_DMC-LC40.jpg",
         "locked": "Samsung_GT-I9000_Galaxy_S_.jpg", "linked": "Sony_DSC-HX5V_2_.jpg", "spare": "fujifilm-dx10.jpg"}
ASSET_TARGETS = ["private", "album", "archived", "locked", "linked"]
ALBUM_TARGETS = ["shared_album", "private_album"]
USERS = ["owner", "owner_elevated", "key_all", "editor", "viewer", "partner", "stranger", "admin"]
# name -> (scope, allowDownload, showMetadata, allowUpload, password state, expired)
LINKS: dict[str, tuple[str, bool, bool, bool, str, bool]] = {
    "link_full": ("album", True, True, True, "", False),
    "link_nodl": ("album", False, True, False, "", False),
    "link_nometa": ("album", False, False, False, "", False),
    "link_indiv": ("indiv", True, True, False, "", False),
    "link_pw_locked": ("album", True, True, True, "locked", False),
    "link_pw_open": ("album", True, True, True, "open", False),
    "link_expired": ("album", True, True, True, "", True),
}
ACTORS = ["anon", *USERS, "key_noperm", *LINKS]
READS = {"asset.read", "asset.view", "asset.download"}
DENIED_MSG = re.compile(r"^Not found or no [\w.]+ access$")


# --- the server ----------------------------------------------------------------------------------------------

@dataclass
class Env:
    client: Any
    actors: dict[str, Actor]
    keys: dict[str, str]
    links: dict[str, dict[str, Any]]
    cookie: str
    assets: dict[str, str]
    albums: dict[str, str]
    secrets: dict[str, dict[str, Any]]  # target -> {original, thumb, filename, make}
    extra: dict[str, str]

    def send(self, actor: str, method: str, url: str, body: Any = None) -> Any:
        c = self.client
        c.cookies.clear()
        headers: dict[str, str] = {}
        if actor in self.actors:
            headers = self.actors[actor].headers
        elif actor in ("key_all", "key_noperm"):
            headers = {"x-api-key": self.keys[actor]}
        elif actor in LINKS:
            url += ("&" if "?" in url else "?") + "key=" + self.links[actor]["key"]
            if LINKS[actor][4] == "open":
                c.cookies.set(COOKIE, self.cookie)
        try:
            return c.request(method, url, headers=headers, json=body)
        finally:
            c.cookies.clear()

    @property
    def elevated(self) -> Actor:
        return self.actors["owner_elevated"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from starlette.testclient import TestClient

    from immich_lite.app import create_app
    from immich_lite.config import Settings

    app = create_app(Settings(data_dir=str(tmp_path_factory.mktemp("matrix") / "data"), workers=1))
    with TestClient(app) as client:
        assert client.post("/api/auth/admin-sign-up", json=ADMIN).status_code == 201
        d = login(client, ADMIN["email"], ADMIN["password"])
        m = Actor(client, d["accessToken"], d["userId"], ADMIN["email"], ADMIN["password"])

        def user(name: str) -> Actor:
            email = f"{name}@matrix.test"
            r = m.post("/api/admin/users", json={"email": email, "name": name, "password": "pw-" + name})
            assert r.status_code == 201, r.text
            data = login(client, email, "pw-" + name)
            return Actor(client, data["accessToken"], data["userId"], email, "pw-" + name)

        a = user("owner")
        d = login(client, a.email, a.password)
        a2 = Actor(client, d["accessToken"], d["userId"], a.email, a.password)
        assert a.post("/api/auth/pin-code", json={"pinCode": "123456"}).status_code in (200, 201, 204)
        assert a2.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code == 204
        actors = {"owner": a, "owner_elevated": a2, "editor": user("editor"), "viewer": user("viewer"),
                  "partner": user("partner"), "stranger": user("stranger"), "admin": m}
        extra = {"x": user("xmember").id, "y": user("yguest").id}

        assets: dict[str, str] = {}
        for t, fname in FILES.items():
            r = upload(a, CORPUS / "jpeg" / fname, filename=f"zz-secret-{t}-name.jpg")
            assert r.status_code == 201, r.text
            assets[t] = r.json()["id"]
        jobs.drain(app.state.ctx, timeout=120)

        r = a.post("/api/albums", json={"albumName": "SecretSharedAlbumName", "assetIds": [assets["album"], assets["locked"]],
                                        "albumUsers": [{"userId": actors["editor"].id, "role": "editor"},
                                                       {"userId": actors["viewer"].id, "role": "viewer"},
                                                       {"userId": extra["x"], "role": "viewer"}]})
        assert r.status_code == 201, r.text
        albums = {"shared_album": r.json()["id"]}
        r = a.post("/api/albums", json={"albumName": "SecretPrivateAlbumName"})
        albums["private_album"] = r.json()["id"]
        assert a.post("/api/partners", json={"sharedWithId": actors["partner"].id}).status_code == 201
        assert a.put(f"/api/assets/{assets['archived']}", json={"visibility": "archive"}).status_code == 200

        links: dict[str, dict[str, Any]] = {}
        for name, (scope, dl, meta, up, pw, _exp) in LINKS.items():
            body: dict[str, Any] = {"allowDownload": dl, "showMetadata": meta, "allowUpload": up}
            if scope == "album":
                body.update(type="ALBUM", albumId=albums["shared_album"])
            else:
                body.update(type="INDIVIDUAL", assetIds=[assets["linked"]])
            if pw:
                body["password"] = "link-pw"
            r = a.post("/api/shared-links", json=body)
            assert r.status_code == 201, r.text
            links[name] = r.json()
        # the secret snapshot: what the owner (elevated) sees, taken before locking so the locked asset is complete
        secrets_: dict[str, dict[str, Any]] = {}
        for t, aid in assets.items():
            info = a2.get(f"/api/assets/{aid}").json()
            thumb = a2.get(f"/api/assets/{aid}/thumbnail")
            assert thumb.status_code == 200, thumb.text
            orig = (CORPUS / "jpeg" / FILES[t]).read_bytes()
            make = (info.get("exifInfo") or {}).get("make")
            assert make, info
            secrets_[t] = {"original": orig[len(orig) // 2:len(orig) // 2 + 48],
                           "thumb": thumb.content[len(thumb.content) // 2:len(thumb.content) // 2 + 48],
                           "filename": f"zz-secret-{t}-name", "make": make}
        # #5: lock through the single-asset endpoint after it was put in the shared album
        assert a2.put(f"/api/assets/{assets['locked']}", json={"visibility": "locked"}).status_code == 200
        # password link: log in once for the token cookie
        client.cookies.clear()
        r = client.post("/api/shared-links/login", params={"key": links["link_pw_open"]["key"]},
                        json={"password": "link-pw"})
        assert r.status_code in (200, 201), r.text
        cookie = r.cookies[COOKIE]
        client.cookies.clear()
        r = a.patch(f"/api/shared-links/{links['link_expired']['id']}", json={"expiresAt": PAST})
        assert r.status_code == 200, r.text
        keys = {}
        for k, perms in (("key_all", ["all"]), ("key_noperm", ["server.about"])):
            r = a.post("/api/api-keys", json={"name": k, "permissions": perms})
            assert r.status_code == 201, r.text
            keys[k] = r.json()["secret"]
        secrets_["shared_album"] = {"filename": "SecretSharedAlbumName"}
        secrets_["private_album"] = {"filename": "SecretPrivateAlbumName"}
        yield Env(client, actors, keys, links, cookie, assets, albums, secrets_, extra)


# --- operations: how to call each route on a target --------------------------------------------------------

Build = Callable[[Env, str], tuple[str, Any]]
S0 = "00000000-0000-4000-8000-000000000001"


def _path(suffix: str = "", body: Any = None) -> Build:
    return lambda env, tid: (f"/api/assets/{tid}{suffix}", body)


def _bulk(url: str, make: Callable[[Env, str], Any]) -> Build:
    return lambda env, tid: (url, make(env, tid))


ASSET_OPS: dict[str, tuple[str, Build]] = {
    "getAssetInfo": ("asset.read", _path()),
    "updateAsset": ("asset.update", _path("", {"isFavorite": False})),
    "getAssetMetadata": ("asset.read", _path("/metadata")),
    "getAssetMetadataByKey": ("asset.read", _path("/metadata/mobile-app")),
    "updateAssetMetadata": ("asset.update", _path("/metadata", {"items": [{"key": "mobile-app", "value": {"m": 1}}]})),
    "deleteAssetMetadata": ("asset.update", _path("/metadata/mobile-app")),
    "getAssetEdits": ("asset.read", _path("/edits")),
    "editAsset": ("asset.edit", _path("/edits", {"edits": [{"action": "rotate", "parameters": {"angle": 90}}]})),
    "removeAssetEdits": ("asset.edit", _path("/edits")),
    "getAssetOcr": ("asset.read", _path("/ocr")),
    "downloadAsset": ("asset.download", _path("/original")),
    "viewAsset": ("asset.view", _path("/thumbnail")),
    "playAssetVideo": ("asset.view", _path("/video/playback")),
    "getMainPlaylist": ("asset.view", _path("/video/stream/main.m3u8")),
    "getMediaPlaylist": ("asset.view", _path(f"/video/stream/{S0}/0/playlist.m3u8")),
    "getSegment": ("asset.view", _path(f"/video/stream/{S0}/0/seg_0.m4s")),
    "endSession": ("asset.view", _path(f"/video/stream/{S0}")),
    "updateAssets": ("asset.update", _bulk("/api/assets", lambda e, t: {"ids": [t], "isFavorite": False})),
    "deleteAssets": ("asset.delete", _bulk("/api/assets", lambda e, t: {"ids": [t]})),
    "updateBulkAssetMetadata": ("asset.update", _bulk("/api/assets/metadata", lambda e, t: {
        "items": [{"assetId": t, "key": "mobile-app", "value": {"m": 1}}]})),
    "deleteBulkAssetMetadata": ("asset.update", _bulk("/api/assets/metadata", lambda e, t: {
        "items": [{"assetId": t, "key": "mobile-app"}]})),
    "copyAsset": ("asset.copy", _bulk("/api/assets/copy", lambda e, t: {
        "sourceId": t, "targetId": e.assets["spare"], "albums": False, "sharedLinks": False, "stack": False,
        "favorite": False, "sidecar": False})),
    "runAssetJobs": ("asset.update", _bulk("/api/assets/jobs", lambda e, t: {"assetIds": [t], "name": "refresh-faces"})),
    "getDownloadInfo": ("asset.download", _bulk("/api/download/info", lambda e, t: {"assetIds": [t]})),
    "downloadArchive": ("asset.download", _bulk("/api/download/archive", lambda e, t: {"assetIds": [t]})),
    "addAssetsToAlbum": ("albumAsset.create", lambda e, t: (f"/api/albums/{e.albums['shared_album']}/assets", {"ids": [t]})),
    "removeAssetFromAlbum": ("albumAsset.delete", lambda e, t: (f"/api/albums/{e.albums['shared_album']}/assets", {"ids": [t]})),
    "addAssetsToAlbums": ("albumAsset.create", _bulk("/api/albums/assets", lambda e, t: {
        "albumIds": [e.albums["shared_album"]], "assetIds": [t]})),
}
ALBUM_OPS: dict[str, tuple[str, Build]] = {
    "getAlbumInfo": ("album.read", lambda e, t: (f"/api/albums/{t}", None)),
    "getAlbumMapMarkers": ("album.read", lambda e, t: (f"/api/albums/{t}/map-markers", None)),
    "updateAlbumInfo": ("album.update", lambda e, t: (f"/api/albums/{t}", {"description": "matrix"})),
    "deleteAlbum": ("album.delete", lambda e, t: (f"/api/albums/{t}", None)),
    "addUsersToAlbum": ("album.share", lambda e, t: (f"/api/albums/{t}/users", {
        "albumUsers": [{"userId": e.extra["y"], "role": "viewer"}]})),
    "updateAlbumUser": ("album.share", lambda e, t: (f"/api/albums/{t}/user/{e.actors['editor'].id}", {"role": "editor"})),
    "removeUserFromAlbum": ("album.share", lambda e, t: (f"/api/albums/{t}/user/{e.extra['x']}", None)),
    # album side of the album-asset routes: A's album asset into/out of the album
    "addAssetsToAlbum": ("albumAsset.create", lambda e, t: (f"/api/albums/{t}/assets", {"ids": [e.assets["album"]]})),
    "removeAssetFromAlbum": ("albumAsset.delete", lambda e, t: (f"/api/albums/{t}/assets", {"ids": [e.assets["private"]]})),
}

ROUTES = {r.op.id: r for r in route_table()}


def _in_scope(r: Any) -> str | None:
    p = r.op.path
    if p.startswith("/api/assets/{id}") or r.op.id in ASSET_OPS:
        return "asset"
    if p.startswith("/api/albums/{id}"):
        return "album"
    return None


def test_every_asset_and_album_route_is_in_the_matrix() -> None:
    for r in route_table():
        kind = _in_scope(r)
        if kind == "asset":
            assert r.op.id in ASSET_OPS, f"{r.op.method} {r.op.path} has no matrix row"
        if kind == "album":
            assert r.op.id in ALBUM_OPS, f"{r.op.method} {r.op.path} has no matrix row"
    for op_id in [*ASSET_OPS, *ALBUM_OPS]:
        assert op_id in ROUTES, op_id


# --- the rules -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    kind: str  # "ok" | "deny" (400 Not found or no ... access) | "401" | "403" | item-level "no_permission"
    detail: str = ""


def _asset_ok(actor: str, perm: str, t: str) -> bool:
    if actor in ("owner", "key_all"):
        return t != "locked" if perm != "asset.share" else t != "locked"
    if actor == "owner_elevated":
        return True if perm != "asset.share" else t != "locked"
    if actor in ("editor", "viewer"):
        return perm in READS and t == "album"
    if actor == "partner":
        return perm in READS | {"asset.share"} and t in ("private", "album", "linked")
    if actor in LINKS:
        scope, dl = LINKS[actor][0], LINKS[actor][1]
        if perm == "asset.share":  # a link may share its owner's (unlocked) assets
            return t != "locked"
        in_link = t == ("album" if scope == "album" else "linked")
        return perm in READS and in_link and (perm != "asset.download" or dl)
    return False


def _album_ok(actor: str, perm: str, t: str) -> bool:
    if actor in ("owner", "owner_elevated", "key_all"):
        return True
    if actor in ("editor", "viewer"):
        if t != "shared_album":
            return False
        # an editor may also update the album's info (upstream access.ts AlbumUpdate)
        return perm in ("album.read", "album.download") or (
            actor == "editor" and (perm.startswith("albumAsset.") or perm == "album.update"))
    if actor in LINKS:
        scope, dl, _meta, up = LINKS[actor][:4]
        if scope != "album" or t != "shared_album":
            return False
        return perm == "album.read" or (perm == "album.download" and dl) or (perm == "albumAsset.create" and up)
    return False


def _auth_gate(actor: str, r: Any) -> Expect | None:
    if actor == "anon":
        return Expect("401")
    if actor == "key_noperm":
        return Expect("403", f"Missing required permission: {r.op.permission or 'all'}")
    if actor in LINKS:
        if LINKS[actor][5]:
            return Expect("401", "Invalid share key")
        if LINKS[actor][4] == "locked":
            return Expect("401", "Password required")
        if not r.op.shared_link:
            return Expect("403")
    return None


def expect(op_id: str, kind: str, actor: str, target: str) -> Expect:
    r = ROUTES[op_id]
    gate = _auth_gate(actor, r)
    if gate:
        return gate
    perm = (ASSET_OPS if kind == "asset" else ALBUM_OPS)[op_id][0]
    if kind == "album":
        return Expect("ok") if _album_ok(actor, perm, target) else Expect("deny")
    if op_id in ("addAssetsToAlbum", "removeAssetFromAlbum", "addAssetsToAlbums"):
        if not _album_ok(actor, perm, "shared_album"):
            return Expect("deny") if op_id != "addAssetsToAlbums" else Expect("no_permission")
        if op_id == "removeAssetFromAlbum":
            if target != "album":
                return Expect("item", "not_found")  # not in the album: nothing to remove
            owner = actor in ("owner", "owner_elevated", "key_all")
            return Expect("item", "" if owner else "no_permission")
        shareable = _asset_ok(actor, "asset.share", target)
        if op_id == "addAssetsToAlbums" and not shareable:  # one verdict: share is checked before duplicates
            return Expect("item", "no_permission")
        if target == "album":
            return Expect("item", "duplicate")
        return Expect("item", "" if shareable else "no_permission")
    return Expect("ok") if _asset_ok(actor, perm, target) else Expect("deny")


# --- cells -----------------------------------------------------------------------------------------------------

def _cells() -> list[Any]:
    cells = []
    for op_id, r in sorted(ROUTES.items(), key=lambda kv: (kv[1].op.path, kv[1].op.method)):
        for kind, targets, table in (("asset", ASSET_TARGETS, ASSET_OPS), ("album", ALBUM_TARGETS, ALBUM_OPS)):
            if op_id not in table:
                continue
            for method in r.methods:
                for actor in ACTORS:
                    for t in targets:
                        cells.append(pytest.param(op_id, method, kind, actor, t,
                                                  id=f"{method} {r.op.path}|{actor}|{t}"))
    return cells


CELLS = _cells()


def _leaks(env: Env, target: str, body: bytes, *, metadata_only: bool = False) -> list[str]:
    s = env.secrets[target]
    found = []
    for what in ("filename", "make"):
        if what in s and s[what].encode() in body:
            found.append(what)
    if not metadata_only:
        for what in ("original", "thumb"):
            if what in s and s[what] in body:
                found.append(what)
    return found


def _cleanup(env: Env, op_id: str, kind: str, target: str, tid: str, resp: Any) -> None:
    """Undo what an allowed mutating cell changed, as the elevated owner."""
    el = env.elevated
    if op_id == "deleteAssets":
        el.post("/api/trash/restore/assets", json={"ids": [tid]})
    elif op_id == "editAsset":
        el.delete(f"/api/assets/{tid}/edits")
    elif op_id in ("addAssetsToAlbum", "addAssetsToAlbums") and kind == "asset" and target != "album":
        el.delete(f"/api/albums/{env.albums['shared_album']}/assets", json={"ids": [tid]})
    elif op_id == "removeAssetFromAlbum" and kind == "asset" and target == "album":
        el.put(f"/api/albums/{env.albums['shared_album']}/assets", json={"ids": [tid]})
    elif op_id == "addUsersToAlbum":
        el.delete(f"/api/albums/{tid}/user/{env.extra['y']}")
    elif op_id == "removeUserFromAlbum":
        el.put(f"/api/albums/{tid}/users", json={"albumUsers": [{"userId": env.extra["x"], "role": "viewer"}]})
    elif op_id == "updateAlbumInfo":
        el.patch(f"/api/albums/{tid}", json={"description": ""})


def _call(env: Env, op_id: str, method: str, kind: str, actor: str, tid: str) -> Any:
    _perm, build = (ASSET_OPS if kind == "asset" else ALBUM_OPS)[op_id]
    url, body = build(env, tid)
    return env.send(actor, method, url, body)


def _denial_body(resp: Any) -> dict[str, Any]:
    return resp.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("op_id", "method", "kind", "actor", "target"), CELLS)
def test_cell(env: Env, op_id: str, method: str, kind: str, actor: str, target: str) -> None:
    exp = expect(op_id, kind, actor, target)
    if kind == "asset":
        tid = env.assets[target]
    else:
        tid = env.albums[target]
        if op_id == "deleteAlbum" and exp.kind == "ok":
            # a disposable copy of the album, so the shared fixture survives the owner's delete
            r = env.elevated.post("/api/albums", json={"albumName": "disposable", "albumUsers": [
                {"userId": env.actors["editor"].id, "role": "editor"}]})
            tid = r.json()["id"]
    resp = _call(env, op_id, method, kind, actor, tid)
    cell = f"{method} {ROUTES[op_id].op.path} as {actor} on {target}: expected {exp}, got {resp.status_code} {resp.text[:300]}"
    try:
        if exp.kind in ("deny", "401", "403"):
            assert resp.status_code == {"deny": 400, "401": 401, "403": 403}[exp.kind], cell
            body = resp.json()
            assert set(body) == {"message"} and resp.headers.get("x-correlation-id"), cell
            if exp.kind == "deny":
                assert DENIED_MSG.match(str(body["message"])), cell
            if exp.detail:
                assert body["message"] == exp.detail, cell
            # no existence oracle: the same call on an id that does not exist answers identically
            # (for a caller who can see the target anyway, e.g. a member refused an owner-only action, there is no oracle)
            ghost = _call(env, op_id, method, kind, actor, str(uuid.uuid4()))
            sees = _album_ok(actor, "album.read", target) if kind == "album" else _asset_ok(actor, "asset.read", target)
            assert sees or ghost.status_code == resp.status_code and _denial_body(ghost) == _denial_body(resp), \
                f"{cell}\n  random id gave {ghost.status_code} {ghost.text[:300]}"
            assert not _leaks(env, target, resp.content), f"{cell}: leaks {_leaks(env, target, resp.content)}"
        elif exp.kind == "no_permission":
            assert resp.status_code == 200, cell
            assert resp.json() == {"success": False, "error": "no_permission"}, cell
            assert not _leaks(env, target, resp.content), cell
        elif exp.kind == "item":
            assert resp.status_code == 200, cell
            body = resp.json()
            if op_id == "addAssetsToAlbums":
                want = {"success": True} if not exp.detail else {"success": False, "error": exp.detail}
                assert {k: v for k, v in body.items() if k in ("success", "error")} == want, cell
            else:
                assert len(body) == 1 and body[0]["id"] == tid, cell
                assert body[0]["success"] is (not exp.detail), cell
                if exp.detail:
                    assert body[0].get("error") == exp.detail, cell
                    ghost = _call(env, op_id, method, kind, actor, str(uuid.uuid4()))
                    if exp.detail == "no_permission":
                        assert ghost.json()[0].get("error") in ("no_permission", "not_found"), ghost.text
            if exp.detail:
                assert not _leaks(env, target, resp.content), cell
        else:  # allowed: never the access denial, never an auth refusal, never a crash
            assert resp.status_code < 500, cell
            assert resp.status_code not in (401, 403), cell
            if resp.status_code == 400:
                assert not DENIED_MSG.match(str(resp.json().get("message", ""))), cell
            if actor == "link_nometa":  # #16: showMetadata=false hides filename and EXIF everywhere
                if kind == "asset":
                    assert not _leaks(env, target, resp.content, metadata_only=True), \
                        f"{cell}: leaks {_leaks(env, target, resp.content, metadata_only=True)}"
                else:  # the album's own name is what the link shares; its asset's metadata is not
                    assert not _leaks(env, "album", resp.content, metadata_only=True), cell
    finally:
        if exp.kind in ("ok", "item") and 200 <= resp.status_code < 300:
            _cleanup(env, op_id, kind, target, tid, resp)


# --- list endpoints: a denied caller's lists omit A's assets and albums entirely ------------------------------

def _hidden_from(actor: str) -> list[str]:
    """Targets the actor may never see in any list."""
    if actor == "partner":
        return ["archived", "locked"]
    if actor in ("editor", "viewer"):
        return ["private", "archived", "locked", "linked"]
    return ASSET_TARGETS


LIST_ACTORS = ["editor", "viewer", "partner", "stranger", "admin"]


def _assert_omits(env: Env, actor: str, resp: Any, where: str) -> None:
    text = resp.text
    for t in _hidden_from(actor):
        assert env.assets[t] not in text, f"{where} as {actor}: lists A's {t} asset"
        assert not _leaks(env, t, resp.content), f"{where} as {actor}: leaks {t} {_leaks(env, t, resp.content)}"


@pytest.mark.parametrize("actor", LIST_ACTORS)
def test_list_albums(env: Env, actor: str) -> None:
    r = env.send(actor, "GET", "/api/albums")
    assert r.status_code == 200, r.text
    ids = {a["id"] for a in r.json()}
    assert env.albums["private_album"] not in ids
    assert (env.albums["shared_album"] in ids) is (actor in ("editor", "viewer")), r.text
    _assert_omits(env, actor, r, "GET /api/albums")
    r = env.send(actor, "GET", "/api/albums?isShared=true")
    assert r.status_code == 200, r.text
    _assert_omits(env, actor, r, "GET /api/albums?isShared=true")


@pytest.mark.parametrize("actor", LIST_ACTORS)
def test_list_timeline(env: Env, actor: str) -> None:
    owner_id = env.actors["owner"].id
    buckets = env.send("owner_elevated", "GET", "/api/timeline/buckets").json()
    first = env.send(actor, "GET", f"/api/timeline/buckets?userId={owner_id}")
    for vis in ("&visibility=timeline", "&visibility=archive", "&visibility=locked"):
        for b in buckets:
            rb = env.send(actor, "GET", f"/api/timeline/bucket?userId={owner_id}&timeBucket={b['timeBucket']}{vis}")
            assert rb.status_code in ((200, 400, 401) if "locked" in vis else (200, 400)), rb.text
            _assert_omits(env, actor, rb, f"GET /api/timeline/bucket{vis}")
        rb = env.send(actor, "GET", f"/api/timeline/buckets?withPartners=true{vis}")
        assert rb.status_code in ((200,) if "timeline" in vis else (400, 401)), rb.text  # #6: withPartners + archive/locked ⇒ refused
        for b in buckets:
            rb = env.send(actor, "GET", f"/api/timeline/bucket?withPartners=true&timeBucket={b['timeBucket']}{vis}")
            assert rb.status_code in ((200,) if "timeline" in vis else (400, 401)), rb.text
            _assert_omits(env, actor, rb, f"GET /api/timeline/bucket?withPartners=true{vis}")
    # timeline.read on someone else's userId: only partners (upstream requireAccess ⇒ 400)
    if actor == "partner":
        assert first.status_code == 200, first.text
    else:
        assert first.status_code == 400 and DENIED_MSG.match(first.json()["message"]), \
            f"GET /api/timeline/buckets?userId=A as {actor}: expected 400 denial, got {first.status_code} {first.text}"


@pytest.mark.parametrize("actor", LIST_ACTORS)
def test_list_map_partners_links_download(env: Env, actor: str) -> None:
    for q in ("", "?withPartners=true", "?withPartners=true&withSharedAlbums=true", "?isArchived=true&withPartners=true"):
        r = env.send(actor, "GET", f"/api/map/markers{q}")
        assert r.status_code == 200, r.text
        _assert_omits(env, actor, r, f"GET /api/map/markers{q}")
    for direction in ("shared-by", "shared-with"):
        r = env.send(actor, "GET", f"/api/partners?direction={direction}")
        assert r.status_code == 200, r.text
        ids = {p["id"] for p in r.json()}
        assert (env.actors["owner"].id in ids) is (actor == "partner" and direction == "shared-with"), r.text
    r = env.send(actor, "GET", "/api/shared-links")
    assert r.status_code == 200, r.text
    mine = {link["id"] for link in env.links.values()}
    assert not mine & {link["id"] for link in r.json()}, r.text
    _assert_omits(env, actor, r, "GET /api/shared-links")
    r = env.send(actor, "POST", "/api/download/info", {"userId": env.actors["owner"].id})
    assert r.status_code == 400 and DENIED_MSG.match(r.json()["message"]), r.text
    ghost = env.send(actor, "POST", "/api/download/info", {"userId": str(uuid.uuid4())})
    assert _denial_body(ghost) == _denial_body(r)
    r = env.send(actor, "POST", "/api/download/info", {"albumId": env.albums["shared_album"]})
    if actor in ("editor", "viewer"):
        assert r.status_code in (200, 201), r.text
        _assert_omits(env, actor, r, "POST /api/download/info {albumId}")
    else:
        assert r.status_code == 400, r.text


@pytest.mark.parametrize("actor", [a for a in LINKS if not LINKS[a][5] and LINKS[a][4] != "locked"])
def test_link_lists(env: Env, actor: str) -> None:
    """A link's album and timeline never show the locked asset (#5) nor A's other assets."""
    r = env.send(actor, "GET", f"/api/albums/{env.albums['shared_album']}")
    hidden = [t for t in ASSET_TARGETS if t != ("album" if LINKS[actor][0] == "album" else "linked")]
    if LINKS[actor][0] == "album":
        assert r.status_code == 200, r.text
    for t in hidden:
        assert env.assets[t] not in r.text, f"album via {actor} lists {t}"
    r = env.send(actor, "GET", "/api/timeline/buckets")
    for b in (r.json() if r.status_code == 200 else []):
        rb = env.send(actor, "GET", f"/api/timeline/bucket?timeBucket={b['timeBucket']}")
        for t in hidden:
            assert env.assets[t] not in rb.text, f"timeline via {actor} lists {t}"
        if not LINKS[actor][2]:
            assert not _leaks(env, "album", rb.content, metadata_only=True), rb.text
    r = env.send(actor, "GET", "/api/shared-links/me")
    assert r.status_code == 200, r.text
    for t in hidden:
        assert env.assets[t] not in r.text, f"/shared-links/me via {actor} lists {t}"
    if not LINKS[actor][2]:
        assert not _leaks(env, "album", r.content, metadata_only=True), f"/shared-links/me leaks {r.text[:300]}"
        assert env.actors["owner"].email not in r.text
