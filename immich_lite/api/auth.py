"""Authentication, sessions and API keys."""
from __future__ import annotations

from typing import Any

from immich_lite import auth as authn
from immich_lite.api.routing import Call, Reply, route
from immich_lite.ctx import Ctx
from immich_lite.services import api_key, session
from immich_lite.services import auth as svc

COOKIE_MAX_AGE = 400 * 24 * 3600  # Immich: 400 days


def _login(ctx: Ctx, auth: Any, call: Call) -> Reply:
    body, token = svc.login(ctx, call.body, call.creds)
    common = {"path": "/", "max_age": COOKIE_MAX_AGE, "samesite": "lax", "secure": call.creds.secure}
    return Reply(body=body, cookies=[
        {"key": authn.COOKIE_ACCESS, "value": token, "httponly": True, **common},
        {"key": authn.COOKIE_AUTH_TYPE, "value": "password", "httponly": True, **common},
        {"key": authn.COOKIE_IS_AUTH, "value": "true", "httponly": False, **common},
    ])


def _logout(ctx: Ctx, auth: Any, call: Call) -> Reply:
    return Reply(body=svc.logout(ctx, auth),
                 delete_cookies=[authn.COOKIE_ACCESS, authn.COOKIE_AUTH_TYPE, authn.COOKIE_IS_AUTH])


ROUTES = [
    route("signUpAdmin", lambda ctx, auth, c: svc.sign_up_admin(ctx, c.body)),
    route("login", _login),
    route("logout", _logout),
    route("validateAccessToken", lambda ctx, auth, c: {"authStatus": True}),
    route("changePassword", lambda ctx, auth, c: svc.change_password(ctx, auth, c.body)),
    route("getAuthStatus", lambda ctx, auth, c: svc.get_status(ctx, auth)),
    route("setupPinCode", lambda ctx, auth, c: svc.setup_pin_code(ctx, auth, c.body)),
    route("changePinCode", lambda ctx, auth, c: svc.change_pin_code(ctx, auth, c.body)),
    route("resetPinCode", lambda ctx, auth, c: svc.reset_pin_code(ctx, auth, c.body)),
    route("unlockAuthSession", lambda ctx, auth, c: svc.unlock_session(ctx, auth, c.body)),
    route("lockAuthSession", lambda ctx, auth, c: svc.lock_session(ctx, auth)),
    # Sessions
    route("getSessions", lambda ctx, auth, c: session.get_all(ctx, auth)),
    route("createSession", lambda ctx, auth, c: session.create(ctx, auth, c.body)),
    route("deleteAllSessions", lambda ctx, auth, c: session.delete_all(ctx, auth)),
    route("updateSession", lambda ctx, auth, c: session.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteSession", lambda ctx, auth, c: session.delete(ctx, auth, c.params["id"])),
    route("lockSession", lambda ctx, auth, c: session.lock(ctx, auth, c.params["id"])),
    # API keys
    route("getApiKeys", lambda ctx, auth, c: api_key.get_all(ctx, auth)),
    route("createApiKey", lambda ctx, auth, c: api_key.create(ctx, auth, c.body)),
    route("getMyApiKey", lambda ctx, auth, c: api_key.get_mine(ctx, auth)),
    route("getApiKey", lambda ctx, auth, c: api_key.get_by_id(ctx, auth, c.params["id"])),
    route("updateApiKey", lambda ctx, auth, c: api_key.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteApiKey", lambda ctx, auth, c: api_key.delete(ctx, auth, c.params["id"])),
]
