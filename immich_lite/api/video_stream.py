"""HLS routes as upstream answers them with real-time transcoding off (immich-lite does not offer it):
the main playlist refuses, and no session exists for playlists or segments."""
from __future__ import annotations

from typing import Any

from immich_lite.access import require_access
from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, NotFound


def _view(ctx: Ctx, auth: Any, call: Call) -> None:
    require_access(ctx.db.reader(), auth, "asset.view", [call.params["id"]])


def main_playlist(ctx: Ctx, auth: Any, call: Call) -> None:
    _view(ctx, auth, call)
    raise BadRequest("Real-time transcoding is not enabled")


def media_playlist(ctx: Ctx, auth: Any, call: Call) -> None:
    _view(ctx, auth, call)
    raise NotFound("Asset not found or metadata not yet ready for streaming")


def segment(ctx: Ctx, auth: Any, call: Call) -> None:
    _view(ctx, auth, call)
    raise NotFound("Session not found")


def end_session(ctx: Ctx, auth: Any, call: Call) -> None:
    _view(ctx, auth, call)  # nothing to end: no session is ever started


ROUTES = [
    route("getMainPlaylist", main_playlist),
    route("getMediaPlaylist", media_playlist),
    route("getSegment", segment),
    route("endSession", end_session),
]
