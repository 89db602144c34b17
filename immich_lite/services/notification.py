"""Notifications (upstream NotificationService and NotificationAdminService).

immich-lite has no mail transport: the test email fails honestly, and email templates are only previewed.
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from immich_lite import ids
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.notification import map_notification
from immich_lite.errors import BadRequest
from immich_lite.repos import notification as repo
from immich_lite.repos import user as user_repo
from immich_lite.services import system_config

NO_SMTP = "immich-lite cannot send email"


def _parse_time(value: str | None) -> str | None:
    """A client timestamp in the one stored format (UTC, milliseconds)."""
    if value is None:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    dt = datetime.fromisoformat(text)
    return ids.iso(dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc))


def _require_access(conn: Any, auth: AuthContext, notification_ids: list[str], permission: str) -> None:
    """Immich: requireAccess with NotificationAccess.checkOwnerAccess."""
    if repo.owned_ids(conn, auth.user_id, notification_ids) != set(notification_ids):
        raise BadRequest(f"Not found or no {permission} access")


def search(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> list[dict[str, Any]]:
    rows = repo.search(ctx.db.reader(), auth.user_id, id=query.get("id"), level=query.get("level"),
                       type=query.get("type"), unread=bool(query.get("unread")))
    return [map_notification(r) for r in rows]


def get(ctx: Ctx, auth: AuthContext, notification_id: str) -> dict[str, Any]:
    """:raises BadRequest: not the caller's, or deleted."""
    conn = ctx.db.reader()
    _require_access(conn, auth, [notification_id], "notification.read")
    row = repo.get(conn, notification_id)
    if row is None:
        raise BadRequest("Notification not found")
    return map_notification(row)


def update(ctx: Ctx, auth: AuthContext, notification_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _require_access(conn, auth, [notification_id], "notification.update")
        if "readAt" in dto:
            repo.set_read_at(conn, [notification_id], _parse_time(dto["readAt"]), only_live=True)
        row = repo.get(conn, notification_id)
    if row is None:
        raise BadRequest("Notification not found")
    return map_notification(row)


def update_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    notification_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        _require_access(conn, auth, notification_ids, "notification.update")
        if "readAt" in dto:
            repo.set_read_at(conn, notification_ids, _parse_time(dto["readAt"]))


def delete(ctx: Ctx, auth: AuthContext, notification_id: str) -> None:
    with ctx.db.write() as conn:
        _require_access(conn, auth, [notification_id], "notification.delete")
        repo.soft_delete(conn, [notification_id])


def delete_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    notification_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        _require_access(conn, auth, notification_ids, "notification.delete")
        repo.soft_delete(conn, notification_ids)


def cleanup(ctx: Ctx) -> None:
    """Immich: NotificationsCleanup job (nightly): drop old deleted, read and very old unread notifications."""
    now = ids.utcnow()

    def ago(days: int) -> str:
        return ids.iso(now - timedelta(days=days))  # type: ignore[return-value]

    with ctx.db.write() as conn:
        repo.cleanup(conn, deleted_before=ago(3), read_before=ago(2), created_before=ago(15),
                     unread_created_before=ago(30))


# --- admin ------------------------------------------------------------------------------------------

def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """Immich: NotificationAdminService.create (readAt in the body is ignored, as upstream).

    :raises BadRequest: no such user.
    """
    with ctx.db.write() as conn:
        if user_repo.get(conn, dto["userId"]) is None:
            raise BadRequest("User not found")
        row = repo.create(conn, user_id=dto["userId"], level=dto.get("level") or "info",
                          type=dto.get("type") or "Custom", title=dto["title"],
                          description=dto.get("description"), data=dto.get("data"))
    out = map_notification(row)
    if ctx.events:
        ctx.events.emit("on_notification", dto["userId"], out)
    return out


def send_test_email(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """Upstream verifies the SMTP transport first and answers 400 when that fails; immich-lite has none.

    :raises BadRequest: always.
    """
    raise BadRequest(f"Failed to verify SMTP configuration: {NO_SMTP}")


# --- email template previews (upstream renders React email components; this is plain HTML) -----------------

_SAMPLES: dict[str, dict[str, str]] = {
    "welcome": {"displayName": "John Doe", "username": "john@doe.com", "password": "thisIsAPassword123"},
    "album-invite": {"albumId": "1", "albumName": "John Doe's Favorites", "senderName": "John Doe",
                     "recipientName": "Jane Doe"},
    "album-update": {"albumId": "1", "albumName": "Favorite Photos", "recipientName": "Jane Doe"},
}
_CONFIG_TEMPLATE = {"welcome": "welcomeTemplate", "album-invite": "albumInviteTemplate",
                    "album-update": "albumUpdateTemplate"}
_PREVIEW = {"welcome": "You have been invited to a new Immich instance.",
            "album-invite": "You have been added to a shared album.",
            "album-update": "New media has been added to a shared album."}


def _replace_tags(template: str, variables: dict[str, str]) -> str:
    """Immich: replaceTemplateTags: {name} → value, unknown tags stay as they are."""
    return re.sub(r"\{(.*?)\}", lambda m: html.escape(variables[m[1]], quote=False)
                  if variables.get(m[1]) else m[0], template)


def _default_body(name: str, v: dict[str, str]) -> str:
    e = {k: html.escape(x) for k, x in v.items()}
    if name == "welcome":
        return (f"<p>Hey <strong>{e['displayName']}</strong>!</p><p>A new account has been created for you.</p>"
                f"<p><strong>Username</strong>: {e['username']}<br/><strong>Password</strong>: {e['password']}</p>")
    if name == "album-invite":
        return (f"<p>Hey <strong>{e['recipientName']}</strong>!</p>"
                f"<p>{e['senderName']} has added you to the album <strong>{e['albumName']}</strong>.</p>")
    return (f"<p>Hey <strong>{e['recipientName']}</strong>!</p>"
            f"<p>New media has been added to <strong>{e['albumName']}</strong>.<br/> Check it out!</p>")


def _layout(preview: str, content: str, button_href: str, button: str, hint: str, link: str) -> str:
    href = html.escape(link)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/></head>'
        '<body style="background-color:#f4f4f4;font-family:Overpass,sans-serif;color:#1f2937">'
        f'<div style="display:none">{html.escape(preview)}</div>'
        '<div style="max-width:465px;margin:40px auto;padding:48px;border-radius:50px;background:#f9fafb">'
        '<img src="https://immich.app/img/immich-logo-inline-light.png" alt="Immich" style="height:48px"/>'
        f"{content}"
        f'<p style="text-align:center"><a href="{html.escape(button_href)}" style="background:#4250af;color:#fff;'
        f'padding:12px 24px;border-radius:9999px;text-decoration:none">{button}</a></p>'
        f'<p style="font-size:12px">{hint}<br/><a href="{href}">{href}</a></p>'
        "</div></body></html>"
    )


def get_template(ctx: Ctx, name: str, dto: dict[str, Any]) -> dict[str, Any]:
    """Immich: NotificationAdminService.getTemplate: a preview with sample values; other names give ''."""
    if name not in _SAMPLES:
        return {"name": name, "html": ""}
    config = system_config.get_config(ctx)
    base_url = config["server"]["externalDomain"] or "https://my.immich.app"
    variables = {**_SAMPLES[name], "baseUrl": base_url}
    custom = dto.get("template") or config["templates"]["email"][_CONFIG_TEMPLATE[name]]
    if custom:
        content = f'<div style="margin:0">{_replace_tags(custom, variables)}</div>'
        preview = _replace_tags(custom, variables)
    else:
        content, preview = _default_body(name, variables), _PREVIEW[name]
    if name == "welcome":
        page = _layout(preview, content, f"{base_url}/auth/login", "Login",
                       "If you cannot click the button use the link below to proceed with first login.", base_url)
    else:
        album = f"{base_url}/albums/{variables['albumId']}"
        page = _layout(preview, content, album, "View Album",
                       "If you cannot click the button use the link below to view the album.", album)
    return {"name": name, "html": page}


def _register() -> None:
    from immich_lite import jobs  # noqa: PLC0415

    @jobs.register(jobs.JobName.NOTIFICATIONS_CLEANUP, jobs.QueueName.BACKGROUND_TASK)
    def notifications_cleanup(ctx: Ctx, data: dict[str, Any]) -> Any:
        cleanup(ctx)
        return jobs.JobStatus.SUCCESS


_register()
