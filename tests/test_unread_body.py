"""An answer sent before the request body is read reaches the client (app.UnreadBodyRelease), on real hypercorn
over a real socket: an endpoint that takes a moment to refuse a large upload (as the disk-full and quota checks
do under load) while the client is still sending. Without the middleware hypercorn waits forever to queue
`http.disconnect` behind the body nobody reads, and the client's upload times out (the control below)."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from immich_lite.app import UnreadBodyRelease
from tests.helpers.live import free_port

BODY = 64 * 2**20


async def refuse_after_a_moment(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.5)  # meanwhile the client's body fills hypercorn's queue
    await send({"type": "http.response.start", "status": 507, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"message":"full"}'})


def _serve(app: Any) -> Iterator[str]:
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            threading.Event().wait(0.05)
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


@pytest.fixture
def released() -> Iterator[str]:
    yield from _serve(UnreadBodyRelease(refuse_after_a_moment))


@pytest.fixture
def bare() -> Iterator[str]:
    yield from _serve(refuse_after_a_moment)


def test_an_early_answer_reaches_the_client_while_it_is_still_sending(released: str) -> None:
    body = b"\0" * BODY
    for _ in range(3):  # and again: nothing is left hanging on the server
        r = httpx.post(released, content=body, timeout=20)
        assert r.status_code == 507 and r.json() == {"message": "full"}


def test_control_without_it_hypercorn_keeps_the_client_waiting(bare: str) -> None:
    with pytest.raises(httpx.TimeoutException):
        httpx.post(bare, content=b"\0" * BODY, timeout=5)
