"""A stand-in for upstream's immich-machine-learning container where its answers differ from ours: face
embeddings of 512 dimensions (buffalo_l's size), unit length, compared by cosine distance. It is immich-lite's own
`ml-serve` (real detection, real HTTP) whose facial-recognition embeddings are mapped by a fixed orthonormal
128 -> 512 map, which keeps every cosine distance, so who looks like whom is dlib's answer in upstream's shape.
(Upstream's container and its models cannot run on this offline machine.)

    python -m tests.helpers.upstream_faces_ml --port N --models-dir D
"""
from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import numpy as np

from immich_lite.ml.server import create_ml_app

LIFT = np.linalg.qr(np.random.default_rng(512).normal(size=(512, 128)))[0]  # orthonormal columns


def lifted(answer: dict[str, Any]) -> dict[str, Any]:
    for face in answer.get("facial-recognition") or []:
        v = LIFT @ np.asarray(json.loads(face["embedding"]), dtype=np.float64)
        face["embedding"] = json.dumps((v / np.linalg.norm(v)).astype(np.float32).tolist())
    return answer


def main() -> None:
    from hypercorn.asyncio import serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--models-dir", required=True)
    args = ap.parse_args()
    app = create_ml_app(args.models_dir)
    provider = app.state.provider
    real = provider.predict
    provider.predict = lambda entries, **kw: lifted(real(entries, **kw))  # the closure in create_ml_app calls this
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
