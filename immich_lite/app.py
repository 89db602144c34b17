"""create_app(settings) -> the ASGI app: opens the database and storage, mounts every route table."""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

import immich_lite.api
from immich_lite.api import frontdoor, share_page, webapp
from immich_lite.api.maintenance import MaintenanceGate
from immich_lite.api.routing import RouteDef, build_routes
from immich_lite.config import Settings
from immich_lite.ctx import Ctx
from immich_lite.db import Database
from immich_lite.errors import ImmichError, handle_immich_error, handle_unexpected
from immich_lite.events import Events
from immich_lite.jobs import JobRunner  # jobs: the background runner
from immich_lite.scheduler import Scheduler
from immich_lite.storage import Storage
from immich_lite.websocket import Gateway, SocketIOMiddleware

log = logging.getLogger("immich_lite")


# modules that register job handlers (jobs.register) — imported so the registry is complete at start
JOB_MODULES = ("immich_lite.services.metadata", "immich_lite.services.media", "immich_lite.services.queue",
               "immich_lite.services.trash", "immich_lite.services.user", "immich_lite.services.notification",
               "immich_lite.services.sync", "immich_lite.services.memory", "immich_lite.services.person",
               "immich_lite.services.asset_edit", "immich_lite.services.library",
               "immich_lite.services.integrity", "immich_lite.services.search_index",
               "immich_lite.services.sidecar", "immich_lite.services.faces",
               "immich_lite.services.ocr", "immich_lite.services.smart_search")


def route_table() -> list[RouteDef]:
    """Every api module's ROUTES, discovered so that adding a controller is adding a file."""
    table: list[RouteDef] = []
    for mod in sorted(pkgutil.iter_modules(immich_lite.api.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"immich_lite.api.{mod.name}")
        table.extend(getattr(module, "ROUTES", []))
    return table


class CorrelationId:
    """Tags each request with an id that error bodies and logs carry."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["correlation_id"] = secrets.token_hex(8)
        await self.app(scope, receive, send)


class UnreadBodyRelease:
    """An answer sent before the request body was read (a 507 for an upload too big, a 401, a 413) must not hang.

    Hypercorn (0.18) queues the body for the app in a queue of `max_app_queue_size` messages and stops reading the
    socket when it is full; when the response completes it puts `http.disconnect` in that same queue before it
    closes the connection. With the queue full of body the app never read, that put waits forever: the client
    never gets the answer, and its upload blocks (CI: a refused 126 MB upload timed out after 30 s). So while the
    last body message of such a response is sent, what is queued is read and dropped, until the body's end or the
    disconnect comes through: hypercorn then closes the connection and the client reads the answer.
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self._drains: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ended = False  # the body's end (or the disconnect) has been read

        async def receive_tracked() -> Any:
            nonlocal ended
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                ended = True
            return message

        async def drain() -> None:
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return

        async def send_released(message: Any) -> None:
            if ended or message["type"] != "http.response.body" or message.get("more_body", False):
                await send(message)
                return
            task = asyncio.ensure_future(drain())
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
            await send(message)

        await self.app(scope, receive_tracked, send_released)


class TrailingSlash:
    """Express' non-strict routing, which upstream's Nest app has: `/api/assets/` is `/api/assets`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/api/") and path.endswith("/") and not path.endswith("//"):
            scope.setdefault("state", {})["original_path"] = path
            raw = scope.get("raw_path")
            scope = {**scope, "path": path[:-1], "raw_path": raw[:-1] if raw and raw.endswith(b"/") else raw}
        await self.app(scope, receive, send)


def build_ctx(settings: Settings) -> Ctx:
    root = settings.data_path
    root.mkdir(parents=True, exist_ok=True)
    storage = Storage(root)
    db = Database(storage.db_path)
    ctx = Ctx(settings=settings, db=db, storage=storage, events=Events())
    ctx.jobs = JobRunner(ctx)  # jobs: started/stopped by the lifespan below
    return ctx


def create_app(settings: Settings, ctx: Ctx | None = None) -> Starlette:
    for name in JOB_MODULES:
        importlib.import_module(name)
    ctx = ctx or build_ctx(settings)
    from immich_lite.services.asset_media import recover  # noqa: PLC0415

    recover(ctx)  # before the runner starts: roll committed uploads forward, drop the rest of tmp/
    from immich_lite.services.server import record_version  # noqa: PLC0415

    record_version(ctx)
    from immich_lite.services.system_metadata import record_geodata  # noqa: PLC0415

    record_geodata(ctx)
    from immich_lite.services.search_index import ensure as ensure_search_index  # noqa: PLC0415

    ensure_search_index(ctx)  # a missing or outdated index is rebuilt by a queued job

    gateway = Gateway(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if ctx.jobs is not None:  # jobs: start the runner
            ctx.jobs.start()
        scheduler = ctx.extra["scheduler"] = Scheduler(ctx)
        scheduler.start()
        ctx.extra.setdefault("shutdown", []).insert(0, scheduler.stop)
        try:
            yield
        finally:
            await gateway.sio.shutdown()
            if ctx.jobs is not None:  # jobs: let running jobs finish before anything closes
                ctx.jobs.stop()
            for hook in ctx.extra.get("shutdown", []):
                hook()
            ctx.db.close()

    routes: list[Any] = [*frontdoor.routes(ctx), *build_routes(ctx, route_table()), *share_page.routes(ctx),
                         *frontdoor.fallback_routes(ctx)]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ImmichError: handle_immich_error, HTTPException: frontdoor.not_found,
                            Exception: handle_unexpected},
    )
    app.add_middleware(MaintenanceGate, ctx=ctx)  # 503 for the API while an admin has maintenance mode on
    app.add_middleware(TrailingSlash)
    app.add_middleware(CorrelationId)
    app.add_middleware(SocketIOMiddleware, gateway=gateway)
    app.add_middleware(webapp.WebAppFront, web=frontdoor.web_root(ctx))  # the web app's files, before the router
    app.add_middleware(UnreadBodyRelease)  # outermost of ours: an early answer never waits on an unread body
    app.state.ctx = ctx
    return app
