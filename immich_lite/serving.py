"""`immich-lite serve`: the app under hypercorn, with the process tuned for receiving photo uploads.

The tuning is measured by bench/upload.py (`tune_for_uploads` is also what its "floor" side runs, so that side
stays "our HTTP stack with a bare app"). On this project's 2-core reference machine the three settings together
took the server from ~17 to ~13 ms of CPU per 4.9 MB upload, and the event-loop thread from ~8 to ~5.5 ms.
"""
from __future__ import annotations

import asyncio
import asyncio.selector_events as selector_events
import ctypes
import ctypes.util
import functools
import logging
import platform
import signal
from collections.abc import Callable
from typing import Any

from immich_lite import IMMICH_VERSION, __version__
from immich_lite.config import Settings

log = logging.getLogger("immich_lite.serve")

READ_SIZE = 1 << 20  # bytes per recv() and per trip through h11 → ASGI → multipart
STREAM_LIMIT = 512 * 1024  # asyncio StreamReader limit per connection: reading pauses above twice this
MALLOC_MMAP_THRESHOLD = 4 << 20  # glibc: allocations below this come from the heap ...
MALLOC_TRIM_THRESHOLD = 16 << 20  # ... and up to this much free heap top is kept rather than given back


def tune_for_uploads() -> None:
    """Process-wide settings for the `serve` process (never applied on import; tests run with the defaults).

    * hypercorn reads sockets 64 KiB at a time (`MAX_RECV`, a module constant with no Config option): each read
      is a trip through h11, the ASGI queue and the multipart parser. 1 MiB reads; a read returns what is there,
      so small requests are unaffected.
    * asyncio's socket transport calls recv() with 256 KiB (`max_size`, a class attribute: no public option), so
      a 1 MiB hypercorn read still got 256 KiB, and a 4.9 MB body made ~20 trips. 1 MiB recv() calls: the
      event-loop thread spends ~2 ms less per upload. recv() sizes its buffer down to what arrived, so small
      requests cost a malloc of READ_SIZE from the heap (below the mmap threshold set here), nothing more.
    * asyncio's StreamReader pauses the transport above twice its 64 KiB default limit: with the kernel's 256 KiB
      recv size that was an epoll_ctl pair (pause, resume) per recv. hypercorn has no option for it; its
      connections are opened by `asyncio.start_server`, so that function's default `limit` is raised in this
      process. A connection buffers at most 2 × STREAM_LIMIT before the server stops reading from it.
    * glibc trims the heap top back to the kernel whenever more than (dynamically) twice the largest recent
      mmapped block is free. Upload bodies pass through buffers of up to ~2 MiB, so the heap top was trimmed and
      regrown (kernel-zeroed again) several times per upload: `strace -c` counted ~4.5 brk calls per upload,
      ~0 with these thresholds. Fixed thresholds keep those buffers' pages; blocks above 4 MiB are still mmapped
      and returned at once, and at most 16 MiB of free heap is kept.
    """
    import hypercorn.asyncio.tcp_server as tcp_server  # noqa: PLC0415

    if getattr(tcp_server, "MAX_RECV", 0) < READ_SIZE:
        tcp_server.MAX_RECV = READ_SIZE
    if not getattr(asyncio.start_server, "_immich_lite_limit", False):
        original: Callable[..., Any] = asyncio.start_server

        @functools.wraps(original)
        async def start_server(*args: Any, limit: int = STREAM_LIMIT, **kwargs: Any) -> asyncio.Server:
            return await original(*args, limit=limit, **kwargs)

        start_server._immich_lite_limit = True  # type: ignore[attr-defined]
        asyncio.start_server = start_server  # type: ignore[assignment]
    transport = getattr(selector_events, "_SelectorSocketTransport", None)
    if transport is not None and getattr(transport, "max_size", READ_SIZE) < READ_SIZE:
        transport.max_size = READ_SIZE
    _tune_malloc()


def _tune_malloc() -> None:
    if platform.libc_ver()[0] != "glibc":  # musl and others: their allocators do not work this way
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        ok = libc.mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD) and libc.mallopt(m_trim_threshold,
                                                                                    MALLOC_TRIM_THRESHOLD)
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.info("could not set glibc malloc thresholds; uploads use the allocator's defaults")


async def serve(settings: Settings, banner: Callable[[str], None]) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully (in-flight requests get `graceful_timeout`)."""
    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415 (keep `--help` fast)
    from hypercorn.config import Config  # noqa: PLC0415
    from immich_lite.app import create_app  # noqa: PLC0415

    tune_for_uploads()
    app = create_app(settings)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    # a Logger, not "-": hypercorn then adds no handler of its own, and its lines appear once, in our format
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 10
    config.keep_alive_timeout = 75
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    banner(f"immich-lite {__version__} (Immich API {'.'.join(map(str, IMMICH_VERSION))}) "
           f"serving {settings.data_path} on http://{settings.host}:{settings.port}")
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
