"""Sessions: login sessions, child sessions (cast), listing, locking and deletion."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext, Credentials
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, Forbidden
from immich_lite.repos import session as repo

_APP_RE = re.compile(r"^immich-(android|ios|unknown)/(.+)$")
_OS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"),
       ("Windows", "Windows"), ("CrOS", "Chromium OS"), ("Linux", "Linux"))
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))


def device_info(c: Credentials) -> tuple[str, str, str | None]:
    """(deviceType, deviceOS, appVersion) as upstream derives them from the User-Agent and app headers."""
    ua = c.user_agent or ""
    app = _APP_RE.match(ua)
    app_version = app.group(2) if app else None
    device_os = next((name for needle, name in _OS if needle in ua), "")
    device_type = next((name for needle, name in _BROWSERS if needle in ua), "")
    if app:
        device_os = {"android": "Android", "ios": "iOS"}.get(app.group(1), device_os)
    device_type = device_type or c.headers.get("devicemodel", "") or ""
    device_os = device_os or c.headers.get("devicetype", "") or ""
    return device_type, device_os, app_version


def create_login_session(conn: Any, user_id: str, c: Credentials) -> str:
    token = authn.new_token()
    device_type, device_os, app_version = device_info(c)
    repo.insert(conn, user_id=user_id, token_hash=authn.sha256(token), device_type=device_type,
                device_os=device_os, app_version=app_version)
    return token


def touch(ctx: Ctx, auth: AuthContext, c: Credentials) -> None:
    """Refresh updatedAt hourly and appVersion when the app changes (upstream AuthService.validateSession)."""
    s = auth.session
    assert s is not None
    _, _, app_version = device_info(c)
    stale = ids.parse_iso(s["updated_at"]) < ids.utcnow() - timedelta(seconds=authn.SESSION_REFRESH_SECONDS)
    if stale or (app_version and app_version != s["app_version"]):
        with ctx.db.write() as conn:
            repo.update(conn, s["id"], updated_at=ids.now_iso(), app_version=app_version or s["app_version"])


def map_session(row: dict[str, Any], current_id: str | None) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "current": row["id"] == current_id,
        "deviceType": row["device_type"],
        "deviceOS": row["device_os"],
        "appVersion": row["app_version"],
        "isPendingSyncReset": bool(row["is_pending_sync_reset"]),
    }
    if row["expires_at"]:
        out["expiresAt"] = row["expires_at"]
    return out


def get_all(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    current = auth.session["id"] if auth.session else None
    return [map_session(r, current) for r in repo.list_by_user(conn, auth.user_id)]


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """A child session of the caller's session, e.g. for casting (upstream SessionService.create)."""
    if not auth.session:
        raise BadRequest("This endpoint can only be used with a session token")
    token = authn.new_token()
    expires = None
    if dto.get("duration"):
        # a duration past the calendar (the spec allows up to 2^53 s) means a session that never expires
        seconds = min(int(dto["duration"]), int((datetime.max.replace(tzinfo=UTC) - ids.utcnow()).total_seconds()))
        expires = ids.iso(ids.utcnow() + timedelta(seconds=seconds))
    with ctx.db.write() as conn:
        row = repo.insert(conn, user_id=auth.user_id, token_hash=authn.sha256(token), parent_id=auth.session["id"],
                          device_type=dto.get("deviceType", ""), device_os=dto.get("deviceOS", ""),
                          expires_at=expires)
    return {**map_session(row, auth.session["id"]), "token": token}


def _own(conn: Any, auth: AuthContext, session_id: str, permission: str) -> dict[str, Any]:
    require_access(conn, auth, permission, [session_id])  # upstream: session.update / .delete / .lock
    row = repo.get(conn, session_id)
    if row is None:  # gone between the access check and here: not possible inside one write, but never a 500
        raise BadRequest(f"Not found or no {permission} access")
    return row


def update(ctx: Ctx, auth: AuthContext, session_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _own(conn, auth, session_id, "session.update")
        if "isPendingSyncReset" in dto:
            repo.update(conn, session_id, is_pending_sync_reset=int(dto["isPendingSyncReset"]))
        row = repo.get(conn, session_id)
    return map_session(row, auth.session["id"] if auth.session else None)  # type: ignore[arg-type]


def delete(ctx: Ctx, auth: AuthContext, session_id: str) -> None:
    with ctx.db.write() as conn:
        _own(conn, auth, session_id, "session.delete")
        repo.delete(conn, session_id)
    if ctx.events:
        ctx.events.emit("on_session_delete", session_id, session_id)


def delete_all(ctx: Ctx, auth: AuthContext) -> None:
    """Log out every other device; the calling session stays."""
    with ctx.db.write() as conn:
        gone = repo.delete_all_for_user(conn, auth.user_id, except_id=auth.session["id"] if auth.session else None)
    if ctx.events:
        for sid in gone:
            ctx.events.emit("on_session_delete", sid, sid)


def lock(ctx: Ctx, auth: AuthContext, session_id: str) -> None:
    with ctx.db.write() as conn:
        _own(conn, auth, session_id, "session.lock")
        repo.update(conn, session_id, pin_expires_at=None)


def get_all_for_user(ctx: Ctx, user_id: str) -> list[dict[str, Any]]:
    return [map_session(r, None) for r in repo.list_by_user(ctx.db.reader(), user_id)]


def require_session(auth: AuthContext) -> dict[str, Any]:
    if not auth.session:
        raise Forbidden("This endpoint requires a session")
    return auth.session
