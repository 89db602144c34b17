"""Users (admin): account administration."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import user_admin as svc

ROUTES = [
    route("searchUsersAdmin", lambda ctx, auth, c: svc.search(ctx, auth, c.query)),
    route("createUserAdmin", lambda ctx, auth, c: svc.create(ctx, auth, c.body)),
    route("getUserAdmin", lambda ctx, auth, c: svc.get(ctx, auth, c.params["id"])),
    route("updateUserAdmin", lambda ctx, auth, c: svc.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteUserAdmin", lambda ctx, auth, c: svc.delete(ctx, auth, c.params["id"], c.body)),
    route("restoreUserAdmin", lambda ctx, auth, c: svc.restore(ctx, auth, c.params["id"])),
    route("getUserSessionsAdmin", lambda ctx, auth, c: svc.get_sessions(ctx, auth, c.params["id"])),
    route("getUserStatisticsAdmin", lambda ctx, auth, c: svc.get_statistics(ctx, auth, c.params["id"], c.query)),
    route("getUserPreferencesAdmin", lambda ctx, auth, c: svc.get_preferences(ctx, auth, c.params["id"])),
    route("updateUserPreferencesAdmin",
          lambda ctx, auth, c: svc.update_preferences(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("getUserCalendarHeatmapAdmin",
          lambda ctx, auth, c: svc.get_calendar_heatmap(ctx, auth, c.params["id"], c.query)),
]
