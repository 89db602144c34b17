"""Users (admin): create, search, update, trash, restore, sessions, statistics, heatmap."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from immich_lite import jobs
from immich_lite.services import user as user_service
from tests.conftest import assert_error, assert_schema, login, make_user
from tests.test_user import add_asset, jpeg

NEW = {"email": "new@immich.cloud", "name": "New User", "password": "new-password"}


def events(ctx: Any) -> list[tuple[str, str, Any]]:
    seen: list[tuple[str, str, Any]] = []
    ctx.events.subscribe(lambda event, room, payload: seen.append((event, room, payload)))
    return seen


# --- access ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/api/admin/users"), ("POST", "/api/admin/users"), ("GET", "/api/admin/users/{id}"),
    ("PUT", "/api/admin/users/{id}"), ("DELETE", "/api/admin/users/{id}"),
    ("POST", "/api/admin/users/{id}/restore"), ("GET", "/api/admin/users/{id}/statistics"),
])
def test_admin_route_as_non_admin_is_403(user: Any, method: str, path: str) -> None:
    assert_error(user.request(method, path.format(id=user.id), json=NEW), 403)


# --- create ------------------------------------------------------------------------------------

def test_create_user_defaults(admin: Any) -> None:
    body = assert_schema(admin.post("/api/admin/users", json=NEW), "createUserAdmin")
    assert body["email"] == NEW["email"] and body["name"] == NEW["name"]
    assert (body["isAdmin"], body["shouldChangePassword"], body["status"]) == (False, True, "active")
    assert (body["storageLabel"], body["quotaSizeInBytes"], body["deletedAt"], body["license"]) == (None,) * 4


def test_create_user_can_log_in(client: Any, admin: Any) -> None:
    admin.post("/api/admin/users", json=NEW)
    assert login(client, NEW["email"], NEW["password"])["shouldChangePassword"] is True


def test_create_user_with_options(admin: Any) -> None:
    r = admin.post("/api/admin/users", json={**NEW, "isAdmin": True, "shouldChangePassword": False,
                                             "quotaSizeInBytes": 1024, "storageLabel": "new", "avatarColor": "red",
                                             "notify": True})
    body = assert_schema(r, "createUserAdmin")
    assert (body["isAdmin"], body["shouldChangePassword"], body["quotaSizeInBytes"]) == (True, False, 1024)
    assert (body["storageLabel"], body["avatarColor"]) == ("new", "red")


def test_create_user_sanitizes_storage_label(admin: Any) -> None:
    body = admin.post("/api/admin/users", json={**NEW, "storageLabel": "../we.ird/la:bel "}).json()
    assert body["storageLabel"] == "weirdlabel"


def test_create_user_with_duplicate_email_is_400(admin: Any, user: Any) -> None:
    assert_error(admin.post("/api/admin/users", json={**NEW, "email": user.email.upper()}), 400,
                 "Email is not available")


def test_create_user_with_deleted_users_email_is_400(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert_error(admin.post("/api/admin/users", json={**NEW, "email": user.email}), 400, "Email is not available")


def test_create_user_with_taken_storage_label_is_400(admin: Any) -> None:
    r = admin.post("/api/admin/users", json={**NEW, "storageLabel": "admin"})
    assert_error(r, 400, "Storage label already in use by another account")


def test_create_user_with_empty_password_is_400(admin: Any) -> None:
    assert_error(admin.post("/api/admin/users", json={**NEW, "password": ""}), 400, "password is required")


@pytest.mark.parametrize("key", ["email", "name", "password"])
def test_create_user_without_required_field_is_400(admin: Any, key: str) -> None:
    assert_error(admin.post("/api/admin/users", json={k: v for k, v in NEW.items() if k != key}), 400)


def test_create_user_with_bad_email_is_400(admin: Any) -> None:
    assert_error(admin.post("/api/admin/users", json={**NEW, "email": "nope"}), 400)


def test_create_user_with_pin_code_hashes_it(ctx: Any, admin: Any) -> None:
    body = admin.post("/api/admin/users", json={**NEW, "pinCode": "123456"}).json()
    pin = ctx.db.reader().execute('SELECT pin_code FROM "user" WHERE id = ?', (body["id"],)).fetchone()["pin_code"]
    assert pin and pin != "123456"


# --- search and get ----------------------------------------------------------------------------

def test_search_users_admin_hides_deleted_by_default(client: Any, admin: Any, user: Any) -> None:
    gone = make_user(client, admin, "gone@immich.cloud", "Gone")
    admin.delete(f"/api/admin/users/{gone.id}", json={})
    body = assert_schema(admin.get("/api/admin/users"), "searchUsersAdmin")
    assert [u["id"] for u in body] == [user.id, admin.id]


def test_search_users_admin_with_deleted(client: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    body = assert_schema(admin.get("/api/admin/users?withDeleted=true"), "searchUsersAdmin")
    assert {u["id"]: u["status"] for u in body} == {user.id: "deleted", admin.id: "active"}


def test_search_users_admin_by_id(admin: Any, user: Any) -> None:
    body = assert_schema(admin.get(f"/api/admin/users?id={user.id}"), "searchUsersAdmin")
    assert [u["id"] for u in body] == [user.id]


def test_get_user_admin(admin: Any, user: Any) -> None:
    body = assert_schema(admin.get(f"/api/admin/users/{user.id}"), "getUserAdmin")
    assert body["id"] == user.id and body["email"] == user.email


def test_get_user_admin_includes_deleted(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert assert_schema(admin.get(f"/api/admin/users/{user.id}"), "getUserAdmin")["status"] == "deleted"


def test_get_user_admin_unknown_is_400(admin: Any) -> None:
    assert_error(admin.get(f"/api/admin/users/{uuid.uuid4()}"), 400, "User not found")


# --- update ------------------------------------------------------------------------------------

def test_update_user_admin_name(admin: Any, user: Any) -> None:
    before = admin.get(f"/api/admin/users/{user.id}").json()
    body = assert_schema(admin.put(f"/api/admin/users/{user.id}", json={"name": "Renamed"}), "updateUserAdmin")
    assert body == {**before, "name": "Renamed", "updatedAt": body["updatedAt"]}


def test_update_user_admin_password(client: Any, admin: Any, user: Any) -> None:
    admin.put(f"/api/admin/users/{user.id}", json={"password": "reset-password"})
    assert login(client, user.email, "reset-password")["userId"] == user.id


def test_update_user_admin_ignores_profile_image_path(admin: Any) -> None:
    body = assert_schema(admin.put(f"/api/admin/users/{admin.id}", json={"profileImagePath": "x.jpg"}),
                         "updateUserAdmin")
    assert body["profileImagePath"] == ""


def test_update_user_admin_promotes_other_user(admin: Any, user: Any) -> None:
    assert admin.put(f"/api/admin/users/{user.id}", json={"isAdmin": True}).json()["isAdmin"] is True
    assert user.get("/api/admin/users").status_code == 200


def test_update_user_admin_cannot_demote_self(admin: Any) -> None:
    r = admin.put(f"/api/admin/users/{admin.id}", json={"isAdmin": False})
    assert_error(r, 400, "Admin status can only be changed by another admin")


def test_update_user_admin_with_taken_email_is_400(admin: Any, user: Any) -> None:
    assert_error(admin.put(f"/api/admin/users/{user.id}", json={"email": admin.email}), 400,
                 "Email is not available")


def test_update_user_admin_with_taken_storage_label_is_400(admin: Any, user: Any) -> None:
    r = admin.put(f"/api/admin/users/{user.id}", json={"storageLabel": "admin"})
    assert_error(r, 400, "Storage label already in use by another account")


def test_update_user_admin_empty_storage_label_clears_it(admin: Any, user: Any) -> None:
    admin.put(f"/api/admin/users/{user.id}", json={"storageLabel": "mine"})
    assert admin.put(f"/api/admin/users/{user.id}", json={"storageLabel": ""}).json()["storageLabel"] is None


def test_update_user_admin_null_pin_code_resets_it(ctx: Any, admin: Any, user: Any) -> None:
    user.post("/api/auth/pin-code", json={"pinCode": "123456"})
    assert user.get("/api/auth/status").json()["pinCode"] is True
    admin.put(f"/api/admin/users/{user.id}", json={"pinCode": None})
    assert user.get("/api/auth/status").json()["pinCode"] is False


def test_update_user_admin_quota_syncs_usage(ctx: Any, admin: Any, user: Any) -> None:
    asset_id = add_asset(ctx, user.id, "2024-01-01T00:00:00.000Z")
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO asset_exif (asset_id, file_size_in_byte) VALUES (?, 5000)", (asset_id,))
    body = admin.put(f"/api/admin/users/{user.id}", json={"quotaSizeInBytes": 10_000}).json()
    assert (body["quotaSizeInBytes"], body["quotaUsageInBytes"]) == (10_000, 5000)


def test_update_user_admin_deleted_user_is_400(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert_error(admin.put(f"/api/admin/users/{user.id}", json={"name": "x"}), 400, "User not found")


def test_patch_user_admin_is_the_put_twin(admin: Any, user: Any) -> None:
    body = assert_schema(admin.patch(f"/api/admin/users/{user.id}", json={"name": "Patched"}), "updateUserAdmin")
    assert body["name"] == "Patched"


# --- delete and restore ------------------------------------------------------------------------

def test_delete_user_admin_trashes_user(admin: Any, user: Any) -> None:
    body = assert_schema(admin.delete(f"/api/admin/users/{user.id}", json={}), "deleteUserAdmin")
    assert body["id"] == user.id and body["status"] == "deleted" and body["deletedAt"]


def test_delete_user_admin_ends_sessions(client: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert_error(user.get("/api/users/me"), 401, "Invalid user token")
    r = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert_error(r, 401, "Incorrect email or password")


def test_delete_user_admin_emits_events(ctx: Any, admin: Any, user: Any) -> None:
    seen = events(ctx)
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert ("on_user_delete", "all", user.id) in seen
    assert any(e[0] == "on_session_delete" for e in seen)


def test_delete_user_admin_trashes_their_albums(ctx: Any, admin: Any, user: Any) -> None:
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO album (id, owner_id, created_at, updated_at) VALUES ('a1', ?, 'now', 'now')",
                     (user.id,))
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert ctx.db.reader().execute("SELECT deleted_at FROM album WHERE id = 'a1'").fetchone()["deleted_at"]
    admin.post(f"/api/admin/users/{user.id}/restore")
    assert ctx.db.reader().execute("SELECT deleted_at FROM album WHERE id = 'a1'").fetchone()["deleted_at"] is None


def test_delete_user_admin_force_marks_removing(admin: Any, user: Any) -> None:
    body = assert_schema(admin.delete(f"/api/admin/users/{user.id}", json={"force": True}), "deleteUserAdmin")
    assert body["status"] == "removing" and body["deletedAt"]


def test_delete_user_admin_force_removes_user_and_files(ctx: Any, admin: Any, user: Any) -> None:
    user.post("/api/users/profile-image", files={"file": ("me.jpg", jpeg(), "image/jpeg")})
    seen = events(ctx)
    admin.delete(f"/api/admin/users/{user.id}", json={"force": True})
    jobs.drain(ctx)
    assert_error(admin.get(f"/api/admin/users/{user.id}"), 400, "User not found")
    assert not (ctx.storage.root / "profile" / user.id).exists()
    assert seen.count(("on_user_delete", "all", user.id)) == 2  # trashed, then removed


def test_user_delete_job_skips_recently_trashed_user(ctx: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert user_service.handle_user_delete(ctx, {"id": user.id}) == "skipped"
    assert admin.get(f"/api/admin/users/{user.id}").json()["status"] == "deleted"


def test_user_delete_check_removes_users_past_the_delay(ctx: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    with ctx.db.write() as conn:
        conn.execute('UPDATE "user" SET deleted_at = ? WHERE id = ?', ("2020-01-01T00:00:00.000Z", user.id))
    assert user_service.handle_user_delete_check(ctx, {}) == "success"
    jobs.drain(ctx)
    assert_error(admin.get(f"/api/admin/users/{user.id}"), 400, "User not found")


def test_delete_user_admin_self_is_403(admin: Any) -> None:
    assert_error(admin.delete(f"/api/admin/users/{admin.id}", json={}), 403, "Cannot delete your own account")


def test_delete_user_admin_twice_is_400(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert_error(admin.delete(f"/api/admin/users/{user.id}", json={}), 400, "User not found")


def test_delete_user_admin_without_body(admin: Any, user: Any) -> None:
    assert assert_schema(admin.delete(f"/api/admin/users/{user.id}"), "deleteUserAdmin")["status"] == "deleted"


def test_restore_user_admin(client: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    body = assert_schema(admin.post(f"/api/admin/users/{user.id}/restore"), "restoreUserAdmin")
    assert (body["status"], body["deletedAt"]) == ("active", None)
    assert login(client, user.email, user.password)["userId"] == user.id


def test_restore_user_admin_does_not_revive_sessions(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    admin.post(f"/api/admin/users/{user.id}/restore")
    assert_error(user.get("/api/users/me"), 401)


def test_restore_user_admin_unknown_is_400(admin: Any) -> None:
    assert_error(admin.post(f"/api/admin/users/{uuid.uuid4()}/restore"), 400, "User not found")


# --- sessions, statistics, heatmap -------------------------------------------------------------

def test_get_user_sessions_admin(client: Any, admin: Any, user: Any) -> None:
    login(client, user.email, user.password)
    body = assert_schema(admin.get(f"/api/admin/users/{user.id}/sessions"), "getUserSessionsAdmin")
    assert len(body) == 2 and not any(s["current"] for s in body)


def test_get_user_statistics_admin_empty(admin: Any, user: Any) -> None:
    body = assert_schema(admin.get(f"/api/admin/users/{user.id}/statistics"), "getUserStatisticsAdmin")
    assert body == {"images": 0, "videos": 0, "total": 0}


def test_get_user_statistics_admin_counts_by_type(ctx: Any, admin: Any, user: Any) -> None:
    t = "2024-01-01T00:00:00.000Z"
    add_asset(ctx, user.id, t)
    add_asset(ctx, user.id, t, is_favorite=1)
    add_asset(ctx, user.id, t, type_="VIDEO")
    add_asset(ctx, user.id, t, type_="AUDIO")
    add_asset(ctx, user.id, t, visibility="hidden")
    add_asset(ctx, user.id, t, deleted_at=t, status="trashed")
    add_asset(ctx, admin.id, t)
    stats = admin.get(f"/api/admin/users/{user.id}/statistics").json()
    assert stats == {"images": 2, "videos": 1, "total": 4}


@pytest.mark.parametrize("query,expected", [
    ("isFavorite=true", {"images": 1, "videos": 0, "total": 1}),
    ("isTrashed=true", {"images": 1, "videos": 0, "total": 1}),
    ("visibility=hidden", {"images": 1, "videos": 0, "total": 1}),
])
def test_get_user_statistics_admin_filters(ctx: Any, admin: Any, user: Any, query: str, expected: Any) -> None:
    t = "2024-01-01T00:00:00.000Z"
    add_asset(ctx, user.id, t)
    add_asset(ctx, user.id, t, is_favorite=1)
    add_asset(ctx, user.id, t, type_="VIDEO")
    add_asset(ctx, user.id, t, visibility="hidden")
    add_asset(ctx, user.id, t, deleted_at=t, status="trashed")
    r = admin.get(f"/api/admin/users/{user.id}/statistics?{query}")
    assert assert_schema(r, "getUserStatisticsAdmin") == expected


def test_get_user_calendar_heatmap_admin(ctx: Any, admin: Any, user: Any) -> None:
    add_asset(ctx, user.id, "2024-05-02T08:00:00.000Z")
    r = admin.get(f"/api/admin/users/{user.id}/calendar-heatmap?from=2024-05-01&to=2024-05-07")
    body = assert_schema(r, "getUserCalendarHeatmapAdmin")
    assert len(body["series"]) == 7 and body["totalCount"] == 1


def test_get_user_calendar_heatmap_admin_unknown_is_400(admin: Any) -> None:
    assert_error(admin.get(f"/api/admin/users/{uuid.uuid4()}/calendar-heatmap"), 400, "User not found")
