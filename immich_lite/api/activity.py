"""Album activity: comments and likes."""
from __future__ import annotations

from typing import Any

from immich_lite.api.routing import Call, Reply, route
from immich_lite.ctx import Ctx
from immich_lite.services import activity


def _create(ctx: Ctx, auth: Any, c: Call) -> Reply:
    body, created = activity.create(ctx, auth, c.body)
    return Reply(body, status=201 if created else 200)


ROUTES = [
    route("getActivities", lambda ctx, auth, c: activity.get_all(ctx, auth, c.query)),
    route("createActivity", _create),
    route("getActivityStatistics", lambda ctx, auth, c: activity.statistics(ctx, auth, c.query)),
    route("deleteActivity", lambda ctx, auth, c: activity.delete(ctx, auth, c.params["id"])),
]
