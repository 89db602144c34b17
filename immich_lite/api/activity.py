"""Album activity: comments and likes."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import activity

ROUTES = [
    route("getActivities", lambda ctx, auth, c: activity.get_all(ctx, auth, c.query)),
    route("createActivity", lambda ctx, auth, c: activity.create(ctx, auth, c.body)),
    route("getActivityStatistics", lambda ctx, auth, c: activity.statistics(ctx, auth, c.query)),
    route("deleteActivity", lambda ctx, auth, c: activity.delete(ctx, auth, c.params["id"])),
]
