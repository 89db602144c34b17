"""The auth matrix, generated from the route table: every route × {anonymous, non-admin, API keys}."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from immich_lite import spec
from immich_lite.app import route_table
from tests.conftest import assert_error

ROUTES = route_table()
PROTECTED = [r for r in ROUTES if not r.op.public]
ADMIN_ONLY = [r for r in ROUTES if r.op.admin]
KEYED = [r for r in PROTECTED if not r.op.admin and r.op.id != "getMyApiKey"]


def _url(op: spec.Operation) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()), op.path)


def _ids(rows: list[Any]) -> list[str]:
    return [f"{r.op.method} {r.op.path}" for r in rows]


def test_every_route_is_in_the_spec() -> None:
    ops = spec.operations()
    for r in ROUTES:
        assert ops[r.op.id].path == r.op.path and ops[r.op.id].method == r.op.method


def test_route_table_has_no_duplicates() -> None:
    keys = [(m, r.op.path) for r in ROUTES for m in r.methods]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("r", PROTECTED, ids=_ids(PROTECTED))
def test_call_without_credentials_is_401(client: Any, r: Any) -> None:
    for method in r.methods:
        assert_error(client.request(method, _url(r.op), json={}), 401, "Authentication required")


@pytest.mark.parametrize("r", ADMIN_ONLY, ids=_ids(ADMIN_ONLY))
def test_admin_route_as_user_is_403(user: Any, r: Any) -> None:
    for method in r.methods:
        assert_error(user.request(method, _url(r.op), json={}), 403)


def _key(actor: Any, permissions: list[str]) -> str:
    r = actor.post("/api/api-keys", json={"name": "k", "permissions": permissions})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


@pytest.mark.parametrize("r", KEYED, ids=_ids(KEYED))
def test_api_key_without_permission_is_403(client: Any, user: Any, r: Any) -> None:
    needed = r.op.permission or "all"
    other = "server.about" if needed != "server.about" else "user.read"
    secret = _key(user, [other])
    resp = client.request(r.op.method, _url(r.op), json={}, headers={"x-api-key": secret})
    assert_error(resp, 403, f"Missing required permission: {needed}")


@pytest.mark.parametrize("r", KEYED, ids=_ids(KEYED))
def test_api_key_with_permission_passes_the_guard(client: Any, user: Any, r: Any) -> None:
    secret = _key(user, [r.op.permission or "all"])
    resp = client.request(r.op.method, _url(r.op), json={}, headers={"x-api-key": secret})
    assert resp.status_code not in (401, 403) or "permission" not in str(resp.json().get("message", "")), resp.text
    assert resp.status_code < 500, resp.text
    simple = r.op.method == "GET" and "{" not in r.op.path and not any(p.required for p in r.op.params)
    # sync needs a session and /shared-links/me a link, as upstream: an API key is the wrong kind of caller
    sync_refusal = resp.status_code == 403 and ("Sync endpoints" in resp.text or r.op.id == "getMySharedLink")
    if simple and not sync_refusal:  # nothing to look up: the call succeeds, or reports that a singleton (a license) is absent
        assert 200 <= resp.status_code < 300 or (
            resp.status_code == 404 and not resp.json()["message"].startswith("Cannot")), resp.text


def test_my_api_key_is_readable_by_any_key(client: Any, user: Any) -> None:
    secret = _key(user, ["asset.upload"])
    resp = client.get("/api/api-keys/me", headers={"x-api-key": secret})
    assert resp.status_code == 200 and resp.json()["permissions"] == ["asset.upload"]


def test_unknown_api_route_is_404_like_upstream(client: Any) -> None:
    assert_error(client.get("/api/xyz"), 404, "Cannot GET /api/xyz")
    assert_error(client.post("/api/server/ping"), 404, "Cannot POST /api/server/ping")


def test_one_trailing_slash_routes_like_express(client: Any, admin: Any) -> None:
    # Nest on express, non-strict routing: `/api/assets/` is `/api/assets`; two slashes are another path
    assert client.get("/api/server/ping/").json() == {"res": "pong"}
    assert admin.get("/api/users/me/").json()["id"] == admin.id
    assert admin.put("/api/assets/", json={"ids": [], "isFavorite": True}).status_code == 204
    assert_error(client.get("/api/xyz/"), 404, "Cannot GET /api/xyz/")
    assert_error(admin.get("/api/albums//"), 404, "Cannot GET /api/albums//")
    assert_error(client.get("/api/users/me/"), 401)
