"""An answer sent before the request body is read reaches the client (app.UnreadBodyRelease), on real hypercorn
over a real socket: an endpoint that takes a moment to refuse a large upload (as the disk-full and quota checks
do under load) while the client is still sending. Without the middleware hypercorn waits forever to queue
`http.disconnect` behind the body nobody reads, and the client's upload times out (the control below)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from immich_lite.app import UnreadBodyRelease
from tests.helpers.inproc import served

BODY = 64 * 2**20


async def refuse_after_a_moment(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.5)  # meanwhile the client's body fills hypercorn's queue
    await send({"type": "http.response.start", "status": 507, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"message":"full"}'})


@pytest.fixture
def released() -> Iterator[str]:
    with served(UnreadBodyRelease(refuse_after_a_moment)) as url:
        yield url


@pytest.fixture
def bare() -> Iterator[str]:
    with served(refuse_after_a_moment) as url:
        yield url


def test_an_early_answer_reaches_the_client_while_it_is_still_sending(released: str) -> None:
    body = b"\0" * BODY
    for _ in range(3):  # and again: nothing is left hanging on the server
        r = httpx.post(released, content=body, timeout=20)
        assert r.status_code == 507 and r.json() == {"message": "full"}


def test_control_without_it_hypercorn_keeps_the_client_waiting(bare: str) -> None:
    with pytest.raises(httpx.TimeoutException):
        httpx.post(bare, content=b"\0" * BODY, timeout=5)
