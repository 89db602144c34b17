"""immich_lite.validation against the real thing: zod 4.3.6 (upstream's validator, from tests/clients) raises the
same issues, field for field, for the schema constructs the spec uses; then the error bodies through HTTP."""
from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from immich_lite import spec, validation
from tests.conftest import REPO, assert_error

NODE = REPO / "tests" / "clients" / "node_modules" / ".bin" / "node"
ORACLE = REPO / "tests" / "clients" / "zod_issues.mjs"
S = spec.schemas()
UUID = {"type": "string", "format": "uuid", "pattern": S["MetadataSearchDto"]["properties"]["id"]["pattern"]}
DATETIME = {k: v for k, v in S["MetadataSearchDto"]["properties"]["takenAfter"].items() if k != "description"}
DATE = {"type": "string", "format": "date",
        "pattern": r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|"
                   r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|"
                   r"(?:02)-(?:0[1-9]|1\d|2[0-8])))$"}
EMAIL = {"type": "string", "format": "email"}
OBJ = {"type": "object", "required": ["name", "ids", "size"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 5}, "ids": {"type": "array", "items": UUID, "minItems": 1},
    "size": {"type": "integer", "minimum": 1, "maximum": 1000}, "order": {"type": "string", "enum": ["asc", "desc"]},
    "when": DATETIME, "flag": {"type": "boolean"}, "note": {"type": "string", "nullable": True},
    "ratio": {"type": "number", "minimum": -90, "maximum": 90},
    "big": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991}}}

CASES: list[tuple[dict[str, Any], Any]] = [
    (UUID, "x"), (UUID, 5), (UUID, None), (UUID, "00000000-0000-0000-0000-000000000000"),
    (UUID, "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    (EMAIL, "nope"), (EMAIL, 7), (EMAIL, "a@b.example"),
    (DATETIME, "yesterday"), (DATETIME, "2024-01-01"), (DATETIME, "2024-02-30T00:00:00Z"), (DATETIME, 3),
    (DATETIME, "2024-01-01T00:00:00.000Z"), (DATETIME, "2024-01-01T00:00:00+02:00"),
    (DATE, "2024-13-01"), (DATE, "2024-01-01"), (DATE, False),
    ({"type": "string", "minLength": 1}, ""), ({"type": "string", "maxLength": 3}, "abcd"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "AB"), ({"type": "string"}, ["x"]),
    ({"type": "integer", "minimum": 1, "maximum": 1000}, 0), ({"type": "integer", "minimum": 1, "maximum": 1000}, 1001),
    ({"type": "integer", "minimum": 1, "maximum": 1000}, 1.5), ({"type": "integer", "minimum": 1}, "5"),
    ({"type": "integer"}, 2 ** 60), ({"type": "number", "minimum": 0.1, "maximum": 1}, 0.05),
    ({"type": "number"}, True), ({"type": "boolean"}, "true"), ({"type": "boolean"}, None),
    ({"type": "string", "enum": ["a", "b"]}, "c"), ({"type": "string", "enum": ["only"]}, "c"),
    ({"type": "string", "enum": ["a", "b"]}, 1),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1}, []), ({"type": "array", "items": UUID}, "x"),
    ({"type": "array", "items": UUID, "maxItems": 1}, ["x", "y"]),
    (OBJ, {}), (OBJ, []), (OBJ, None), (OBJ, "s"),
    (OBJ, {"name": "", "ids": ["bad", 3], "size": 0, "order": "up", "when": "noon", "flag": 1, "note": None,
           "ratio": 120, "big": 1.25, "extra": True}),
    (OBJ, {"name": "abc", "ids": [UUID_OK := "3fa85f64-5717-4562-b3fc-2c963f66afa6"], "size": 5, "note": 5}),
    (OBJ, {"name": "toolong", "ids": [UUID_OK], "size": 5}),
]


def _ours(schema: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    v = validation.Validator(spec.resolve)
    v.check(validation.UNDEFINED if value == "__undefined__" else value, schema, [])
    return v.issues


@pytest.fixture(scope="module")
def oracle() -> list[list[dict[str, Any]]]:
    if not NODE.exists():
        pytest.fail(f"{NODE} missing: run `npm ci --prefix tests/clients` (the README's test command does)")
    lines = "\n".join(json.dumps({"schema": s, "value": v}) for s, v in CASES)
    out = subprocess.run([str(NODE), str(ORACLE)], input=lines, capture_output=True, text=True, timeout=60,
                         check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0].get('format') or c[0].get('type')}-{c[1]!r}"[:60]
                                                       for c in CASES])
def test_issues_are_zods(oracle: list[list[dict[str, Any]]], i: int) -> None:
    schema, value = CASES[i]
    def canon(issues: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(i, sort_keys=True) for i in issues)

    assert canon(_ours(schema, value)) == canon(oracle[i]), (schema, value)


# --- the error bodies through HTTP ----------------------------------------------------------------------------

def test_validation_failure_body(admin: Any) -> None:
    r = admin.get("/api/api-keys/not-a-uuid")
    assert r.status_code == 400
    assert r.json() == {"message": "Validation failed", "errors": [
        {"origin": "string", "code": "invalid_format", "format": "uuid", "pattern": f"/{UUID['pattern']}/",
         "path": ["id"], "message": "Invalid UUID"}]}
    assert r.headers["x-correlation-id"]


def test_missing_body_field(admin: Any) -> None:
    r = admin.post("/api/api-keys", json={})
    assert r.json() == {"message": "Validation failed", "errors": [
        {"expected": "array", "code": "invalid_type", "path": ["permissions"],
         "message": "Invalid input: expected array, received undefined"}]}


def test_query_values_are_read_as_upstream(admin: Any) -> None:
    r = admin.get("/api/timeline/buckets", params={"isFavorite": "yes"})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"code": "invalid_value", "expected": "stringbool", "values": ["true", "false"], "path": ["isFavorite"],
         "message": 'Invalid option: expected one of "true"|"false"'}]
    r = admin.post("/api/search/large-assets", params={"size": "lots"})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"expected": "number", "code": "invalid_type", "received": "NaN", "path": ["size"],
         "message": "Invalid input: expected number, received NaN"}]


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/api/users/me", 401, "Authentication required"),
    ("GET", "/api/not-a-route", 404, "Cannot GET /api/not-a-route"),
])
def test_other_errors_are_only_a_message(client: Any, method: str, path: str, status: int, message: str) -> None:
    r = client.request(method, path)
    assert r.status_code == status and r.json() == {"message": message}
    assert len(r.headers["x-correlation-id"]) == 16


def test_forbidden_is_only_a_message(admin: Any, user: Any) -> None:
    assert_error(user.get("/api/admin/users"), 403)
    assert set(user.get("/api/admin/users").json()) == {"message"}


def test_an_unexpected_failure_is_500_with_only_a_message(admin: Any, ctx: Any) -> None:
    # a real server-side fault, no mock: the table behind the route is gone (a damaged database)
    with ctx.db.write() as conn:
        conn.execute("DROP TABLE api_key")
    from starlette.testclient import TestClient
    client = TestClient(admin.client.app, raise_server_exceptions=False)  # answer as a server would
    r = client.get("/api/api-keys", headers={"Authorization": f"Bearer {admin.token}"})
    assert r.status_code == 500 and r.json() == {"message": "Internal server error"}
    assert len(r.headers["x-correlation-id"]) == 16
