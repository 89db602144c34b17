"""JSON-schema validators for the spec's response schemas (OpenAPI 3.0 nullable → JSON Schema)."""
from __future__ import annotations

import functools
from typing import Any

import jsonschema

from tests.conftest import spec_doc


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref":
            out["$ref"] = "#/$defs/" + v.rsplit("/", 1)[1]
        elif k in ("nullable", "example", "x-immich-history", "x-immich-state", "deprecated"):
            continue
        else:
            out[k] = _convert(v)
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _defs() -> dict[str, Any]:
    return {k: _convert(v) for k, v in spec_doc()["components"]["schemas"].items()}


@functools.cache
def validator_for(operation_id: str, status: int) -> jsonschema.Validator:
    for item in spec_doc()["paths"].values():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                resp = op["responses"].get(str(status), {})
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                assert schema is not None, f"{operation_id} has no JSON schema for {status}"
                full = _convert(schema)
                full = dict(full) if isinstance(full, dict) else {"allOf": [full]}
                full["$defs"] = _defs()
                return jsonschema.Draft202012Validator(
                    full, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    raise KeyError(operation_id)


@functools.cache
def validator_for_schema(name: str) -> jsonschema.Validator:
    full = dict(_convert(spec_doc()["components"]["schemas"][name]))
    full["$defs"] = _defs()
    return jsonschema.Draft202012Validator(full, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
