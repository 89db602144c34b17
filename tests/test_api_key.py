"""API keys: creation, secrets shown once, scope enforcement, no self-escalation (GHSA-237r-x578-h5mv)."""
from __future__ import annotations

from typing import Any

from tests.conftest import Actor, assert_error, assert_schema


def _create(actor: Any, permissions: list[str], **headers: str) -> Any:
    return actor.client.post("/api/api-keys", json={"name": "k", "permissions": permissions},
                             headers=headers or actor.headers)


def test_create_returns_secret_once(admin: Actor) -> None:
    r = _create(admin, ["all"])
    body = assert_schema(r, "createApiKey")
    listed = assert_schema(admin.get("/api/api-keys"), "getApiKeys")
    assert body["secret"] and listed == [body["apiKey"]] and "secret" not in listed[0]


def test_key_cannot_grant_what_it_lacks(admin: Actor) -> None:
    limited = _create(admin, ["apiKey.read", "apiKey.update", "apiKey.create"]).json()
    headers = {"x-api-key": limited["secret"]}
    r = admin.client.put(f"/api/api-keys/{limited['apiKey']['id']}", json={"permissions": ["all"]}, headers=headers)
    assert_error(r, 400, "Cannot grant permissions you do not have")
    assert_error(_create(admin, ["all"], **headers), 400, "Cannot grant permissions you do not have")
    assert_error(admin.client.get("/api/sessions", headers=headers), 403, "Missing required permission: session.read")


def test_update_and_delete(admin: Actor) -> None:
    key = _create(admin, ["all"]).json()["apiKey"]
    for method in ("PUT", "PATCH"):
        r = admin.request(method, f"/api/api-keys/{key['id']}", json={"name": f"renamed-{method}"})
        assert assert_schema(r, "updateApiKey")["name"] == f"renamed-{method}"
    assert admin.delete(f"/api/api-keys/{key['id']}").status_code == 204
    assert_error(admin.get(f"/api/api-keys/{key['id']}"), 400)


def test_keys_are_private_to_their_owner(admin: Actor, user: Actor) -> None:
    key = _create(admin, ["all"]).json()["apiKey"]
    assert_error(user.get(f"/api/api-keys/{key['id']}"), 400)
    assert_error(user.delete(f"/api/api-keys/{key['id']}"), 400)
    assert user.get("/api/api-keys").json() == []


def test_get_my_api_key_needs_an_api_key(admin: Actor) -> None:
    assert_error(admin.get("/api/api-keys/me"), 403)
    secret = _create(admin, ["user.read"]).json()["secret"]
    r = admin.client.get("/api/api-keys/me", headers={"x-api-key": secret})
    assert assert_schema(r, "getMyApiKey")["permissions"] == ["user.read"]
