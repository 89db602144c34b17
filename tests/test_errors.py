"""Bad input: 400 in upstream 3.1.0's shape ({"message": "Validation failed", "errors": [zod issues]}), nothing
changed; the zod issues themselves are checked against zod in tests/test_validation.py."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assert_error, assert_invalid


def test_invalid_json_is_400(admin: Any) -> None:
    r = admin.post("/api/api-keys", content=b"{", headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_missing_required_field_lists_it(admin: Any) -> None:
    assert_invalid(admin.post("/api/api-keys", json={}),
                   (["permissions"], "Invalid input: expected array, received undefined"))


def test_unknown_enum_value_is_400(admin: Any) -> None:
    body = assert_error(admin.post("/api/api-keys", json={"permissions": ["root"]}), 400, "Validation failed")
    [issue] = body["errors"]
    assert issue["code"] == "invalid_value" and issue["path"] == ["permissions", 0]
    assert issue["message"].startswith('Invalid option: expected one of "all"|"activity.create"|')


def test_invalid_uuid_in_path_is_400(admin: Any) -> None:
    assert_invalid(admin.get("/api/api-keys/not-a-uuid"), (["id"], "Invalid UUID"))


def test_wrong_type_is_400(admin: Any) -> None:
    assert_invalid(admin.put("/api/sessions/00000000-0000-4000-8000-000000000000", json={"isPendingSyncReset": "yes"}),
                   (["isPendingSyncReset"], "Invalid input: expected boolean, received string"))


def test_invalid_email_is_400(client: Any) -> None:
    r = client.post("/api/auth/admin-sign-up", json={"email": "nope", "name": "A", "password": "x"})
    assert_invalid(r, (["email"], "Invalid input: expected email, received string"))


@pytest.mark.parametrize("payload", [b"NaN", b"[1,2]", b'"str"', b"\xff\xfe"])
def test_odd_bodies_are_400(admin: Any, payload: bytes) -> None:
    r = admin.post("/api/api-keys", content=payload, headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_bad_input_changes_nothing(admin: Any) -> None:
    admin.post("/api/api-keys", json={"permissions": ["all"], "name": 5})
    assert admin.get("/api/api-keys").json() == []


def test_errors_carry_a_correlation_id_header_only(client: Any) -> None:
    r = client.get("/api/users/me")
    assert r.json() == {"message": "Authentication required"}
    assert len(r.headers["x-correlation-id"]) == 16


def test_a_session_longer_than_the_calendar_never_expires(admin: Any) -> None:
    r = admin.post("/api/sessions", json={"duration": 9007199254740991})
    assert r.status_code == 201, r.text
    assert r.json()["expiresAt"].startswith("9999-12-31")
