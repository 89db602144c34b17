"""Timeline: month buckets and one month's assets (both accept shared-link key/slug)."""
from __future__ import annotations

from typing import Any

from starlette.responses import Response

from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.services import timeline


def _bucket(ctx: Ctx, auth: Any, call: Call) -> Response:
    # pre-serialised JSON, as upstream (`@Header('Content-Type', 'application/json')` + to_json in SQL)
    return Response(timeline.get_time_bucket(ctx, auth, call.query), media_type="application/json")


ROUTES = [
    route("getTimeBuckets", lambda ctx, auth, c: timeline.get_time_buckets(ctx, auth, c.query)),
    route("getTimeBucket", _bucket),
]
