"""Shared links: owner CRUD, individual-link assets, and the link caller's /me and /login."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from immich_lite import auth as authn
from immich_lite import spec
from immich_lite.api.routing import Call, Reply, read_json, route, to_response
from immich_lite.ctx import Ctx
from immich_lite.services import shared_link as svc

LINK_COOKIE_MAX_AGE = 24 * 3600


async def _login(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None and call.op is not None
    raw = await read_json(call.request, call.op)
    op = call.op

    def work() -> Response:
        # who is calling is settled before the body is validated, as for every other route
        body, token = svc.login(ctx, call.creds, lambda: spec.validate_body(raw, op.body))
        return to_response(Reply(body=body, cookies=[{
            "key": authn.COOKIE_SHARED_LINK, "value": token, "httponly": True, "samesite": "lax", "path": "/",
            "secure": call.creds.secure, "max_age": LINK_COOKIE_MAX_AGE}]), op.success_status)

    return await run_in_threadpool(work)


ROUTES = [
    route("getAllSharedLinks", lambda ctx, auth, c: svc.get_all(ctx, auth, c.query)),
    route("createSharedLink", lambda ctx, auth, c: svc.create(ctx, auth, c.body)),
    # svc.login resolves the link itself: key/slug, expiry, owner, then the password
    route("sharedLinkLogin", _login, raw=True, resolves_caller=True),
    route("getMySharedLink", lambda ctx, auth, c: svc.get_mine(ctx, auth)),
    route("getSharedLinkById", lambda ctx, auth, c: svc.get(ctx, auth, c.params["id"])),
    route("updateSharedLink", lambda ctx, auth, c: svc.update(ctx, auth, c.params["id"], c.body)),
    route("removeSharedLink", lambda ctx, auth, c: svc.remove(ctx, auth, c.params["id"])),
    route("addSharedLinkAssets", lambda ctx, auth, c: svc.add_assets(ctx, auth, c.params["id"], c.body)),
    route("removeSharedLinkAssets", lambda ctx, auth, c: svc.remove_assets(ctx, auth, c.params["id"], c.body)),
]
