"""Upload helpers: real files through POST /api/assets, as the apps send them."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

FILE_DATE = "2000-01-01T00:00:00.000Z"  # what the corpus's UPSTREAM-METADATA was recorded with


def upload(actor: Any, path: Path | None = None, *, data: bytes | None = None, filename: str | None = None,
           fields: dict[str, str] | None = None, sidecar: bytes | None = None, headers: dict[str, str] | None = None,
           params: dict[str, str] | None = None) -> Any:
    content = data if data is not None else path.read_bytes()  # type: ignore[union-attr]
    name = filename or (path.name if path else "file.jpg")
    form = {"deviceAssetId": f"test-{name}", "deviceId": "pytest", "fileCreatedAt": FILE_DATE,
            "fileModifiedAt": FILE_DATE, "isFavorite": "false", **(fields or {})}
    files: dict[str, Any] = {"assetData": (name, content, "application/octet-stream")}
    if sidecar is not None:
        files["sidecarData"] = (name + ".xmp", sidecar, "application/xml")
    return actor.client.post("/api/assets", data=form, files=files,
                             headers={**actor.headers, **(headers or {})}, params=params)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324
