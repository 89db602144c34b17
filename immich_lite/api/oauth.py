"""OAuth routes (Authentication tag) and the admin unlink-all."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.services import oauth


async def _mobile_redirect(ctx: Ctx, auth: Any, call: Call) -> Response:
    query = call.request.url.query if call.request else ""
    return RedirectResponse(oauth.mobile_redirect(query), status_code=307)


async def _backchannel(ctx: Ctx, auth: Any, call: Call) -> Response:
    await run_in_threadpool(oauth.backchannel_logout, ctx)
    return Response(status_code=200)


ROUTES = [
    route("redirectOAuthToMobile", _mobile_redirect, raw=True),
    route("startOAuth", lambda ctx, auth, c: oauth.authorize(ctx, c.body)),
    route("finishOAuth", lambda ctx, auth, c: oauth.callback(ctx, c.body)),
    route("logoutOAuth", _backchannel, raw=True),
    route("linkOAuthAccount", lambda ctx, auth, c: oauth.link(ctx, auth, c.body, c.creds.cookies)),
    route("unlinkOAuthAccount", lambda ctx, auth, c: oauth.unlink(ctx, auth)),
    route("unlinkAllOAuthAccountsAdmin", lambda ctx, auth, c: oauth.unlink_all(ctx)),
]
