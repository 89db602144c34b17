"""Download: archive info and the streamed zip."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse

from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.services import download


async def _archive(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None
    from immich_lite import spec  # noqa: PLC0415
    from immich_lite.api.routing import read_json  # noqa: PLC0415

    assert call.op is not None
    body = spec.validate_body(await read_json(call.request, call.op), call.op.body or {})
    zs = await run_in_threadpool(download.archive, ctx, auth, body)
    headers = {"Content-Disposition": "attachment; filename=\"immich.zip\""}
    if len(zs):  # type: ignore[arg-type]
        headers["Content-Length"] = str(len(zs))  # type: ignore[arg-type]
    # file reads happen in the threadpool, one chunk at a time
    return StreamingResponse(iterate_in_threadpool(iter(zs)), media_type="application/octet-stream", headers=headers)


ROUTES = [
    route("getDownloadInfo", lambda ctx, auth, c: download.get_info(ctx, auth, c.body)),
    route("downloadArchive", _archive, raw=True),
]
