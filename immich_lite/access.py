"""One access module (upstream utils/access.ts + access.repository.ts): permission → who may, as a table.

`require_access` demands that *every* requested id is allowed, else 400 "Not found or no <perm> access",
so existence never leaks. Locked assets need an elevated (PIN) session and are never reachable through
albums, partners or shared links (stricter than upstream, issues #29526/#28652).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from immich_lite.auth import AuthContext
from immich_lite.errors import BadRequest

Check = Callable[[Any, AuthContext, set[str]], set[str]]


def _in(ids: set[str]) -> tuple[str, list[str]]:
    idl = sorted(ids)
    return ",".join("?" * len(idl)), idl


def _query(conn: Any, sql: str, ids: set[str], *args: Any) -> set[str]:
    if not ids:
        return set()
    marks, idl = _in(ids)
    return {r["id"] for r in conn.execute(sql.format(ids=marks), [*args, *idl])}


# --- assets ---------------------------------------------------------------------------------------

def asset_owner(conn: Any, auth: AuthContext, ids: set[str], elevated: bool | None = None) -> set[str]:
    allow_locked = auth.is_elevated if elevated is None else elevated
    locked = "" if allow_locked else " AND visibility != 'locked'"
    return _query(conn, "SELECT id FROM asset WHERE owner_id = ? AND id IN ({ids})" + locked, ids, auth.user_id)


def asset_owner_unlocked(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return asset_owner(conn, auth, ids, elevated=False)


_ALBUMS_OF_USER = ("SELECT a.id FROM album a WHERE a.deleted_at IS NULL AND (a.owner_id = ? OR EXISTS "
                   "(SELECT 1 FROM album_user au WHERE au.album_id = a.id AND au.user_id = ?))")


def asset_album(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    # the asset, or the live-photo video of an asset, in an album I own or am a member of
    sql = ("SELECT x.id FROM asset x WHERE x.id IN ({ids}) AND x.deleted_at IS NULL AND x.visibility != 'locked' "
           "AND EXISTS (SELECT 1 FROM album_asset aa JOIN asset s ON s.id = aa.asset_id "
           f"WHERE aa.album_id IN ({_ALBUMS_OF_USER}) AND (s.id = x.id OR s.live_photo_video_id = x.id) "
           "AND s.visibility != 'locked')")
    if not ids:
        return set()
    marks, idl = _in(ids)
    return {r["id"] for r in conn.execute(sql.format(ids=marks), [*idl, auth.user_id, auth.user_id])}


def asset_partner(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return _query(conn, "SELECT a.id FROM asset a JOIN partner p ON p.shared_by_id = a.owner_id "
                        "JOIN \"user\" u ON u.id = a.owner_id "
                        "WHERE p.shared_with_id = ? AND u.deleted_at IS NULL AND a.deleted_at IS NULL "
                        "AND a.visibility IN ('timeline', 'hidden') AND a.id IN ({ids})", ids, auth.user_id)


def asset_shared_link(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    link = auth.shared_link
    assert link is not None
    sql = ("SELECT x.id FROM asset x WHERE x.id IN ({ids}) AND x.visibility != 'locked' AND ("
           "EXISTS (SELECT 1 FROM shared_link_asset sa JOIN asset s ON s.id = sa.asset_id "
           "        WHERE sa.shared_link_id = ? AND (s.id = x.id OR s.live_photo_video_id = x.id)) OR "
           "EXISTS (SELECT 1 FROM album_asset aa JOIN asset s ON s.id = aa.asset_id JOIN album al ON al.id = aa.album_id "
           "        WHERE aa.album_id = ? AND al.deleted_at IS NULL AND s.visibility != 'locked' "
           "        AND (s.id = x.id OR s.live_photo_video_id = x.id)))")
    if not ids:
        return set()
    marks, idl = _in(ids)
    return {r["id"] for r in conn.execute(sql.format(ids=marks), [*idl, link["id"], link["album_id"]])}


def asset_shared_link_download(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return asset_shared_link(conn, auth, ids) if auth.shared_link and auth.shared_link["allow_download"] else set()


def link_owner_assets(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    assert auth.shared_link is not None
    return _query(conn, "SELECT id FROM asset WHERE owner_id = ? AND visibility != 'locked' AND id IN ({ids})",
                  ids, auth.shared_link["user_id"])


# --- albums ---------------------------------------------------------------------------------------

def album_owner(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return _query(conn, "SELECT id FROM album WHERE owner_id = ? AND deleted_at IS NULL AND id IN ({ids})",
                  ids, auth.user_id)


def _album_member(role: str) -> Check:
    roles = ("editor",) if role == "editor" else ("editor", "viewer")

    def check(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
        return _query(conn, "SELECT a.id FROM album a JOIN album_user au ON au.album_id = a.id "
                            f"WHERE au.user_id = ? AND a.deleted_at IS NULL AND au.role IN ({','.join('?' * len(roles))}) "
                            "AND a.id IN ({ids})", ids, auth.user_id, *roles)
    return check


def album_shared_link(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    link = auth.shared_link
    assert link is not None
    return {link["album_id"]} & ids if link["album_id"] else set()


def _link_flag(flag: str, check: Check) -> Check:
    def guarded(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
        return check(conn, auth, ids) if auth.shared_link and auth.shared_link[flag] else set()
    return guarded


def _owned(table: str, column: str = "owner_id") -> Check:
    def check(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
        return _query(conn, f"SELECT id FROM {table} WHERE {column} = ? AND id IN ({{ids}})", ids, auth.user_id)
    return check


def _self(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return {auth.user_id} & ids


def timeline_partner(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    marks, idl = _in(ids)
    return {r["shared_by_id"] for r in conn.execute(
        f"SELECT shared_by_id FROM partner WHERE shared_with_id = ? AND shared_by_id IN ({marks})",
        [auth.user_id, *idl])}


def face_owner(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return _query(conn, "SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id "
                        "WHERE a.owner_id = ? AND f.id IN ({ids})", ids, auth.user_id)


def activity_create(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return _query(conn, "SELECT a.id FROM album a WHERE a.is_activity_enabled = 1 AND a.deleted_at IS NULL "
                        "AND (a.owner_id = ? OR EXISTS (SELECT 1 FROM album_user au WHERE au.album_id = a.id "
                        "AND au.user_id = ?)) AND a.id IN ({ids})", ids, auth.user_id, auth.user_id)


def activity_delete(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    return _query(conn, "SELECT ac.id FROM activity ac JOIN album al ON al.id = ac.album_id "
                        "WHERE (ac.user_id = ? OR al.owner_id = ?) AND ac.id IN ({ids})", ids, auth.user_id,
                  auth.user_id)


def partner_update(conn: Any, auth: AuthContext, ids: set[str]) -> set[str]:
    # ids are the sharedById of rows shared with me
    return timeline_partner(conn, auth, ids)


_ASSET_READ = (asset_owner, asset_album, asset_partner)

USER_RULES: dict[str, tuple[Check, ...]] = {
    "asset.read": _ASSET_READ, "asset.view": _ASSET_READ, "asset.download": _ASSET_READ,
    "asset.share": (asset_owner_unlocked, asset_partner),
    "asset.update": (asset_owner,), "asset.delete": (asset_owner,), "asset.copy": (asset_owner,),
    "asset.edit.create": (asset_owner,), "asset.edit.delete": (asset_owner,), "asset.derive": (asset_owner,), "asset.replace": (asset_owner,),
    "asset.upload": (_self,), "archive.read": (_self,), "timeline.download": (_self,),
    "timeline.read": (_self, timeline_partner),
    "album.read": (album_owner, _album_member("viewer")), "album.download": (album_owner, _album_member("viewer")),
    # upstream access.ts AlbumUpdate: the owner or an editor (name, description, thumbnail, order, activity)
    "album.update": (album_owner, _album_member("editor")), "album.delete": (album_owner,),
    "album.share": (album_owner,),
    "albumAsset.create": (album_owner, _album_member("editor")),
    "albumAsset.delete": (album_owner, _album_member("editor")),
    "activity.create": (activity_create,), "activity.delete": (activity_delete,),
    "face.delete": (face_owner,), "person.create": (face_owner,), "person.reassign": (face_owner,),
    "person.read": (_owned("person"),), "person.update": (_owned("person"),),
    "person.delete": (_owned("person"),), "person.merge": (_owned("person"),),
    "notification.read": (_owned("notification", "user_id"),),
    "notification.update": (_owned("notification", "user_id"),),
    "notification.delete": (_owned("notification", "user_id"),),
    "tag.read": (_owned("tag", "user_id"),), "tag.update": (_owned("tag", "user_id"),),
    "tag.delete": (_owned("tag", "user_id"),), "tag.asset": (_owned("tag", "user_id"),),
    "memory.read": (_owned("memory"),), "memory.update": (_owned("memory"),), "memory.delete": (_owned("memory"),),
    "stack.read": (_owned("stack"),), "stack.update": (_owned("stack"),), "stack.delete": (_owned("stack"),),
    "session.read": (_owned("session", "user_id"),), "session.update": (_owned("session", "user_id"),),
    "session.delete": (_owned("session", "user_id"),), "session.lock": (_owned("session", "user_id"),),
    "sharedLink.read": (_owned("shared_link", "user_id"),), "sharedLink.update": (_owned("shared_link", "user_id"),),
    "sharedLink.delete": (_owned("shared_link", "user_id"),),
    "partner.update": (partner_update,),
}

SHARED_LINK_RULES: dict[str, tuple[Check, ...]] = {
    "asset.read": (asset_shared_link,), "asset.view": (asset_shared_link,),
    "asset.download": (asset_shared_link_download,),
    "asset.share": (link_owner_assets,),
    "album.read": (album_shared_link,), "album.download": (_link_flag("allow_download", album_shared_link),),
    "albumAsset.create": (_link_flag("allow_upload", album_shared_link),),
}


def check_access(conn: Any, auth: AuthContext, permission: str, ids: Iterable[str]) -> set[str]:
    """The subset of ids the caller may use with this permission (default: none)."""
    wanted = set(ids)
    rules = SHARED_LINK_RULES if auth.shared_link is not None else USER_RULES
    allowed: set[str] = set()
    for check in rules.get(permission, ()):
        remaining = wanted - allowed
        if not remaining:
            break
        allowed |= check(conn, auth, remaining)
    return allowed


def require_access(conn: Any, auth: AuthContext, permission: str, ids: Iterable[str]) -> None:
    """:raises BadRequest: any id not allowed (same answer whether it exists or not)."""
    wanted = set(ids)
    if not wanted:
        return
    if check_access(conn, auth, permission, wanted) != wanted:
        raise BadRequest(f"Not found or no {permission} access")
