"""Albums: listing, CRUD, assets and members (upstream AlbumService, album.service.ts).

Deliberately stricter than upstream 3.1.0 (GHSA-c9mf-h82r-8p4j, RELIABILITY-AND-SECURITY §1.4): album.update and
album.share are owner-only (access.py), so editors can neither edit the album nor change anyone's role.
"""
from __future__ import annotations

from typing import Any

from immich_lite.access import check_access, require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.album import day_start, map_album, map_marker, sort_users
from immich_lite.errors import BadRequest
from immich_lite.repos import album as repo
from immich_lite.repos import user as user_repo
from immich_lite.services import preferences
from immich_lite.services.bulk_ids import plan_add, plan_remove
from immich_lite.spec import parse_uuid

Row = dict[str, Any]


# --- shared helpers --------------------------------------------------------------------------------

def _find_or_fail(conn: Any, album_id: str) -> Row:
    album = repo.get(conn, album_id)
    if album is None:
        raise BadRequest("Album not found")
    return album


def _members(conn: Any, album_ids: list[str], auth_user_id: str | None) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {a: [] for a in album_ids}
    for row in repo.get_users(conn, album_ids):
        out[row["album_id"]].append(row)
    return {a: sort_users(users, auth_user_id) for a, users in out.items()}


def _span_response(conn: Any, album: Row, auth_user_id: str) -> dict[str, Any]:
    """mapAlbum over the album with its assets loaded (create, update, addUsers)."""
    span = repo.asset_span(conn, album["id"])
    start, end = span["first"], span["last"]
    if start and end and start > end:  # Immich: mapAlbum swaps them when the order says so
        start, end = end, start
    return map_album(album, _members(conn, [album["id"]], auth_user_id)[album["id"]],
                     has_shared_link=bool(repo.with_shared_links(conn, [album["id"]])),
                     asset_count=span["asset_count"], start_date=start, end_date=end)


def _list_response(conn: Any, albums: list[Row], auth_user_id: str) -> list[dict[str, Any]]:
    album_ids = [a["id"] for a in albums]
    members = _members(conn, album_ids, auth_user_id)
    links = repo.with_shared_links(conn, album_ids)
    meta = repo.metadata_for_ids(conn, album_ids)
    out = []
    for album in albums:
        m = meta.get(album["id"]) or {}
        out.append(map_album(album, members[album["id"]], has_shared_link=album["id"] in links,
                             asset_count=m.get("asset_count", 0), start_date=day_start(m.get("start_day")),
                             end_date=day_start(m.get("end_day")), last_modified=m.get("last_modified")))
    return out


def _refresh_thumbnails(ctx: Ctx, album_ids: list[str]) -> None:
    """Upstream runs updateThumbnails before every read; here only when something is actually stale."""
    if repo.stale_thumbnails(ctx.db.reader(), album_ids):
        with ctx.db.write() as conn:
            repo.update_thumbnails(conn, album_ids)


def _emit_update(ctx: Ctx, album_id: str, user_ids: list[str]) -> None:
    # Immich: notification.service onAlbumUpdate sends on_album_update to every member
    if ctx.events:
        for user_id in user_ids:
            ctx.events.emit("on_album_update", user_id, album_id)


def _member_ids(conn: Any, album_id: str) -> list[str]:
    return [u["id"] for u in repo.get_users(conn, [album_id])]


# --- reads -----------------------------------------------------------------------------------------

def get_statistics(ctx: Ctx, auth: AuthContext) -> dict[str, int]:
    row = repo.count_for_user(ctx.db.reader(), auth.user_id)
    return {"owned": row["owned"], "shared": row["shared"], "notShared": row["not_shared"]}


def get_all(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    if query.get("assetId"):  # Immich: assetId ignores the other filters
        albums = repo.list_by_asset(conn, auth.user_id, query["assetId"])
    else:
        albums = repo.list_for_user(conn, auth.user_id, is_owned=query.get("isOwned"),
                                    is_shared=query.get("isShared"), album_id=query.get("id"),
                                    name=query.get("name"))
    if not albums:
        return []
    album_ids = [a["id"] for a in albums]
    _refresh_thumbnails(ctx, album_ids)
    with ctx.db.read() as conn:
        fresh = {a["id"]: a for a in repo.get_many(conn, album_ids)}
        return _list_response(conn, [fresh[i] for i in album_ids if i in fresh], auth.user_id)


def get(ctx: Ctx, auth: AuthContext, album_id: str) -> dict[str, Any]:
    require_access(ctx.db.reader(), auth, "album.read", [album_id])
    _refresh_thumbnails(ctx, [album_id])
    with ctx.db.read() as conn:
        album = _find_or_fail(conn, album_id)
        out = _list_response(conn, [album], auth.user_id)[0]
        if out["shared"]:
            out["contributorCounts"] = [{"userId": c["user_id"], "assetCount": c["asset_count"]}
                                        for c in repo.contributor_counts(conn, album_id)]
        return out


def get_map_markers(ctx: Ctx, auth: AuthContext, album_id: str) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    require_access(conn, auth, "album.read", [album_id])
    if auth.shared_link is not None and not auth.shared_link["show_exif"]:
        return []
    return [map_marker(r) for r in repo.map_markers(conn, album_id)]


# --- album CRUD ------------------------------------------------------------------------------------

def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    members: dict[str, str] = {}
    for u in dto.get("albumUsers") or []:
        if u["userId"] != auth.user_id:  # Immich: the owner is never added as a member of its own album
            members.setdefault(u["userId"], u["role"])
    with ctx.db.write() as conn:
        for user_id in members:
            if user_repo.get(conn, user_id) is None:
                raise BadRequest("Invalid user")
        if "owner" in members.values():  # one owner per album here (album.owner_id)
            raise BadRequest("Cannot add another owner")
        wanted = list(dict.fromkeys(dto.get("assetIds") or []))
        allowed = check_access(conn, auth, "asset.share", wanted)  # Immich: others' assets are silently skipped
        asset_ids = [a for a in wanted if a in allowed]
        prefs = preferences.resolve(user_repo.get_metadata(conn, auth.user_id, preferences.KEY))
        album_id = repo.insert(conn, owner_id=auth.user_id, album_name=dto["albumName"],
                               description=dto.get("description") or "",
                               order=prefs["albums"]["defaultAssetOrder"],
                               album_thumbnail_asset_id=asset_ids[0] if asset_ids else None)
        repo.add_assets(conn, album_id, asset_ids)
        for user_id, role in members.items():
            repo.add_user(conn, album_id, user_id, role)
        return _span_response(conn, _find_or_fail(conn, album_id), auth.user_id)


def update(ctx: Ctx, auth: AuthContext, album_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "album.update", [album_id])
        _find_or_fail(conn, album_id)
        thumb = dto.get("albumThumbnailAssetId")
        if thumb and not repo.get_asset_ids(conn, album_id, [thumb]):
            raise BadRequest("Invalid album thumbnail")
        values: dict[str, Any] = {}
        if "albumName" in dto:
            values["album_name"] = dto["albumName"]
        if "description" in dto:
            values["description"] = dto["description"] or ""
        if thumb:
            values["album_thumbnail_asset_id"] = thumb
        if "isActivityEnabled" in dto:
            values["is_activity_enabled"] = int(dto["isActivityEnabled"])
        if "order" in dto:
            values["order"] = dto["order"]
        repo.update(conn, album_id, **values)
        return _span_response(conn, _find_or_fail(conn, album_id), auth.user_id)


def delete(ctx: Ctx, auth: AuthContext, album_id: str) -> None:
    """Hard delete; the album_audit trigger tells syncing clients."""
    with ctx.db.write() as conn:
        require_access(conn, auth, "album.delete", [album_id])
        repo.delete(conn, album_id)


# --- assets ----------------------------------------------------------------------------------------

def add_assets(ctx: Ctx, auth: AuthContext, album_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    """Per id: success, or duplicate / no_permission (upstream asset.util addAssets)."""
    with ctx.db.write() as conn:
        require_access(conn, auth, "albumAsset.create", [album_id])
        album = _find_or_fail(conn, album_id)
        existing = repo.get_asset_ids(conn, album_id, dto["ids"])
        allowed = check_access(conn, auth, "asset.share", [a for a in dto["ids"] if a not in existing])
        results, added = plan_add(dto["ids"], existing, allowed)
        members: list[str] = []
        if added:
            repo.add_assets(conn, album_id, added)
            repo.update(conn, album_id, album_thumbnail_asset_id=album["album_thumbnail_asset_id"] or added[0])
            members = _member_ids(conn, album_id)
    _emit_update(ctx, album_id, members)
    return results


def add_assets_to_albums(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """One verdict for the whole request (upstream addAssetsToAlbums): success if anything was added."""
    result: dict[str, Any] = {"success": False, "error": "duplicate"}
    events: list[tuple[str, list[str]]] = []
    with ctx.db.write() as conn:
        album_ids = list(dict.fromkeys(dto["albumIds"]))
        allowed_albums = check_access(conn, auth, "albumAsset.create", album_ids)
        if not allowed_albums:
            return {"success": False, "error": "no_permission"}
        wanted = list(dict.fromkeys(dto["assetIds"]))
        allowed = check_access(conn, auth, "asset.share", wanted)
        asset_ids = [a for a in wanted if a in allowed]
        if not asset_ids:
            return {"success": False, "error": "no_permission"}
        for album_id in (a for a in album_ids if a in allowed_albums):
            existing = repo.get_asset_ids(conn, album_id, asset_ids)
            new = [a for a in asset_ids if a not in existing]
            if not new:
                continue
            album = _find_or_fail(conn, album_id)
            result = {"success": True}
            repo.add_assets(conn, album_id, new)
            repo.update(conn, album_id, album_thumbnail_asset_id=album["album_thumbnail_asset_id"] or new[0])
            events.append((album_id, _member_ids(conn, album_id)))
    for album_id, members in events:
        _emit_update(ctx, album_id, members)
    return result


def remove_assets(ctx: Ctx, auth: AuthContext, album_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    """The owner may remove anything; an editor only assets it could share (its own, its partners')."""
    with ctx.db.write() as conn:
        require_access(conn, auth, "albumAsset.delete", [album_id])
        album = _find_or_fail(conn, album_id)
        existing = repo.get_asset_ids(conn, album_id, dto["ids"])
        # Immich: asset.util removeAssets with canAlwaysRemove = album.delete
        if check_access(conn, auth, "album.delete", [album_id]):
            allowed = set(existing)
        else:
            allowed = check_access(conn, auth, "asset.share", existing)
        results, removed = plan_remove(dto["ids"], existing, allowed)
        members: list[str] = []
        if removed:
            repo.remove_assets(conn, album_id, removed)
            if album["album_thumbnail_asset_id"] in removed:
                repo.update_thumbnails(conn, [album_id])
            members = _member_ids(conn, album_id)
    _emit_update(ctx, album_id, members)
    return results


# --- members ---------------------------------------------------------------------------------------

def add_users(ctx: Ctx, auth: AuthContext, album_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "album.share", [album_id])
        album = _find_or_fail(conn, album_id)
        present = {album["owner_id"], *(u["id"] for u in repo.get_users(conn, [album_id]))}
        for item in dto["albumUsers"]:
            role = item.get("role") or "editor"
            if role == "owner":
                raise BadRequest("Cannot add another owner")
            if item["userId"] in present:
                continue
            if user_repo.get(conn, item["userId"]) is None:
                raise BadRequest("Invalid user")
            repo.add_user(conn, album_id, item["userId"], role)
            present.add(item["userId"])
        return _span_response(conn, _find_or_fail(conn, album_id), auth.user_id)


def _user_param(auth: AuthContext, user_id: str) -> str:
    return auth.user_id if user_id == "me" else parse_uuid(user_id, "userId")


def remove_user(ctx: Ctx, auth: AuthContext, album_id: str, user_id: str) -> None:
    """Non-owners may remove themselves (leave); only the owner removes others; the owner cannot leave."""
    user_id = _user_param(auth, user_id)
    with ctx.db.write() as conn:
        if not check_access(conn, auth, "album.read", [album_id]):
            # one denial shape for "exists but not yours" and "does not exist"
            require_access(conn, auth, "album.share", [album_id])
        album = _find_or_fail(conn, album_id)
        member = next((u for u in repo.get_users(conn, [album_id]) if u["id"] == user_id), None)
        if member is None:
            raise BadRequest("Album not shared with user")
        if member["role"] == "owner":
            raise BadRequest("Cannot remove the last album owner")
        if user_id != auth.user_id:
            require_access(conn, auth, "album.share", [album_id])
        repo.remove_user(conn, album["id"], user_id)


def update_user(ctx: Ctx, auth: AuthContext, album_id: str, user_id: str, dto: dict[str, Any]) -> None:
    """Owner only (album.share): an editor can never change a role, its own included."""
    user_id = _user_param(auth, user_id)
    with ctx.db.write() as conn:
        require_access(conn, auth, "album.share", [album_id])
        album = _find_or_fail(conn, album_id)
        if album["owner_id"] == user_id:
            raise BadRequest("User is owner")
        if dto["role"] == "owner":
            raise BadRequest("Cannot add another owner")
        repo.update_user(conn, album_id, user_id, dto["role"])
