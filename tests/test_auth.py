"""Authentication end to end: sign-up, login cookies, credential forms, secrets at rest, throttling, PIN."""
from __future__ import annotations

import sqlite3
from typing import Any

from tests.conftest import ADMIN, Actor, assert_error, assert_schema, login


def test_sign_up_admin_returns_admin(client: Any) -> None:
    r = client.post("/api/auth/admin-sign-up", json=ADMIN)
    body = assert_schema(r, "signUpAdmin")
    assert r.status_code == 201
    assert body["isAdmin"] is True and body["storageLabel"] == "admin" and body["shouldChangePassword"] is True


def test_sign_up_twice_is_refused(client: Any, admin: Actor) -> None:
    r = client.post("/api/auth/admin-sign-up", json={**ADMIN, "email": "other@immich.cloud"})
    assert_error(r, 400, "The server already has an admin")


def test_login_sets_the_three_cookies(client: Any, admin: Actor) -> None:
    r = client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
    assert r.status_code == 201
    assert_schema(r, "login")
    cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
    assert set(cookies) == {"immich_access_token", "immich_auth_type", "immich_is_authenticated"}
    assert "HttpOnly" in cookies["immich_access_token"] and "HttpOnly" not in cookies["immich_is_authenticated"]
    assert all("Secure" not in c and "SameSite=lax" in c for c in cookies.values())


def test_cookie_is_honoured(client: Any, admin: Actor) -> None:
    client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
    assert client.post("/api/auth/validateToken").json() == {"authStatus": True}
    client.cookies.clear()


def test_every_credential_form_is_accepted(client: Any, admin: Actor) -> None:
    token = admin.token
    key = admin.post("/api/api-keys", json={"permissions": ["all"]}).json()["secret"]
    forms = [
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"headers": {"authorization": f"bearer {token}"}},
        {"headers": {"x-immich-user-token": token}},
        {"headers": {"x-immich-session-token": token}},
        {"params": {"sessionKey": token}},
        {"headers": {"x-api-key": key}},
        {"params": {"apiKey": key}},
    ]
    for form in forms:
        assert client.post("/api/auth/validateToken", **form).status_code == 200, form


def test_bad_credentials_are_401(client: Any, admin: Actor) -> None:
    assert_error(client.get("/api/sessions", headers={"Authorization": "Bearer nope"}), 401, "Invalid user token")
    assert_error(client.get("/api/sessions", headers={"x-api-key": "nope"}), 401, "Invalid API key")


def test_wrong_password_and_unknown_email_look_the_same(client: Any, admin: Actor) -> None:
    a = client.post("/api/auth/login", json={"email": ADMIN["email"], "password": "wrong"})
    b = client.post("/api/auth/login", json={"email": "nobody@immich.cloud", "password": "wrong"})
    assert_error(a, 401, "Incorrect email or password")
    assert_error(b, 401, "Incorrect email or password")


def test_secrets_are_never_stored_in_clear(client: Any, admin: Actor, ctx: Any) -> None:
    secret = admin.post("/api/api-keys", json={"permissions": ["all"]}).json()["secret"]
    admin.post("/api/auth/pin-code", json={"pinCode": "123456"})
    raw = open(ctx.storage.db_path, "rb").read()
    wal = ctx.storage.db_path.with_name(ctx.storage.db_path.name + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    for value in (admin.token, secret, ADMIN["password"], "123456"):
        assert value.encode() not in raw, value
    conn = sqlite3.connect(ctx.storage.db_path)
    password, pin = conn.execute('SELECT password, pin_code FROM "user"').fetchone()
    assert password.startswith("$2") and pin.startswith("$2")


def test_repeated_failures_are_throttled(client: Any, admin: Actor, settings: Any) -> None:
    for _ in range(settings.login_max_failures):
        client.post("/api/auth/login", json={"email": ADMIN["email"], "password": "wrong"})
    r = client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
    assert_error(r, 429)
    assert int(r.headers["retry-after"]) > 0


def test_logout_revokes_the_token(client: Any, admin: Actor) -> None:
    r = admin.post("/api/auth/logout")
    assert r.json() == {"successful": True, "redirectUri": "/auth/login"}
    assert_error(admin.get("/api/sessions"), 401, "Invalid user token")


def test_change_password_can_invalidate_other_sessions(client: Any, admin: Actor) -> None:
    other = login(client, ADMIN["email"], ADMIN["password"])["accessToken"]
    r = admin.post("/api/auth/change-password",
                   json={"password": ADMIN["password"], "newPassword": "new-password", "invalidateSessions": True})
    assert_schema(r, "changePassword")
    assert r.json()["shouldChangePassword"] is False
    assert client.get("/api/sessions", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert admin.get("/api/sessions").status_code == 200
    login(client, ADMIN["email"], "new-password")


def test_change_password_with_wrong_password_is_400(admin: Actor) -> None:
    r = admin.post("/api/auth/change-password", json={"password": "bad", "newPassword": "long-enough-password"})
    assert_error(r, 400, "Wrong password")


def test_pin_unlocks_the_session(admin: Actor) -> None:
    assert admin.post("/api/auth/pin-code", json={"pinCode": "123456"}).status_code == 204
    assert admin.get("/api/auth/status").json()["isElevated"] is False
    assert_error(admin.post("/api/auth/session/unlock", json={"pinCode": "000000"}), 400, "Wrong PIN code")
    assert admin.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code == 204
    status = assert_schema(admin.get("/api/auth/status"), "getAuthStatus")
    assert status["isElevated"] is True and status["pinCode"] is True and "pinExpiresAt" in status
    assert admin.post("/api/auth/session/lock").status_code == 204
    assert admin.get("/api/auth/status").json()["isElevated"] is False


def test_pin_change_and_reset(admin: Actor) -> None:
    admin.post("/api/auth/pin-code", json={"pinCode": "123456"})
    assert admin.put("/api/auth/pin-code", json={"pinCode": "123456", "newPinCode": "654321"}).status_code == 204
    assert_error(admin.delete("/api/auth/pin-code", json={"pinCode": "123456"}), 400, "Wrong PIN code")
    assert admin.delete("/api/auth/pin-code", json={"password": ADMIN["password"]}).status_code == 204
    assert admin.get("/api/auth/status").json()["pinCode"] is False


def test_sessions_list_create_delete(client: Any, admin: Actor) -> None:
    body = assert_schema(admin.get("/api/sessions"), "getSessions")
    assert [s["current"] for s in body] == [True]
    child = admin.post("/api/sessions", json={"deviceType": "Cast", "deviceOS": "Chromecast", "duration": 3600})
    created = assert_schema(child, "createSession")
    assert client.post("/api/auth/validateToken",
                       headers={"Authorization": f"Bearer {created['token']}"}).status_code == 200
    assert admin.delete(f"/api/sessions/{created['id']}").status_code == 204
    assert client.post("/api/auth/validateToken",
                       headers={"Authorization": f"Bearer {created['token']}"}).status_code == 401


def test_update_session_has_patch_twin(admin: Actor) -> None:
    sid = admin.get("/api/sessions").json()[0]["id"]
    for method in ("PUT", "PATCH"):
        r = admin.request(method, f"/api/sessions/{sid}", json={"isPendingSyncReset": True})
        assert assert_schema(r, "updateSession")["isPendingSyncReset"] is True


def test_another_users_session_is_out_of_reach(admin: Actor, user: Actor) -> None:
    theirs = admin.get("/api/sessions").json()[0]["id"]
    for method, suffix, permission in (("PUT", "", "update"), ("DELETE", "", "delete"), ("POST", "/lock", "lock")):
        body = {"isPendingSyncReset": True} if method == "PUT" else None
        assert_error(user.request(method, f"/api/sessions/{theirs}{suffix}", json=body), 400,
                     f"Not found or no session.{permission} access")
    assert admin.get("/api/sessions").json()[0]["isPendingSyncReset"] is False


def test_user_agent_sets_device_and_app_version(client: Any, admin: Actor) -> None:
    r = client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]},
                    headers={"User-Agent": "immich-android/3.1.0"})
    client.cookies.clear()
    token = r.json()["accessToken"]
    sessions = client.get("/api/sessions", headers={"Authorization": f"Bearer {token}"}).json()
    mine = next(s for s in sessions if s["current"])
    assert mine["appVersion"] == "3.1.0" and mine["deviceOS"] == "Android"
