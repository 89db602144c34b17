"""Shared links (upstream SharedLinkService, shared-link.service.ts) and the Open Graph tags of /share pages.

Deliberate differences from upstream 3.1.0 (RELIABILITY-AND-SECURITY §1.2, §1.3, §1.16, §1.17):
- the password is echoed only to the link's owner; link callers (/me, /login) get `password: null` and only
  the album owner in albumUsers (AlbumResponseDto needs one), not the other members (GHSA-78x4-6x83-jx75);
- showMetadata=false forces allowDownload=false on update too, not only on create;
- an ALBUM link ignores `assetIds` and an INDIVIDUAL link ignores `albumId` (upstream stored both unchecked);
- PATCH without `slug` leaves the slug alone (upstream clears it);
- wrong link passwords are throttled per link and client address (upstream has no throttle).
"""
from __future__ import annotations

import hmac
import secrets
import time
from typing import Any, Callable
from urllib.parse import urljoin

import apsw

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.access import check_access, require_access
from immich_lite.auth import AuthContext, Credentials
from immich_lite.ctx import Ctx
from immich_lite.dto.album import day_start, map_album, sort_users
from immich_lite.dto.shared_link import key_text, map_shared_link
from immich_lite.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from immich_lite.repos import album as album_repo
from immich_lite.repos import shared_link as repo
from immich_lite.repos import user as user_repo
from immich_lite.services.asset import load_response
from immich_lite.services.bulk_ids import plan_add, plan_remove

Row = dict[str, Any]
THROTTLE_WINDOW = 15 * 60


# --- mapping ---------------------------------------------------------------------------------------

def _album_dto(conn: Any, album_id: str, *, for_owner: bool, owner_id: str) -> dict[str, Any] | None:
    album = album_repo.get(conn, album_id)
    if album is None:
        return None
    users = sort_users(list(album_repo.get_users(conn, [album_id])), owner_id)
    if not for_owner:  # a link caller sees the owner only (upstream loads just `owner`), not the other members
        users = [u for u in users if u["role"] == "owner"]
    meta = album_repo.metadata_for_ids(conn, [album_id]).get(album_id) or {}
    return map_album(album, users, has_shared_link=True, asset_count=meta.get("asset_count", 0),
                     start_date=day_start(meta.get("start_day")), end_date=day_start(meta.get("end_day")),
                     last_modified=meta.get("last_modified"))


def _map(ctx: Ctx, conn: Any, link: Row, auth: AuthContext, *, asset_limit: int | None = None) -> dict[str, Any]:
    for_owner = auth.shared_link is None
    assets = []
    for a in repo.assets(conn, link["id"], asset_limit):
        dto = load_response(ctx, conn, a, auth)
        if not for_owner:
            dto["isFavorite"] = False  # favourites are the owner's
        assets.append(dto)
    album = _album_dto(conn, link["album_id"], for_owner=for_owner, owner_id=link["user_id"]) \
        if link["album_id"] else None
    return map_shared_link(link, assets=assets, album=album, show_password=for_owner)


def _find_or_fail(conn: Any, user_id: str, link_id: str) -> Row:
    link = repo.get(conn, user_id, link_id)
    if link is None:
        raise BadRequest("Shared link not found")
    return link



# --- owner operations ------------------------------------------------------------------------------

def get_all(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.read() as conn:
        links = repo.get_all(conn, auth.user_id, link_id=query.get("id"), album_id=query.get("albumId"))
        return [_map(ctx, conn, link, auth, asset_limit=1) for link in links]


def get(ctx: Ctx, auth: AuthContext, link_id: str) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return _map(ctx, conn, _find_or_fail(conn, auth.user_id, link_id), auth)


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    conn = ctx.db.reader()
    album_id, asset_ids = None, []
    if dto["type"] == "ALBUM":
        if not dto.get("albumId"):
            raise BadRequest("Invalid albumId")
        require_access(conn, auth, "album.share", [dto["albumId"]])
        album_id = dto["albumId"]
    else:
        asset_ids = list(dict.fromkeys(dto.get("assetIds") or []))
        if not asset_ids:
            raise BadRequest("Invalid assetIds")
        require_access(conn, auth, "asset.share", asset_ids)
    show_exif = dto.get("showMetadata", True) is not False
    allow_download = dto.get("allowDownload", True) is not False and show_exif
    values = {
        "user_id": auth.user_id, "key": secrets.token_bytes(50), "type": dto["type"], "album_id": album_id,
        "description": dto.get("description") or None, "password": dto.get("password") or None,
        "expires_at": ids.stored_iso(dto.get("expiresAt")),
        "allow_upload": int(dto.get("allowUpload", True) is not False),  # Immich: `allowUpload ?? true`
        "allow_download": int(allow_download), "show_exif": int(show_exif), "slug": dto.get("slug") or None,
    }
    try:
        with ctx.db.write() as wconn:
            link_id = repo.insert(wconn, **values)
            repo.add_assets(wconn, link_id, asset_ids)
    except apsw.ConstraintError:
        raise BadRequest("Failed to save shared link") from None  # slug taken; the message does not say so
    return get(ctx, auth, link_id)


def update(ctx: Ctx, auth: AuthContext, link_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    try:
        with ctx.db.write() as conn:
            link = _find_or_fail(conn, auth.user_id, link_id)
            values: dict[str, Any] = {}
            if "description" in dto:
                values["description"] = dto["description"]
            if "password" in dto:
                values["password"] = dto["password"] or None
            if "expiresAt" in dto:
                values["expires_at"] = ids.stored_iso(dto["expiresAt"])
            if "slug" in dto:
                values["slug"] = dto["slug"] or None
            for field, column in (("allowUpload", "allow_upload"), ("allowDownload", "allow_download"),
                                  ("showMetadata", "show_exif")):
                if dto.get(field) is not None:
                    values[column] = int(bool(dto[field]))
            if not values.get("show_exif", link["show_exif"]):
                values["allow_download"] = 0  # no metadata ⇒ no originals (which carry it)
            repo.update(conn, link_id, **values)
    except apsw.ConstraintError:
        raise BadRequest("Failed to save shared link") from None
    return get(ctx, auth, link_id)


def remove(ctx: Ctx, auth: AuthContext, link_id: str) -> None:
    with ctx.db.write() as conn:
        _find_or_fail(conn, auth.user_id, link_id)
        repo.delete(conn, link_id)


def add_assets(ctx: Ctx, auth: AuthContext, link_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    link = _find_or_fail(conn, auth.user_id, link_id)
    if link["type"] != "INDIVIDUAL":
        raise BadRequest("Invalid shared link type")
    existing = repo.asset_ids(conn, link_id)
    wanted = list(dict.fromkeys(dto["assetIds"]))
    allowed = check_access(conn, auth, "asset.share", [a for a in wanted if a not in existing])
    results, added = plan_add(dto["assetIds"], existing, allowed)
    with ctx.db.write() as wconn:
        repo.add_assets(wconn, link_id, added)
    return _asset_id_results(results)


def remove_assets(ctx: Ctx, auth: AuthContext, link_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        link = _find_or_fail(conn, auth.user_id, link_id)
        if link["type"] != "INDIVIDUAL":
            raise BadRequest("Invalid shared link type")
        removed = repo.remove_assets(conn, link_id, list(dict.fromkeys(dto["assetIds"])))
    # already removed, so every removed id is allowed: absent ones and repeats are not_found
    return _asset_id_results(plan_remove(dto["assetIds"], removed, removed)[0])


def _asset_id_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BulkIdResponseDto → AssetIdsResponseDto: the same results keyed `assetId` instead of `id`."""
    return [{"assetId": r.pop("id"), **r} for r in results]


# --- link callers ----------------------------------------------------------------------------------

def get_mine(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    if auth.shared_link is None:
        raise Forbidden("Forbidden")
    with ctx.db.read() as conn:
        link = _find_or_fail(conn, auth.user_id, auth.shared_link["id"])
        # auth.resolve already refused a password link without its token cookie; `?password=` is never read
        return _map(ctx, conn, link, AuthContext(user=auth.user, shared_link=link))


def find_valid(conn: Any, key: str | None, slug: str | None) -> tuple[Row, Row] | None:
    """(link, owner) for a key or slug that names a live link, ignoring its password (login, /share pages)."""
    link = None
    if key:
        raw = authn.decode_share_key(key)
        link = repo.find_by_key(conn, raw) if raw else None
    elif slug:
        link = repo.find_by_slug(conn, slug)
    if link is None or (link["expires_at"] and link["expires_at"] <= ids.now_iso()):
        return None
    owner = user_repo.get(conn, link["user_id"])
    if owner is None or owner.get("deleted_at"):
        return None
    if link["album_id"] and album_repo.get(conn, link["album_id"]) is None:
        return None
    return link, owner


def _bucket(link_id: str, ip: str) -> str:
    return f"link:{link_id}|{ip}"


def login(ctx: Ctx, creds: Credentials, parse_body: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """POST /shared-links/login: (SharedLinkResponseDto, cookie token). Runs without route auth (see api)."""
    conn = ctx.db.reader()
    key = creds.headers.get("x-immich-share-key") or creds.query.get("key")
    slug = creds.headers.get("x-immich-share-slug") or creds.query.get("slug")
    if not key and not slug:
        other = authn.resolve(conn, creds)  # a user session / API key is the wrong kind of caller
        if other is None:
            raise Unauthorized("Authentication required")
        raise Forbidden("Forbidden")
    found = find_valid(conn, key, slug)
    if found is None:
        raise Unauthorized("Invalid share key")
    link, owner = found
    dto = parse_body()
    if not link["password"]:
        raise BadRequest("Shared link is not password protected")
    bucket, since = _bucket(link["id"], creds.client_ip), time.time() - THROTTLE_WINDOW
    row = conn.execute("SELECT count(*) AS n, min(at) AS first FROM login_attempt WHERE bucket = ? AND at > ?",
                       (bucket, since)).fetchone()
    if row["n"] >= ctx.settings.login_max_failures:
        retry = max(1, int(row["first"] + THROTTLE_WINDOW - time.time()))
        raise TooManyRequests("Too many failed attempts, try again later", headers={"Retry-After": str(retry)})
    if not hmac.compare_digest(str(dto["password"]).encode(), str(link["password"]).encode()):
        now = time.time()
        with ctx.db.write() as wconn:
            wconn.execute("INSERT INTO login_attempt (bucket, at) VALUES (?, ?)", (bucket, now))
            wconn.execute("DELETE FROM login_attempt WHERE at < ?", (now - THROTTLE_WINDOW,))
        raise Unauthorized("Invalid password")
    with ctx.db.write() as wconn:
        wconn.execute("DELETE FROM login_attempt WHERE bucket = ?", (bucket,))
    link_auth = AuthContext(user=owner, shared_link=link)
    with ctx.db.read() as rconn:
        return _map(ctx, rconn, link, link_auth), authn.shared_link_token(link)


def metadata_tags(ctx: Ctx, *, key: str | None = None, slug: str | None = None,
                  base_url: str) -> tuple[bool, dict[str, str] | None]:
    """(valid, tags) for GET /share/<key> and /s/<slug>; tags are None for password links (upstream)."""
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    with ctx.db.read() as conn:
        found = find_valid(conn, key, slug)
        if found is None:
            return False, None
        link = found[0]
        if link["password"]:
            return True, None
        album = album_repo.get(conn, link["album_id"]) if link["album_id"] else None
        own = repo.assets(conn, link["id"])
        asset_id = (album["album_thumbnail_asset_id"] if album else None) or (own[0]["id"] if own else None)
        count = len(own) or (repo.album_asset_count(conn, album["id"]) if album else 0)
        domain = str(get_config(ctx, conn)["server"].get("externalDomain") or "") or base_url
    path = f"/api/assets/{asset_id}/thumbnail?key={key_text(link['key'])}" if asset_id else "/feature-panel.png"
    return True, {"title": album["album_name"] if album else "Public Share",
                  "description": link["description"] or f"{count} shared photos & videos",
                  "imageUrl": urljoin(domain, path)}  # upstream: new URL(path, domain).href
