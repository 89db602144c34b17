"""Sync v2: the JSON-lines stream and per-session acks."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse

from immich_lite import spec
from immich_lite.api.routing import Call, read_json, route
from immich_lite.ctx import Ctx
from immich_lite.services import sync


async def _stream(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None and call.op is not None
    dto = spec.validate_body(await read_json(call.request, call.op), call.op.body or {})
    chunks = await run_in_threadpool(sync.stream, ctx, auth, dto)  # errors surface here, before any byte
    # each page is read on a threadpool thread; the ASGI send applies back-pressure between pages
    return StreamingResponse(iterate_in_threadpool(chunks), media_type="application/jsonlines+json")


ROUTES = [
    route("getSyncStream", _stream, raw=True),
    route("getSyncAck", lambda ctx, auth, c: sync.get_acks(ctx, auth)),
    route("sendSyncAck", lambda ctx, auth, c: sync.set_acks(ctx, auth, c.body)),
    route("deleteSyncAck", lambda ctx, auth, c: sync.delete_acks(ctx, auth, c.body or {})),
]
