"""Notifications: the user's inbox (owner-only access), admin create, email templates, test email."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assert_error, assert_invalid, assert_schema, make_user

MISSING = "00000000-0000-4000-8000-000000000000"


def _create(admin: Any, user_id: str, **extra: Any) -> dict[str, Any]:
    r = admin.post("/api/admin/notifications", json={"userId": user_id, "title": "Hello", **extra})
    assert r.status_code == 201, r.text
    return assert_schema(r, "createNotification")


def test_admin_creates_with_upstream_defaults(admin: Any, user: Any) -> None:
    body = _create(admin, user.id)
    assert (body["title"], body["level"], body["type"]) == ("Hello", "info", "Custom")
    assert "readAt" not in body and "description" not in body and "data" not in body


def test_admin_create_keeps_description_and_data(admin: Any, user: Any) -> None:
    body = _create(admin, user.id, level="warning", type="SystemMessage", description="Disk", data={"a": [1]})
    assert (body["level"], body["type"], body["description"], body["data"]) == \
        ("warning", "SystemMessage", "Disk", {"a": [1]})


def test_admin_create_ignores_read_at(admin: Any, user: Any) -> None:
    assert "readAt" not in _create(admin, user.id, readAt="2026-01-01T00:00:00.000Z")


def test_admin_create_for_unknown_user_is_400(admin: Any) -> None:
    r = admin.post("/api/admin/notifications", json={"userId": MISSING, "title": "x"})
    assert_error(r, 400, "User not found")


def test_admin_create_pushes_on_notification_to_the_user(admin: Any, user: Any, ctx: Any) -> None:
    seen: list[tuple[str, str, Any]] = []
    ctx.events.subscribe(lambda e, room, payload: seen.append((e, room, payload)))
    body = _create(admin, user.id)
    assert ("on_notification", user.id, body) in seen


def test_create_is_admin_only(user: Any) -> None:
    assert_error(user.post("/api/admin/notifications", json={"userId": user.id, "title": "x"}), 403)


def test_user_lists_only_their_own(client: Any, admin: Any, user: Any) -> None:
    other = make_user(client, admin, "other@immich.cloud", "Other")
    mine = _create(admin, user.id)
    _create(admin, other.id)
    body = assert_schema(user.get("/api/notifications"), "getNotifications")
    assert [n["id"] for n in body] == [mine["id"]]


def test_list_is_newest_first(admin: Any, user: Any) -> None:
    first, second = _create(admin, user.id, title="1"), _create(admin, user.id, title="2")
    assert [n["id"] for n in user.get("/api/notifications").json()] == [second["id"], first["id"]]


@pytest.mark.parametrize("query, titles", [
    ({"level": "error"}, ["b"]),
    ({"type": "JobFailed"}, ["b"]),
    ({"unread": "true"}, ["b"]),
    ({"unread": "false"}, ["b", "a"]),  # upstream: unread=false does not filter
])
def test_list_filters(admin: Any, user: Any, query: dict[str, str], titles: list[str]) -> None:
    a = _create(admin, user.id, title="a")
    _create(admin, user.id, title="b", level="error", type="JobFailed")
    user.put(f"/api/notifications/{a['id']}", json={"readAt": "2026-01-01T00:00:00.000Z"})
    body = assert_schema(user.get("/api/notifications", params=query), "getNotifications")
    assert [n["title"] for n in body] == titles


def test_list_filters_by_id(admin: Any, user: Any) -> None:
    a = _create(admin, user.id, title="a")
    _create(admin, user.id, title="b")
    assert [n["id"] for n in user.get("/api/notifications", params={"id": a["id"]}).json()] == [a["id"]]


def test_get_own(admin: Any, user: Any) -> None:
    created = _create(admin, user.id)
    assert assert_schema(user.get(f"/api/notifications/{created['id']}"), "getNotification") == created


def test_get_someone_elses_is_400(admin: Any, user: Any) -> None:
    theirs = _create(admin, admin.id)
    assert_error(user.get(f"/api/notifications/{theirs['id']}"), 400, "Not found or no notification.read access")


def test_get_unknown_is_400(user: Any) -> None:
    assert_error(user.get(f"/api/notifications/{MISSING}"), 400, "Not found or no notification.read access")


def test_update_marks_read(admin: Any, user: Any) -> None:
    created = _create(admin, user.id)
    r = user.put(f"/api/notifications/{created['id']}", json={"readAt": "2026-03-01T10:00:00+02:00"})
    assert assert_schema(r, "updateNotification")["readAt"] == "2026-03-01T08:00:00.000Z"


def test_update_with_null_marks_unread(admin: Any, user: Any) -> None:
    created = _create(admin, user.id)
    user.put(f"/api/notifications/{created['id']}", json={"readAt": "2026-03-01T10:00:00.000Z"})
    body = user.put(f"/api/notifications/{created['id']}", json={"readAt": None}).json()
    assert "readAt" not in body


def test_update_someone_elses_is_400(admin: Any, user: Any) -> None:
    theirs = _create(admin, admin.id)
    r = user.put(f"/api/notifications/{theirs['id']}", json={"readAt": "2026-03-01T10:00:00.000Z"})
    assert_error(r, 400, "Not found or no notification.update access")
    assert "readAt" not in admin.get(f"/api/notifications/{theirs['id']}").json()


def test_bulk_update_marks_all_read(admin: Any, user: Any) -> None:
    ids = [_create(admin, user.id)["id"] for _ in range(2)]
    r = user.put("/api/notifications", json={"ids": ids, "readAt": "2026-03-01T10:00:00.000Z"})
    assert r.status_code == 204
    assert user.get("/api/notifications", params={"unread": "true"}).json() == []


def test_bulk_update_with_a_foreign_id_changes_nothing(admin: Any, user: Any) -> None:
    mine, theirs = _create(admin, user.id), _create(admin, admin.id)
    r = user.put("/api/notifications", json={"ids": [mine["id"], theirs["id"]], "readAt": "2026-03-01T10:00:00Z"})
    assert_error(r, 400, "Not found or no notification.update access")
    assert "readAt" not in user.get(f"/api/notifications/{mine['id']}").json()


def test_bulk_update_needs_ids(user: Any) -> None:
    assert_invalid(user.put("/api/notifications", json={"ids": []}),
                   (["ids"], "Too small: expected array to have >=1 items"))


def test_delete_hides_it(admin: Any, user: Any) -> None:
    created = _create(admin, user.id)
    assert user.delete(f"/api/notifications/{created['id']}").status_code == 204
    assert user.get("/api/notifications").json() == []
    assert_error(user.get(f"/api/notifications/{created['id']}"), 400, "Notification not found")


def test_delete_someone_elses_is_400(admin: Any, user: Any) -> None:
    theirs = _create(admin, admin.id)
    assert_error(user.delete(f"/api/notifications/{theirs['id']}"), 400, "Not found or no notification.delete access")
    assert len(admin.get("/api/notifications").json()) == 1


def test_bulk_delete(admin: Any, user: Any) -> None:
    ids = [_create(admin, user.id)["id"] for _ in range(2)]
    assert user.request("DELETE", "/api/notifications", json={"ids": ids}).status_code == 204
    assert user.get("/api/notifications").json() == []


def test_bulk_delete_with_a_foreign_id_changes_nothing(admin: Any, user: Any) -> None:
    mine, theirs = _create(admin, user.id), _create(admin, admin.id)
    r = user.request("DELETE", "/api/notifications", json={"ids": [mine["id"], theirs["id"]]})
    assert_error(r, 400, "Not found or no notification.delete access")
    assert len(user.get("/api/notifications").json()) == 1


SMTP = {"enabled": True, "from": "Immich <a@b.c>", "replyTo": "", "transport": {
    "ignoreCert": False, "host": "smtp.example.com", "port": 587, "secure": False, "username": "", "password": ""}}


def test_test_email_fails_honestly(admin: Any) -> None:
    body = assert_error(admin.post("/api/admin/notifications/test-email", json=SMTP), 400)
    assert body["message"].startswith("Failed to verify SMTP configuration")


def test_test_email_is_admin_only(user: Any) -> None:
    assert_error(user.post("/api/admin/notifications/test-email", json=SMTP), 403)


@pytest.mark.parametrize("name, text", [("welcome", "john@doe.com"), ("album-invite", "John Doe&#x27;s Favorites"),
                                        ("album-update", "Favorite Photos")])
def test_template_preview_renders_sample_values(admin: Any, name: str, text: str) -> None:
    r = admin.post(f"/api/admin/notifications/templates/{name}", json={"template": ""})
    body = assert_schema(r, "getNotificationTemplateAdmin")
    assert body["name"] == name and text in body["html"] and "https://my.immich.app" in body["html"]


def test_template_preview_fills_a_custom_template(admin: Any) -> None:
    r = admin.post("/api/admin/notifications/templates/welcome",
                   json={"template": "<b>Hi {displayName}</b> at {baseUrl} {unknown}"})
    assert "<b>Hi John Doe</b> at https://my.immich.app {unknown}" in r.json()["html"]


def test_template_preview_uses_the_external_domain(admin: Any) -> None:
    config = admin.get("/api/system-config").json()
    config["server"]["externalDomain"] = "https://photos.example.org"
    admin.put("/api/system-config", json=config)
    html = admin.post("/api/admin/notifications/templates/album-invite", json={"template": ""}).json()["html"]
    assert "https://photos.example.org/albums/1" in html


def test_template_preview_of_another_name_is_empty(admin: Any) -> None:
    r = admin.post("/api/admin/notifications/templates/nope", json={"template": ""})
    assert assert_schema(r, "getNotificationTemplateAdmin") == {"name": "nope", "html": ""}
