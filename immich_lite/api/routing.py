"""Routes as data: route(operationId, handler) and the one adapter that does auth, parsing, threadpool, reply.

A handler is `def handler(ctx, auth, call) -> result` and runs in the threadpool. Results: dict/list → JSON,
None → empty body with the operation's success status, Reply → explicit status/headers/cookies,
or a Starlette Response (files, streams) passed through.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from immich_lite import auth as authn
from immich_lite import spec
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, PayloadTooLarge, Unauthorized

MAX_JSON_BODY = 10 * 1024 * 1024  # Immich: express json limit 10mb


@dataclass
class Call:
    """A parsed request: validated path params, query and body, plus what the caller presented."""
    params: dict[str, Any]
    query: dict[str, Any]
    body: Any
    creds: authn.Credentials
    op: spec.Operation | None = None
    request: Request | None = None
    prepared: Any = None  # what the route's `prepare` returned (raw routes)


@dataclass
class Reply:
    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[dict[str, Any]] = field(default_factory=list)
    delete_cookies: list[str] = field(default_factory=list)


Handler = Callable[[Ctx, "authn.AuthContext | None", Call], Any]
RawHandler = Callable[[Ctx, "authn.AuthContext | None", Call], Awaitable[Response]]


@dataclass
class RouteDef:
    op: spec.Operation
    handler: Callable[..., Any]
    raw: bool = False
    methods: tuple[str, ...] = ()
    status: int | None = None
    prepare: Handler | None = None
    extra_body: tuple[str, ...] = ()


def route(op_id: str, handler: Callable[..., Any], *, patch_twin: bool = False, raw: bool = False,
          status: int | None = None, prepare: Handler | None = None, resolves_caller: bool = False,
          extra_body: tuple[str, ...] = ()) -> RouteDef:
    """One row of a route table. `patch_twin` adds upstream's hidden PATCH for a PUT (API-NOTES §1).

    `resolves_caller`: the handler works out who is calling itself, so the adapter authenticates nothing (the
    shared-link login: a password link only resolves once the cookie this route sets exists).

    `prepare` (raw routes only) runs in the same threadpool call as authentication, before the body is read;
    its result is `call.prepared` (one hand-off instead of two for the database reads an upload needs first).

    `extra_body`: string properties the spec does not declare, kept instead of stripped (a real client sends
    them: the web app's search bar sends `query` to /search/metadata when smart search is off).
    """
    op = spec.operations()[op_id]
    if resolves_caller:
        op = replace(op, public=True)
    methods = (op.method, "PATCH") if patch_twin else (op.method,)
    return RouteDef(op=op, handler=handler, raw=raw, methods=methods, status=status, prepare=prepare,
                    extra_body=extra_body)


def client_ip(request: Request, trusted: set[str]) -> str:
    peer = request.client.host if request.client else ""
    if peer in trusted:
        xff = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in xff.split(",") if h.strip()]
        while hops and hops[-1] in trusted:
            hops.pop()
        if hops:
            return hops[-1]
    return peer


def credentials(request: Request, trusted: set[str] | None = None) -> authn.Credentials:
    return authn.Credentials(
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        cookies=dict(request.cookies),
        user_agent=request.headers.get("user-agent", ""),
        client_ip=client_ip(request, trusted or set()),
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
    )


async def read_json(request: Request, op: spec.Operation) -> Any:
    if op.body is None:
        return None
    ctype = request.headers.get("content-type", "")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_JSON_BODY:
        raise PayloadTooLarge("request entity too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BODY:
            raise PayloadTooLarge("request entity too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip() or ("json" not in ctype and ctype != ""):
        return {}  # like express: a non-JSON body is an empty object, then validation speaks
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"Invalid JSON body: {e}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_call(request: Request, op: spec.Operation, body: Any, creds: authn.Credentials,
               with_body: bool = True) -> Call:
    """Validate path, query and body against the operation's schemas (after authentication, as Nest).

    Raw handlers read their own body (multipart, streams): `with_body=False` leaves it to them.
    """
    if with_body and op.body is not None:
        body = spec.validate_body(body, op.body)
    path = spec.validate_params(dict(request.path_params), op.params, "path")
    qp = request.query_params
    raw_query: dict[str, Any] = {}
    for p in op.params:
        if p.location == "query" and p.name in qp:
            values = qp.getlist(p.name)
            raw_query[p.name] = values if spec.resolve(p.schema).get("type") == "array" else values[-1]
    query = spec.validate_params(raw_query, op.params, "query")
    return Call(params=path, query=query, body=body, creds=creds, op=op, request=request)


def authenticate(ctx: Ctx, op: spec.Operation, creds: authn.Credentials) -> authn.AuthContext | None:
    """Runs in the threadpool: resolve the caller and apply the route checks."""
    if op.public:
        return None
    from immich_lite.services import session as session_service  # noqa: PLC0415 (avoid import cycle)

    conn = ctx.db.reader()
    auth = authn.resolve(conn, creds)
    if auth is None:
        raise Unauthorized("Authentication required")
    authn.check_route(auth, admin=op.admin, shared_link=op.shared_link, permission=op.permission, op_id=op.id)
    if auth.session is not None:
        session_service.touch(ctx, auth, creds)
    return auth


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, serialised by orjson: the same compact UTF-8 JSON, several times faster for the
    big bodies (a search page of 250 assets with their exif is ~350 KB)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # what orjson refuses (an integer past 64 bits in a user's metadata): the stdlib writes it
            return super().render(content)


def to_response(result: Any, default_status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Reply):
        status = result.status or default_status
        resp: Response = (Response(status_code=status) if result.body is None
                          else FastJSONResponse(result.body, status_code=status))
        for k, v in result.headers.items():
            resp.headers[k] = v
        for c in result.cookies:
            resp.set_cookie(**c)
        for name in result.delete_cookies:
            resp.delete_cookie(name, path="/")
        return resp
    if result is None:
        return Response(status_code=default_status)
    return FastJSONResponse(result, status_code=default_status)


def build_routes(ctx: Ctx, table: list[RouteDef]) -> list[Route]:
    trusted = {x.strip() for x in ctx.settings.trusted_proxies.split(",") if x.strip()}
    routes = []
    # static segments before parameters, position by position, so /assets/metadata never reads as /assets/{id}
    ordered = sorted(table, key=lambda rd: [seg.startswith("{") for seg in rd.op.path.split("/")])
    for rd in ordered:
        routes.append(Route(rd.op.path, _endpoint(ctx, rd, trusted), methods=list(rd.methods),
                            name=rd.op.id + (f":{'+'.join(rd.methods)}" if len(rd.methods) > 1 else "")))
    return routes


def _endpoint(ctx: Ctx, rd: RouteDef, trusted: set[str]) -> Callable[[Request], Awaitable[Response]]:
    op = rd.op
    status = rd.status or op.success_status

    async def endpoint(request: Request) -> Response:
        creds = credentials(request, trusted)
        if rd.raw:
            def prepare() -> tuple[Any, Call]:
                auth = authenticate(ctx, op, creds)
                call = parse_call(request, op, None, creds, with_body=False)
                if rd.prepare is not None:
                    call.prepared = rd.prepare(ctx, auth, call)
                return auth, call

            auth, call = await run_in_threadpool(prepare)
            return await rd.handler(ctx, auth, call)
        body = await read_json(request, op)

        def invoke() -> Any:
            auth = authenticate(ctx, op, creds)
            call = parse_call(request, op, body, creds)
            if rd.extra_body and isinstance(body, dict) and isinstance(call.body, dict):
                call.body.update({k: body[k] for k in rd.extra_body if isinstance(body.get(k), str)})
            return rd.handler(ctx, auth, call)

        result = await run_in_threadpool(invoke)
        return to_response(result, status)

    return endpoint
