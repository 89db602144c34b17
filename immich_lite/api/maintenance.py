"""Maintenance (admin): maintenance mode on/off, its status, maintenance login, prior-install detection.

The flag lives in system_metadata "maintenance-mode" (as upstream), shared with `immich-lite admin maintenance`,
so the CLI and the API toggle the same thing, also while the server runs. While it is on, `MaintenanceGate`
(an ASGI middleware the app mounts) answers 503 to every API route except the few below, as upstream's
maintenance worker does. Database restore through the API (`select_database_restore`, `restore_database`) is
refused: restores are `immich-lite restore` with the server stopped. Integrity reports live in api/integrity.py.
"""
from __future__ import annotations

import os
import time
from typing import Any

import itsdangerous
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from immich_lite import admin
from immich_lite.api.routing import Call, Reply, route
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, ServiceUnavailable, Unauthorized, error_response

COOKIE = "immich_maintenance_token"  # upstream ImmichCookie.MaintenanceToken
TOKEN_SALT = "immich-lite-maintenance"
STORAGE_FOLDERS = ("encoded-video", "library", "upload", "profile", "thumbs", "backups")  # spec StorageFolder
CACHE_SECONDS = 1.0  # how stale the gate's view of the flag may be (the CLI writes it from another process)

# API paths that keep working in maintenance mode: the maintenance routes themselves, and what the apps poll
# to learn the server is alive (upstream's maintenance worker serves these too)
ALLOWED_PREFIXES = ("/api/admin/maintenance", "/api/server/ping", "/api/server/version", "/api/server/config",
                    "/api/server/features")


# --- the flag, cached per process --------------------------------------------------------------------------

def _cache(ctx: Ctx) -> dict[str, Any]:
    return ctx.extra.setdefault("maintenance_cache", {"at": 0.0, "state": {"isMaintenanceMode": False}})


def state(ctx: Ctx, *, fresh: bool = False) -> dict[str, Any]:
    cache = _cache(ctx)
    now = time.monotonic()
    if fresh or now - cache["at"] > CACHE_SECONDS:
        cache["state"] = admin.maintenance_state(ctx.db.reader())
        cache["at"] = now
    return cache["state"]


async def is_on(ctx: Ctx) -> bool:
    """For the event loop: a stale cache is refreshed in a worker thread (never a SELECT on the loop)."""
    if time.monotonic() - _cache(ctx)["at"] > CACHE_SECONDS:
        await run_in_threadpool(state, ctx)
    return bool(_cache(ctx)["state"].get("isMaintenanceMode"))


def login_token(secret: str, username: str) -> str:
    return itsdangerous.URLSafeSerializer(secret, salt=TOKEN_SALT).dumps({"username": username})


# --- handlers ----------------------------------------------------------------------------------------------

def set_mode(ctx: Ctx, auth: Any, call: Call) -> Reply:
    action = call.body["action"]
    if action in ("select_database_restore", "restore_database"):
        raise BadRequest("Database restore is not available through the API: stop the server and run "
                         "`immich-lite restore`")
    new = admin.set_maintenance(ctx.db, action == "start")
    state(ctx, fresh=True)
    if action == "start":
        token = login_token(new["secret"], auth.user["name"] or auth.user["email"])
        return Reply(cookies=[{"key": COOKIE, "value": token, "httponly": True, "path": "/", "samesite": "lax",
                               "secure": call.creds.secure}])
    return Reply(delete_cookies=[COOKIE])


def get_status(ctx: Ctx, auth: Any, call: Call) -> dict[str, Any]:
    on = bool(state(ctx, fresh=True).get("isMaintenanceMode"))
    return {"active": on, "action": "start" if on else "end"}


def login(ctx: Ctx, auth: Any, call: Call) -> dict[str, Any]:
    token = (call.body or {}).get("token") or call.creds.cookies.get(COOKIE)
    current = state(ctx, fresh=True)
    if not token or not current.get("isMaintenanceMode") or not current.get("secret"):
        raise Unauthorized("Invalid maintenance token")
    try:
        data = itsdangerous.URLSafeSerializer(current["secret"], salt=TOKEN_SALT).loads(token)
    except itsdangerous.BadSignature:
        raise Unauthorized("Invalid maintenance token") from None
    return {"username": str(data.get("username", ""))}


def _count_files(path: str) -> int:
    n = 0
    for _root, _dirs, files in os.walk(path):
        n += len(files)
    return n


def detect_install(ctx: Ctx, auth: Any, call: Call) -> dict[str, Any]:
    root = ctx.storage.root
    out = []
    for folder in STORAGE_FOLDERS:
        path = str(root / folder)
        exists = os.path.isdir(path)
        out.append({"folder": folder, "files": _count_files(path) if exists else 0,
                    "readable": exists and os.access(path, os.R_OK | os.X_OK),
                    "writable": exists and os.access(path, os.W_OK | os.X_OK)})
    return {"storage": out}


ROUTES = [
    route("setMaintenanceMode", set_mode),
    route("getMaintenanceStatus", get_status),
    route("maintenanceLogin", login),
    route("detectPriorInstall", detect_install),
]


# --- the 503 gate ------------------------------------------------------------------------------------------

MAINTENANCE_MESSAGE = "Immich is in maintenance mode, please try again later"


class MaintenanceGate:
    """ASGI middleware: while maintenance mode is on, 503 for /api/* except ALLOWED_PREFIXES.

    Mount outermost-but-one in create_app: `app.add_middleware(MaintenanceGate, ctx=ctx)`. Costs one primary-key
    SELECT, in a worker thread, per second per process (the flag is cached for CACHE_SECONDS).
    """

    def __init__(self, app: ASGIApp, ctx: Ctx):
        self.app, self.ctx = app, ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            if path.startswith("/api/") and not path.startswith(ALLOWED_PREFIXES) and await is_on(self.ctx):
                cid = scope.get("state", {}).get("correlation_id") or "-"  # set by CorrelationId, mounted outside
                reply = error_response(ServiceUnavailable(MAINTENANCE_MESSAGE, headers={"Retry-After": "30"}), cid)
                await reply(scope, receive, send)
                return
        await self.app(scope, receive, send)
