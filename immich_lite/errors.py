"""Immich 3.1.0's error shape, built in one place: {"message": ...} with the correlation id in the X-Correlation-ID
header (upstream's global-exception.filter deletes Nest's `error` and `statusCode`); validation failures as
{"message": "Validation failed", "errors": [zod issues]}; anything unexpected as 500 "Internal server error"."""
from __future__ import annotations

import errno
import logging
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger("immich_lite")


class ImmichError(Exception):
    status = 500

    def __init__(self, message: str = "Internal server error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ImmichError):
    status = 400


class ValidationFailed(BadRequest):
    """A request that its operation's schemas reject: zod's issues (immich_lite.validation)."""

    def __init__(self, issues: list[dict[str, Any]]):
        super().__init__("Validation failed")
        self.issues = issues


def invalid(path: list[str | int], message: str) -> ValidationFailed:
    """A rule of a request DTO that the schema alone cannot say (upstream's zod `.refine`): one custom issue."""
    return ValidationFailed([{"code": "custom", "path": path, "message": message}])


class Unauthorized(ImmichError):
    status = 401


class Forbidden(ImmichError):
    status = 403


class NotFound(ImmichError):
    status = 404


class Conflict(ImmichError):
    status = 409


class PayloadTooLarge(ImmichError):
    status = 413


class RangeNotSatisfiable(ImmichError):
    status = 416


class TooManyRequests(ImmichError):
    status = 429


class ServiceUnavailable(ImmichError):
    status = 503


class InsufficientStorage(ImmichError):
    status = 507


DISK_FULL = "Insufficient storage: the server's disk is full. Free some space on it and try again."
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_disk_log = {"at": 0.0}
_disk_lock = threading.Lock()
DISK_LOG_EVERY = 60.0  # seconds: one log line per burst of refusals, not one per request


def is_disk_full(exc: BaseException | None) -> bool:
    """ENOSPC / EDQUOT from a write, or SQLite's "database or disk is full", anywhere in the exception's chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
            return True
        if type(exc).__name__ == "FullError":  # apsw.FullError (SQLITE_FULL), without importing apsw here
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def log_disk_full(detail: str) -> None:
    with _disk_lock:
        now = time.monotonic()
        if now - _disk_log["at"] < DISK_LOG_EVERY:
            return
        _disk_log["at"] = now
    log.warning("disk full: %s (answering 507 until space is freed)", detail)


def disk_full_error(detail: str) -> InsufficientStorage:
    log_disk_full(detail)
    return InsufficientStorage(DISK_FULL)


def correlation_id(request: Request) -> str:
    cid = getattr(request.state, "correlation_id", None)
    return cid or "-"


def error_body(exc: ImmichError) -> dict[str, Any]:
    if isinstance(exc, ValidationFailed):
        return {"message": "Validation failed", "errors": exc.issues}
    return {"message": exc.message}


def error_response(exc: ImmichError, cid: str) -> JSONResponse:
    headers = {"X-Correlation-ID": cid, **exc.headers}
    return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)


async def handle_immich_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImmichError)
    return error_response(exc, correlation_id(request))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    cid = correlation_id(request)
    if is_disk_full(exc):
        return error_response(disk_full_error(f"{request.method} {request.url.path}: {exc}"), cid)
    log.exception("unhandled error [%s] %s %s", cid, request.method, request.url.path)
    return error_response(ImmichError("Internal server error"), cid)
