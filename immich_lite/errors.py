"""Immich's error shape, built in one place: {message, error, statusCode, correlationId}."""
from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger("immich_lite")


class ImmichError(Exception):
    status = 500
    error = "Internal Server Error"

    def __init__(self, message: str | list[str] = "Internal server error", headers: dict[str, str] | None = None):
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message = message
        self.headers = headers or {}


class BadRequest(ImmichError):
    status, error = 400, "Bad Request"


class Unauthorized(ImmichError):
    status, error = 401, "Unauthorized"


class Forbidden(ImmichError):
    status, error = 403, "Forbidden"


class NotFound(ImmichError):
    status, error = 404, "Not Found"


class Conflict(ImmichError):
    status, error = 409, "Conflict"


class PayloadTooLarge(ImmichError):
    status, error = 413, "Payload Too Large"


class RangeNotSatisfiable(ImmichError):
    status, error = 416, "Range Not Satisfiable"


class TooManyRequests(ImmichError):
    status, error = 429, "Too Many Requests"


class ServiceUnavailable(ImmichError):
    status, error = 503, "Service Unavailable"


class InsufficientStorage(ImmichError):
    status, error = 507, "Insufficient Storage"


def correlation_id(request: Request) -> str:
    cid = getattr(request.state, "correlation_id", None)
    return cid or "-"


def error_body(exc: ImmichError, cid: str) -> dict[str, Any]:
    return {"message": exc.message, "error": exc.error, "statusCode": exc.status, "correlationId": cid}


def error_response(exc: ImmichError, cid: str) -> JSONResponse:
    headers = {"X-Correlation-ID": cid, **exc.headers}
    return JSONResponse(error_body(exc, cid), status_code=exc.status, headers=headers)


async def handle_immich_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImmichError)
    return error_response(exc, correlation_id(request))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    cid = correlation_id(request)
    log.exception("unhandled error [%s] %s %s", cid, request.method, request.url.path)
    return error_response(ImmichError("Internal server error"), cid)
