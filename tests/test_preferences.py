"""User preferences: upstream defaults, deep-merged partial updates, only non-defaults stored."""
from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import assert_error, assert_invalid, assert_schema

DEFAULTS = {
    "albums": {"defaultAssetOrder": "desc"},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5},
    "people": {"enabled": True, "sidebarWeb": False, "minimumFaces": 3},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "ratings": {"enabled": False},
    "tags": {"enabled": False, "sidebarWeb": False},
    "emailNotifications": {"enabled": True, "albumInvite": True, "albumUpdate": True},
    "download": {"archiveSize": 4 * 2**30, "includeEmbeddedVideos": False},
    "purchase": {"showSupportBadge": True, "hideBuyButtonUntil": "2022-02-12T00:00:00.000Z"},
    "cast": {"gCastEnabled": False},
    "recentlyAdded": {"sidebarWeb": False},
}


def stored(ctx: Any, user_id: str) -> Any:
    row = ctx.db.reader().execute(
        "SELECT value FROM user_metadata WHERE user_id = ? AND key = 'preferences'", (user_id,)).fetchone()
    return json.loads(row["value"]) if row else None


def test_get_preferences_returns_upstream_defaults(user: Any) -> None:
    assert assert_schema(user.get("/api/users/me/preferences"), "getMyPreferences") == DEFAULTS


def test_update_preferences_merges_one_leaf(user: Any) -> None:
    body = assert_schema(user.put("/api/users/me/preferences", json={"memories": {"enabled": False}}),
                         "updateMyPreferences")
    assert body["memories"] == {"enabled": False, "duration": 5}
    assert {k: v for k, v in body.items() if k != "memories"} == {k: v for k, v in DEFAULTS.items() if k != "memories"}


def test_update_preferences_persists(user: Any) -> None:
    user.put("/api/users/me/preferences", json={"download": {"archiveSize": 1_234_567}})
    user.put("/api/users/me/preferences", json={"people": {"minimumFaces": 2}})
    body = user.get("/api/users/me/preferences").json()
    assert body["download"]["archiveSize"] == 1_234_567 and body["people"]["minimumFaces"] == 2


def test_update_preferences_stores_only_non_defaults(ctx: Any, user: Any) -> None:
    user.put("/api/users/me/preferences", json={"tags": {"enabled": True, "sidebarWeb": False},
                                                "cast": {"gCastEnabled": False}})
    assert stored(ctx, user.id) == {"tags": {"enabled": True}}


def test_update_preferences_back_to_default_forgets_it(ctx: Any, user: Any) -> None:
    user.put("/api/users/me/preferences", json={"ratings": {"enabled": True}})
    user.put("/api/users/me/preferences", json={"ratings": {"enabled": False}})
    assert stored(ctx, user.id) == {}
    assert user.get("/api/users/me/preferences").json() == DEFAULTS


def test_update_preferences_avatar_is_accepted_but_not_kept(user: Any) -> None:
    body = assert_schema(user.put("/api/users/me/preferences", json={"avatar": {"color": "blue"}}),
                         "updateMyPreferences")
    assert body == DEFAULTS


def test_update_preferences_rejects_fractional_archive_size(user: Any) -> None:
    r = user.put("/api/users/me/preferences", json={"download": {"archiveSize": 1_234_567.89}})
    assert_invalid(r, (["download", "archiveSize"], "Invalid input: expected int, received number"))


def test_update_preferences_rejects_number_for_boolean(user: Any) -> None:
    r = user.put("/api/users/me/preferences", json={"download": {"includeEmbeddedVideos": 1}})
    assert_invalid(r, (["download", "includeEmbeddedVideos"], "Invalid input: expected boolean, received number"))


def test_update_preferences_rejects_zero_duration(user: Any) -> None:
    assert_error(user.put("/api/users/me/preferences", json={"memories": {"duration": 0}}), 400)


def test_update_preferences_rejects_unknown_order(user: Any) -> None:
    assert_error(user.put("/api/users/me/preferences", json={"albums": {"defaultAssetOrder": "up"}}), 400)


def test_update_preferences_ignores_unknown_sections(ctx: Any, user: Any) -> None:
    body = assert_schema(user.put("/api/users/me/preferences", json={"bogus": {"x": 1}}), "updateMyPreferences")
    assert body == DEFAULTS and stored(ctx, user.id) == {}


def test_patch_preferences_is_the_put_twin(user: Any) -> None:
    body = assert_schema(user.patch("/api/users/me/preferences", json={"folders": {"enabled": True}}),
                         "updateMyPreferences")
    assert body["folders"]["enabled"] is True


def test_preferences_are_per_user(admin: Any, user: Any) -> None:
    user.put("/api/users/me/preferences", json={"folders": {"enabled": True}})
    assert admin.get("/api/users/me/preferences").json()["folders"]["enabled"] is False


def test_admin_get_user_preferences(admin: Any, user: Any) -> None:
    user.put("/api/users/me/preferences", json={"tags": {"enabled": True}})
    body = assert_schema(admin.get(f"/api/admin/users/{user.id}/preferences"), "getUserPreferencesAdmin")
    assert body["tags"]["enabled"] is True


def test_admin_update_user_preferences(admin: Any, user: Any) -> None:
    r = admin.put(f"/api/admin/users/{user.id}/preferences", json={"memories": {"enabled": False}})
    assert assert_schema(r, "updateUserPreferencesAdmin")["memories"]["enabled"] is False
    assert user.get("/api/users/me/preferences").json()["memories"]["enabled"] is False


def test_admin_patch_user_preferences_is_the_put_twin(admin: Any, user: Any) -> None:
    r = admin.patch(f"/api/admin/users/{user.id}/preferences", json={"cast": {"gCastEnabled": True}})
    assert assert_schema(r, "updateUserPreferencesAdmin")["cast"]["gCastEnabled"] is True


def test_admin_get_preferences_of_deleted_user(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert_schema(admin.get(f"/api/admin/users/{user.id}/preferences"), "getUserPreferencesAdmin")


def test_admin_update_preferences_of_deleted_user_is_400(admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    r = admin.put(f"/api/admin/users/{user.id}/preferences", json={"memories": {"enabled": False}})
    assert_error(r, 400, "User not found")


def test_admin_get_preferences_of_unknown_user_is_400(admin: Any) -> None:
    assert_error(admin.get(f"/api/admin/users/{uuid.uuid4()}/preferences"), 400, "User not found")
