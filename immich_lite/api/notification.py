"""Notifications: the user's own inbox, and the admin's create / email-template / test-email tools."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import notification as svc

ROUTES = [
    route("getNotifications", lambda ctx, auth, c: svc.search(ctx, auth, c.query)),
    route("updateNotifications", lambda ctx, auth, c: svc.update_all(ctx, auth, c.body)),
    route("deleteNotifications", lambda ctx, auth, c: svc.delete_all(ctx, auth, c.body)),
    route("getNotification", lambda ctx, auth, c: svc.get(ctx, auth, c.params["id"])),
    route("updateNotification", lambda ctx, auth, c: svc.update(ctx, auth, c.params["id"], c.body)),
    route("deleteNotification", lambda ctx, auth, c: svc.delete(ctx, auth, c.params["id"])),
    # admin
    route("createNotification", lambda ctx, auth, c: svc.create(ctx, auth, c.body)),
    route("getNotificationTemplateAdmin", lambda ctx, auth, c: svc.get_template(ctx, c.params["name"], c.body)),
    route("sendTestEmailAdmin", lambda ctx, auth, c: svc.send_test_email(ctx, auth, c.body)),
]
