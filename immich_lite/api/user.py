"""Users: the caller's account, preferences, onboarding, product key and profile image."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from immich_lite.api import multipart
from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.services import preferences
from immich_lite.services import user as svc


async def _create_profile_image(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None
    upload = await multipart.receive_file(call.request, "file", ctx.storage.tmp_path, svc.check_profile_filename)
    body = await run_in_threadpool(svc.create_profile_image, ctx, auth, upload.path)  # removes the temp file
    return JSONResponse(body, status_code=201)


ROUTES = [
    # /users/me... and /users/profile-image before /users/{id}
    route("getMyUser", lambda ctx, auth, c: svc.get_me(ctx, auth)),
    route("updateMyUser", lambda ctx, auth, c: svc.update_me(ctx, auth, c.body), patch_twin=True),
    route("getMyPreferences", lambda ctx, auth, c: preferences.get_mine(ctx, auth)),
    route("updateMyPreferences", lambda ctx, auth, c: preferences.update_mine(ctx, auth, c.body), patch_twin=True),
    route("getMyCalendarHeatmap", lambda ctx, auth, c: svc.get_my_calendar_heatmap(ctx, auth, c.query)),
    route("getUserLicense", lambda ctx, auth, c: svc.get_license(ctx, auth)),
    route("setUserLicense", lambda ctx, auth, c: svc.set_license(ctx, auth, c.body)),
    route("deleteUserLicense", lambda ctx, auth, c: svc.delete_license(ctx, auth)),
    route("getUserOnboarding", lambda ctx, auth, c: svc.get_onboarding(ctx, auth)),
    route("setUserOnboarding", lambda ctx, auth, c: svc.set_onboarding(ctx, auth, c.body)),
    route("deleteUserOnboarding", lambda ctx, auth, c: svc.delete_onboarding(ctx, auth)),
    route("createProfileImage", _create_profile_image, raw=True),
    route("deleteProfileImage", lambda ctx, auth, c: svc.delete_profile_image(ctx, auth)),
    route("searchUsers", lambda ctx, auth, c: svc.search(ctx, auth)),
    route("getUser", lambda ctx, auth, c: svc.get(ctx, c.params["id"])),
    route("getProfileImage", lambda ctx, auth, c: svc.get_profile_image(ctx, c.params["id"])),
]
