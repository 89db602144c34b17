"""`immich-lite ml-serve`: upstream's machine-learning HTTP protocol, answered by the in-process provider.

Same routes and answers as upstream's container (machine-learning/immich_ml/main.py): `GET /` ->
{"message": "Immich ML"}, `GET /ping` -> "pong", `POST /predict` (multipart: `entries` JSON + `image` file or
`text`) -> the tasks' results (+ imageHeight/imageWidth for an image). Errors as FastAPI's: {"detail": "..."}
with 422 for a malformed `entries`, 400 for a missing input, 500 for a model that cannot load. So one bigger
box can serve several small immich-lite servers, or upstream Immich itself (for CLIP and OCR; its faces need
buffalo_l's 512-D embeddings, these are dlib's 128-D). The image is streamed to a temp file, never held in
memory; inference runs in worker threads; models unload after `model_ttl` idle seconds.
"""
from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from immich_lite.errors import ImmichError
from immich_lite.ml.inprocess import InProcess, MlError

log = logging.getLogger("immich_lite.ml")
MAX_IMAGE_BYTES = 512 * 1024 * 1024
MAX_FIELDS_BYTES = 1024 * 1024


def _detail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_ml_app(models_dir: str | Path, *, model_ttl: float = 300.0, tmp_dir: str | Path | None = None) -> Starlette:
    provider = InProcess(models_dir)
    tmp_root = Path(tmp_dir or tempfile.gettempdir()) / f"immich-lite-ml-{uuid.uuid4().hex[:8]}"

    async def root(request: Request) -> Response:
        return JSONResponse({"message": "Immich ML"})

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def predict(request: Request) -> Response:
        from immich_lite.api.multipart import Form, receive  # noqa: PLC0415

        tmp_root.mkdir(parents=True, exist_ok=True)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            # FastAPI (upstream) takes form fields url-encoded too, when there is no file
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_FIELDS_BYTES:
                    return _detail(413, "Request too large")
            fields = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
            form = Form(fields=fields)
        else:
            try:
                form = await receive(request, file_fields={"image"}, max_bytes=MAX_IMAGE_BYTES,
                                     new_temp=lambda _f, _n: tmp_root / uuid.uuid4().hex)
            except ImmichError:
                return _detail(422, "Invalid request format.")
        image = form.files.get("image")
        try:
            try:
                entries = json.loads(form.fields.get("entries", ""))
            except ValueError:
                return _detail(422, "Invalid request format.")
            text = form.fields.get("text")
            if image is None and text is None:
                return _detail(400, "Either image or text must be provided")
            try:
                answer = await run_in_threadpool(provider.predict, entries,
                                                 image_path=str(image.path) if image else None,
                                                 text=None if image else text)
            except MlError as e:
                return _detail(e.status, str(e))
            except Exception as e:  # noqa: BLE001 (an undecodable image: upstream answers 4xx/5xx, never hangs)
                log.warning("predict failed: %s", e)
                return _detail(400, f"Cannot process the input: {type(e).__name__}")
            return JSONResponse(answer)
        finally:
            if image is not None:
                image.path.unlink(missing_ok=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def unload_idle() -> None:
            while True:
                await asyncio.sleep(min(30.0, max(1.0, model_ttl / 4)))
                for name in await run_in_threadpool(provider.unload_idle, model_ttl):
                    log.info("%s models unloaded after %.0f s idle", name, model_ttl)

        task = asyncio.create_task(unload_idle())
        try:
            yield
        finally:
            task.cancel()
            provider.unload()
            shutil.rmtree(tmp_root, ignore_errors=True)

    app = Starlette(routes=[Route("/", root), Route("/ping", ping), Route("/predict", predict, methods=["POST"])],
                    lifespan=lifespan)
    app.state.provider = provider
    return app


async def serve_ml(host: str, port: int, models_dir: str | Path, banner: Any, *, model_ttl: float = 300.0) -> None:
    import signal  # noqa: PLC0415

    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    banner(f"immich-lite ml-serve on http://{host}:{port} (models: {models_dir})")
    await hypercorn_serve(create_ml_app(models_dir, model_ttl=model_ttl), config,  # type: ignore[arg-type]
                          shutdown_trigger=stop.wait)
