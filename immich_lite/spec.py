"""The pinned Immich OpenAPI document: operations by id, and request validation as upstream's zod answers.

The spec is the contract (Immich 3.1.0). Routes name an operationId; method, path, permission, admin flag,
public flag and parameter/body schemas all come from here, so they cannot drift from the contract.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from immich_lite import validation
from immich_lite.errors import ValidationFailed


@dataclass
class Param:
    name: str
    location: str  # path | query
    required: bool
    schema: dict[str, Any]


@dataclass
class Operation:
    id: str
    method: str
    path: str  # Starlette form, '/api/assets/{id}'
    tag: str
    permission: str | None
    admin: bool
    public: bool
    shared_link: bool
    params: list[Param] = field(default_factory=list)
    body: dict[str, Any] | None = None
    body_required: bool = False
    multipart: dict[str, Any] | None = None
    success_status: int = 200
    deprecated: bool = False


@functools.cache
def document() -> dict[str, Any]:
    text = (importlib.resources.files("immich_lite") / "immich-openapi-specs.json").read_text()
    return json.loads(text)


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schemas()[node["$ref"].rsplit("/", 1)[1]]
    return node


@functools.cache
def operations() -> dict[str, Operation]:
    out: dict[str, Operation] = {}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [Param(p["name"], p["in"], bool(p.get("required")), p.get("schema", {}))
                      for p in (resolve(x) for x in op.get("parameters", []))]
            content = op.get("requestBody", {}).get("content", {})
            ok = sorted(int(s) for s in op.get("responses", {}) if s.isdigit() and 200 <= int(s) < 300)
            names = {p.name for p in params}
            out[op["operationId"]] = Operation(
                id=op["operationId"], method=method.upper(), path="/api" + path,
                tag=(op.get("tags") or [""])[0],
                permission=op.get("x-immich-permission"),
                admin=bool(op.get("x-immich-admin-only")),
                public="security" not in op,
                shared_link="key" in names or "slug" in names,
                params=params,
                body=content.get("application/json", {}).get("schema"),
                body_required=bool(op.get("requestBody", {}).get("required")),
                multipart=content.get("multipart/form-data", {}).get("schema"),
                success_status=ok[0] if ok else 200,
                deprecated=bool(op.get("deprecated")),
            )
    return out


def enum_values(name: str) -> list[str]:
    return list(schemas()[name]["enum"])


# ---------------------------------------------------------------------------------------------
# Validation: zod's issues, as upstream answers (immich_lite.validation).

def validate_body(value: Any, schema: dict[str, Any]) -> Any:
    """The body cleaned by its schema (unknown keys stripped).

    :raises ValidationFailed: with zod's issues.
    """
    v = validation.Validator(resolve)
    out = v.check(value, schema, [])
    if v.issues:
        raise ValidationFailed(v.issues)
    return out


def coerce_param(raw: str, schema: dict[str, Any]) -> Any:
    """A multipart text field read by its declared type (numbers as z.coerce, booleans as stringToBool)."""
    s = resolve(schema)
    if s.get("type") == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return validation.coerce(raw, s)


def validate_params(values: dict[str, Any], params: list[Param], location: str) -> dict[str, Any]:
    """Path or query values (text, or lists of text for repeated query keys) cleaned by their schemas.

    :raises ValidationFailed: with zod's issues.
    """
    v = validation.Validator(resolve)
    out: dict[str, Any] = {}
    for p in params:
        if p.location != location:
            continue
        s = resolve(p.schema)
        if p.name not in values or values[p.name] is None:
            if p.required:
                v.check(validation.UNDEFINED, s, [p.name])
            continue
        raw = values[p.name]
        if s.get("type") == "array":
            items = raw if isinstance(raw, list) else [raw]
            out[p.name] = v.check([_param_value(v, x, resolve(s.get("items", {})), [p.name, i])
                                   for i, x in enumerate(items)], s, [p.name])
        else:
            out[p.name] = v.check(_param_value(v, raw, s, [p.name]), s, [p.name])
    if v.issues:
        raise ValidationFailed(v.issues)
    return out


def _param_value(v: validation.Validator, raw: Any, schema: dict[str, Any], path: list[str | int]) -> Any:
    if isinstance(raw, str) and schema.get("type") == "boolean":
        value, issue = validation.check_stringbool(raw, path)
        if issue is not None:
            v.add(issue)
            return True  # reported already; a placeholder the boolean check accepts
        return value
    return validation.coerce(raw, schema) if isinstance(raw, str) else raw


def parse_uuid(value: str, name: str = "id") -> str:
    """A UUID from somewhere the spec does not describe (e.g. inside a string), or ValidationFailed."""
    v = validation.Validator(resolve)
    v.check(value, {"type": "string", "format": "uuid"}, [name])
    if v.issues:
        raise ValidationFailed(v.issues)
    return str(uuid.UUID(value))
