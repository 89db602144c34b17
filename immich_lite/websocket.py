"""Live events over socket.io at /api/socket.io (python-socketio's ASGI server, beside Starlette).

Connections authenticate with the same credential resolution as HTTP (cookie, bearer, x-api-key, ...), join
the rooms <userId> and <sessionId>, and get `on_server_version` at once. Services emit through ctx.events
from any thread; the bridge hands each emission to the event loop.
"""
from __future__ import annotations

import asyncio
import logging
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import socketio
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from immich_lite import auth as authn
from immich_lite.ctx import Ctx
from immich_lite.errors import ImmichError

log = logging.getLogger("immich_lite.websocket")
PATH = "/api/socket.io"


def _credentials(environ: dict[str, Any]) -> authn.Credentials:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    cookies: dict[str, str] = {}
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        jar.load(headers["cookie"])
        cookies = {k: m.value for k, m in jar.items()}
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    return authn.Credentials(headers=headers, query=query, cookies=cookies, user_agent=headers.get("user-agent", ""),
                             client_ip=environ.get("REMOTE_ADDR", ""))


class Gateway:
    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False,
                                        engineio_logger=False)
        self.asgi = socketio.ASGIApp(self.sio, socketio_path=PATH.lstrip("/"))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sio.on("connect", self._connect)
        ctx.events.subscribe(self._from_services)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.loop = asyncio.get_running_loop()
        creds = _credentials(environ)

        def resolve() -> authn.AuthContext | None:
            return authn.resolve(self.ctx.db.reader(), creds)

        try:
            ctx_auth = await run_in_threadpool(resolve)
        except ImmichError:
            ctx_auth = None
        if ctx_auth is None or ctx_auth.shared_link is not None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        await self.sio.enter_room(sid, ctx_auth.user_id)
        if ctx_auth.session is not None:
            await self.sio.enter_room(sid, ctx_auth.session["id"])
        from immich_lite.services.server import get_version  # noqa: PLC0415

        await self.sio.emit("on_server_version", get_version(), to=sid)

    def _from_services(self, event: str, room: str, payload: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # nobody has connected yet: nobody to tell
        target = None if room == "all" else room
        asyncio.run_coroutine_threadsafe(self.sio.emit(event, payload, room=target), loop)


class SocketIOMiddleware:
    """Routes /api/socket.io to the socket.io app, everything else to Starlette."""

    def __init__(self, app: ASGIApp, gateway: Gateway):
        self.app, self.gateway = app, gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(PATH):
            await self.gateway.asgi(scope, receive, send)
            return
        await self.app(scope, receive, send)
