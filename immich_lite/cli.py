"""The immich-lite command: parses flags and calls into the app; no logic here."""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import click

from immich_lite import IMMICH_VERSION, __version__
from immich_lite.config import SETTINGS, Settings


def settings_options(fn: Any) -> Any:
    """One click option per SETTINGS row (flag, env var and help all come from the table)."""
    for s in reversed(SETTINGS):
        kind = click.BOOL if s.type.__name__ == "_bool" else (int if s.type is int else str)
        fn = click.option(s.flag, s.name, type=kind, default=None,
                          help=f"{s.help} [env {s.env}; default {s.default}]")(fn)
    return fn


@click.group()
@click.version_option(__version__, prog_name="immich-lite")
def cli() -> None:
    """immich-lite: a light, one-process server for the Immich apps."""


@cli.command()
@settings_options
def serve(**flags: Any) -> None:
    """Serve the Immich API (and the front page) with hypercorn."""
    settings = Settings.load(flags)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    import hypercorn.asyncio.tcp_server as tcp_server  # noqa: PLC0415 (keep `--help` fast)
    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415
    from hypercorn.config import Config

    # hypercorn reads sockets 64 KiB at a time (a module constant; no Config option). Each read is a trip through
    # h11, the ASGI receive queue and our multipart parser: for photo uploads 1 MiB reads cut the server's CPU per
    # upload by about a third (bench/upload.py). Smaller requests are unaffected: a read returns what is there.
    if getattr(tcp_server, "MAX_RECV", 0) < 1 << 20:
        tcp_server.MAX_RECV = 1 << 20

    from immich_lite.app import create_app  # noqa: PLC0415

    app = create_app(settings)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.graceful_timeout = 10
    config.keep_alive_timeout = 75
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    click.echo(f"immich-lite {__version__} (Immich API {'.'.join(map(str, IMMICH_VERSION))}) "
               f"serving {settings.data_path} on http://{settings.host}:{settings.port}")
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


@cli.command()
def version() -> None:
    """Print the immich-lite version and the Immich API version it speaks."""
    click.echo(f"immich-lite {__version__} (Immich API {'.'.join(map(str, IMMICH_VERSION))})")
