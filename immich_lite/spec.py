"""The pinned Immich OpenAPI document: operations by id, and request validation with class-validator messages.

The spec is the contract (Immich 3.1.0). Routes name an operationId; method, path, permission, admin flag,
public flag and parameter/body schemas all come from here, so they cannot drift from the contract.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from immich_lite.errors import BadRequest

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


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
# Validation. Messages follow class-validator's wording, which upstream's e2e tests pin
# (e.g. "email must be an email", "id must be a UUID"). Unknown properties are stripped (whitelist).

class _Errors(list[str]):
    pass


def _is_uuid(v: Any) -> bool:
    return isinstance(v, str) and bool(_UUID_RE.match(v))


def _check(value: Any, schema: dict[str, Any], name: str, errs: _Errors, each: bool = False) -> Any:
    schema = resolve(schema)
    prefix = f"each value in {name}" if each else name
    if value is None:
        if schema.get("nullable"):
            return None
        errs.append(f"{name} should not be null" if name else "value should not be null")
        return None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(resolve(part))
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return _check(value, merged, name, errs, each)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            for option in schema[key]:
                trial = _Errors()
                out = _check(value, option, name, trial, each)
                if not trial:
                    return out
            errs.append(f"{prefix} is invalid")
            return value
    if "enum" in schema:
        if value not in schema["enum"]:
            errs.append(f"{prefix} must be one of the following values: {', '.join(map(str, schema['enum']))}")
        return value
    t = schema.get("type")
    fmt = schema.get("format")
    if t == "object" or "properties" in schema:
        if not isinstance(value, dict):
            errs.append(f"{prefix} must be an object" if name else "body must be an object")
            return value
        props = schema.get("properties")
        if props is None:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return {k: _check(v, extra, f"{name}.{k}" if name else k, errs) for k, v in value.items()}
            return value
        out = {}
        for req in schema.get("required", []):
            if req not in value and req in props:
                _missing(req if not name else f"{name}.{req}", resolve(props[req]), errs)
        for k, v in value.items():
            if k in props:
                out[k] = _check(v, props[k], f"{name}.{k}" if name else k, errs)
        return out
    if t == "array":
        if not isinstance(value, list):
            errs.append(f"{prefix} must be an array")
            return value
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{name} must contain at least {schema['minItems']} elements")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{name} must contain no more than {schema['maxItems']} elements")
        items = schema.get("items", {})
        return [_check(v, items, name, errs, each=True) for v in value]
    if t == "string":
        if not isinstance(value, str):
            errs.append(f"{prefix} must be a string")
            return value
        if fmt == "uuid":
            if not _is_uuid(value):
                errs.append(f"{prefix} must be a UUID")
            return value.lower() if _is_uuid(value) else value
        if fmt == "email":
            if not _EMAIL_RE.match(value):
                errs.append(f"{prefix} must be an email")
            return value.lower()
        if fmt == "date-time":
            if not _ISO_RE.match(value) or _parse_dt(value) is None:
                errs.append(f"{prefix} must be a valid ISO 8601 date string")
            return value
        if fmt == "date":
            try:
                date.fromisoformat(value[:10])
            except ValueError:
                errs.append(f"{prefix} must be a valid ISO 8601 date string")
            return value
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(f"{prefix} must be longer than or equal to {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{prefix} must be shorter than or equal to {schema['maxLength']} characters")
        pattern = schema.get("pattern")
        if pattern and fmt is None and not re.search(pattern, value):
            errs.append(f"{prefix} must match {pattern} regular expression")
        return value
    if t in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errs.append(f"{prefix} must be {'an integer number' if t == 'integer' else 'a number'}")
            return value
        if t == "integer" and isinstance(value, float):
            if not value.is_integer():
                errs.append(f"{prefix} must be an integer number")
                return value
            value = int(value)
        if value != value or value in (float("inf"), float("-inf")):
            errs.append(f"{prefix} must be a number")
            return value
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{prefix} must not be less than {_num(schema['minimum'])}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{prefix} must not be greater than {_num(schema['maximum'])}")
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            errs.append(f"{prefix} must be a boolean value")
        return value
    return value


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _missing(name: str, schema: dict[str, Any], errs: _Errors) -> None:
    t = schema.get("type")
    if schema.get("format") == "uuid":
        errs.append(f"{name} must be a UUID")
    elif "enum" in schema:
        errs.append(f"{name} must be one of the following values: {', '.join(map(str, schema['enum']))}")
    elif t == "string":
        errs.append(f"{name} must be a string")
    elif t == "boolean":
        errs.append(f"{name} must be a boolean value")
    elif t in ("integer", "number"):
        errs.append(f"{name} must be a number")
    elif t == "array":
        errs.append(f"{name} must be an array")
    else:
        errs.append(f"{name} should not be empty")


def _parse_dt(value: str) -> datetime | None:
    try:
        v = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        return datetime.fromisoformat(v)
    except ValueError:
        return None


def validate_body(value: Any, schema: dict[str, Any]) -> Any:
    errs = _Errors()
    out = _check(value, schema, "", errs)
    if errs:
        raise BadRequest(list(errs))
    return out


def coerce_param(raw: str, schema: dict[str, Any]) -> Any:
    """Query strings arrive as text; convert by the declared type before validating."""
    s = resolve(schema)
    t = s.get("type")
    if t == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(raw.lower(), raw)
    if t in ("integer", "number"):
        try:
            n = float(raw)
            return int(n) if n.is_integer() else n
        except ValueError:
            return raw
    return raw


def validate_params(values: dict[str, Any], params: list[Param], location: str) -> dict[str, Any]:
    errs = _Errors()
    out: dict[str, Any] = {}
    for p in params:
        if p.location != location:
            continue
        if p.name not in values or values[p.name] in (None, ""):
            if p.required:
                _missing(p.name, resolve(p.schema), errs)
            continue
        raw = values[p.name]
        s = resolve(p.schema)
        if s.get("type") == "array":
            items = raw if isinstance(raw, list) else [raw]
            out[p.name] = _check([coerce_param(x, s.get("items", {})) for x in items], s, p.name, errs)
        else:
            out[p.name] = _check(coerce_param(raw, s), s, p.name, errs)
    if errs:
        raise BadRequest(list(errs))
    return out


def parse_uuid(value: str, name: str = "id") -> str:
    if not _is_uuid(value):
        raise BadRequest([f"{name} must be a UUID"])
    return str(uuid.UUID(value))
