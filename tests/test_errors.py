"""Bad input: 400 in Immich's shape, class-validator messages (pinned here), nothing changed."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assert_error


def test_invalid_json_is_400(admin: Any) -> None:
    r = admin.post("/api/api-keys", content=b"{", headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_missing_required_field_lists_it(admin: Any) -> None:
    assert_error(admin.post("/api/api-keys", json={}), 400, ["permissions must be an array"])


def test_unknown_enum_value_is_400(admin: Any) -> None:
    body = assert_error(admin.post("/api/api-keys", json={"permissions": ["root"]}), 400)
    assert body["message"][0].startswith("each value in permissions must be one of the following values: all,")


def test_invalid_uuid_in_path_is_400(admin: Any) -> None:
    assert_error(admin.get("/api/api-keys/not-a-uuid"), 400, ["id must be a UUID"])


def test_wrong_type_is_400(admin: Any) -> None:
    assert_error(admin.put("/api/sessions/00000000-0000-4000-8000-000000000000", json={"isPendingSyncReset": "yes"}),
                 400, ["isPendingSyncReset must be a boolean value"])


def test_invalid_email_is_400(client: Any) -> None:
    r = client.post("/api/auth/admin-sign-up", json={"email": "nope", "name": "A", "password": "x"})
    assert_error(r, 400, ["email must be an email"])


@pytest.mark.parametrize("payload", [b"NaN", b"[1,2]", b'"str"', b"\xff\xfe"])
def test_odd_bodies_are_400(admin: Any, payload: bytes) -> None:
    r = admin.post("/api/api-keys", content=payload, headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_bad_input_changes_nothing(admin: Any) -> None:
    admin.post("/api/api-keys", json={"permissions": ["all"], "name": 5})
    assert admin.get("/api/api-keys").json() == []


def test_errors_carry_a_correlation_id_header(client: Any) -> None:
    r = client.get("/api/users/me")
    assert r.headers["x-correlation-id"] == r.json()["correlationId"]
