"""Administration of other accounts: create, update, trash, restore, inspect (upstream UserAdminService)."""
from __future__ import annotations

import re
from typing import Any

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user_admin
from immich_lite.errors import BadRequest, Forbidden
from immich_lite.jobs import JobName, enqueue
from immich_lite.repos import session as session_repo
from immich_lite.repos import user as repo
from immich_lite.services import preferences, session, system_config
from immich_lite.services import user as user_service

_ILLEGAL = re.compile(r'[/?<>\\:*|"\x00-\x1f\x80-\x9f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def sanitize_storage_label(label: str) -> str | None:
    """Upstream: sanitize-filename(label.replaceAll('.', '')); an empty result means no label."""
    out = _ILLEGAL.sub("", label.replace(".", ""))
    out = "" if _WINDOWS_RESERVED.match(out) else out.rstrip(" ")
    out = out.encode()[:255].decode(errors="ignore")
    return out or None


def _find_or_fail(conn: Any, user_id: str, with_deleted: bool = False) -> dict[str, Any]:
    user = repo.get(conn, user_id, with_deleted=with_deleted)
    if not user:
        raise BadRequest("User not found")
    return user


def _check_storage_label(conn: Any, label: str | None, user_id: str | None) -> None:
    if label:
        other = repo.get_by_storage_label(conn, label)
        if other and other["id"] != user_id:
            raise BadRequest("Storage label already in use by another account")


def search(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    licenses = repo.licenses(conn)
    users = repo.search(conn, with_deleted=bool(query.get("withDeleted")), user_id=query.get("id"))
    return [map_user_admin(u, licenses.get(u["id"])) for u in users]


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """`notify` is accepted and ignored: there is no mail transport."""
    oauth = system_config.get_config(ctx).get("oauth", {}).get("enabled", False)
    if not oauth and not dto.get("password"):
        raise BadRequest("password is required")
    values: dict[str, Any] = {"email": dto["email"], "name": dto["name"], "is_admin": int(bool(dto.get("isAdmin")))}
    if dto.get("password"):
        values["password"] = authn.hash_password(dto["password"])
    if dto.get("pinCode"):
        values["pin_code"] = authn.hash_password(dto["pinCode"])  # upstream stores it unhashed (a bug)
    if dto.get("storageLabel"):
        values["storage_label"] = sanitize_storage_label(dto["storageLabel"])
    if "shouldChangePassword" in dto:
        values["should_change_password"] = int(dto["shouldChangePassword"])
    for key, column in (("quotaSizeInBytes", "quota_size_in_bytes"), ("avatarColor", "avatar_color")):
        if dto.get(key) is not None:
            values[column] = dto[key]
    with ctx.db.write() as conn:
        # deleted users keep their email (unique), so they count as taken too
        if repo.get_by_email(conn, dto["email"], with_deleted=True):
            raise BadRequest("Email is not available")
        if not values["is_admin"] and not repo.get_admin(conn):
            raise BadRequest("The first registered account must the administrator.")
        _check_storage_label(conn, values.get("storage_label"), None)
        user = repo.insert(conn, **values)
    return map_user_admin(user)


def get(ctx: Ctx, auth: AuthContext, user_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    return map_user_admin(_find_or_fail(conn, user_id, with_deleted=True), repo.get_metadata(conn, user_id, "license"))


def update(ctx: Ctx, auth: AuthContext, user_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, column in (("email", "email"), ("name", "name"), ("avatarColor", "avatar_color"),
                        ("quotaSizeInBytes", "quota_size_in_bytes")):
        if key in dto:
            values[column] = dto[key]
    for key, column in (("isAdmin", "is_admin"), ("shouldChangePassword", "should_change_password")):
        if key in dto:
            values[column] = int(dto[key])
    if dto.get("password"):
        values["password"] = authn.hash_password(dto["password"])
    if "pinCode" in dto:  # null resets the PIN
        values["pin_code"] = authn.hash_password(dto["pinCode"]) if dto["pinCode"] else None
    if "storageLabel" in dto:
        values["storage_label"] = sanitize_storage_label(dto["storageLabel"]) if dto["storageLabel"] else None
    with ctx.db.write() as conn:
        user = _find_or_fail(conn, user_id)
        if "isAdmin" in dto and dto["isAdmin"] != auth.is_admin and auth.user_id == user_id:
            raise BadRequest("Admin status can only be changed by another admin")
        if dto.get("email"):
            other = repo.get_by_email(conn, dto["email"], with_deleted=True)
            if other and other["id"] != user_id:
                raise BadRequest("Email is not available")
        _check_storage_label(conn, values.get("storage_label"), user_id)
        if dto.get("quotaSizeInBytes") and dto["quotaSizeInBytes"] != user["quota_size_in_bytes"]:
            repo.sync_usage(conn, user_id)
        user = repo.update(conn, user_id, **values)
        license_ = repo.get_metadata(conn, user_id, "license")
    return map_user_admin(user, license_)


def delete(ctx: Ctx, auth: AuthContext, user_id: str, dto: dict[str, Any] | None) -> dict[str, Any]:
    """Trash the user (restorable until the delete delay passes); `force` removes them now, in a job.

    Their sessions end at once: a later restore must not revive old tokens.
    """
    force = bool((dto or {}).get("force"))
    with ctx.db.write() as conn:
        _find_or_fail(conn, user_id)
        if auth.user_id == user_id:
            raise Forbidden("Cannot delete your own account")
        repo.soft_delete_albums(conn, user_id)
        user = repo.update(conn, user_id, status="removing" if force else "deleted", deleted_at=ids.now_iso())
        gone = session_repo.delete_all_for_user(conn, user_id)
        if force:
            enqueue(conn, JobName.USER_DELETE, {"id": user_id, "force": True})
        license_ = repo.get_metadata(conn, user_id, "license")
    if ctx.events:
        for sid in gone:
            ctx.events.emit("on_session_delete", sid, sid)
        ctx.events.emit("on_user_delete", "all", user_id)
    return map_user_admin(user, license_)


def restore(ctx: Ctx, auth: AuthContext, user_id: str) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _find_or_fail(conn, user_id, with_deleted=True)
        repo.restore_albums(conn, user_id)
        user = repo.restore(conn, user_id)
        license_ = repo.get_metadata(conn, user_id, "license")
    return map_user_admin(user, license_)


def get_sessions(ctx: Ctx, auth: AuthContext, user_id: str) -> list[dict[str, Any]]:
    return session.get_all_for_user(ctx, user_id)


def get_statistics(ctx: Ctx, auth: AuthContext, user_id: str, query: dict[str, Any]) -> dict[str, Any]:
    return repo.asset_stats(ctx.db.reader(), user_id, visibility=query.get("visibility"),
                            is_favorite=query.get("isFavorite"), is_trashed=query.get("isTrashed"))


def get_preferences(ctx: Ctx, auth: AuthContext, user_id: str) -> dict[str, Any]:
    _find_or_fail(ctx.db.reader(), user_id, with_deleted=True)
    return preferences.get_for_user(ctx, user_id)


def update_preferences(ctx: Ctx, auth: AuthContext, user_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _find_or_fail(conn, user_id)
        return preferences.update_for_user(ctx, user_id, dto)


def get_calendar_heatmap(ctx: Ctx, auth: AuthContext, user_id: str, query: dict[str, Any]) -> dict[str, Any]:
    _find_or_fail(ctx.db.reader(), user_id)
    return user_service.calendar_heatmap(ctx, user_id, query)
