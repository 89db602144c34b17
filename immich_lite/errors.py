"""Immich 3.1.0's error shape, built in one place: {"message": ...} with the correlation id in the X-Correlation-ID
header (upstream's global-exception.filter deletes Nest's `error` and `statusCode`); validation failures as
{"message": "Validation failed", "errors": [zod issues]}; anything unexpected as 500 "Internal server error"."""
from __future__ import annotations

import logging
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
    log.exception("unhandled error [%s] %s %s", cid, request.method, request.url.path)
    return error_response(ImmichError("Internal server error"), cid)
