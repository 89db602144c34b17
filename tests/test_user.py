"""Users: /users/me, onboarding, product key, profile image, search and the calendar heatmap."""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import pyvips

from immich_lite import ids
from immich_lite.services import user as user_service
from tests.conftest import assert_error, assert_invalid, assert_schema, login

# upstream e2e vector (e2e/src/specs/server/api/user.e2e-spec.ts), signed with the *staging* client key
LICENSE = {
    "licenseKey": "IMCL-FF69-TUK1-RWZU-V9Q8-QGQS-S5GC-X4R2-UFK4",
    "activationKey": "KuX8KsktrBSiXpQMAH0zLgA5SpijXVr_PDkzLdWUlAogCTMBZ0I3KCHXK0eE9EEd7harxup8_EHMeqAWeHo5VQzol6LGEC"
                     "pFv585U9asXD4Zc-UXt3mhJr2uhazqipBIBwJA2YhmUCDy8hiyiGsukDQNu9Rg9C77UeoKuZBWVjWUBWG0mc1iRqfvF0faV"
                     "M20w53czAzlhaMxzVGc3Oimbd7xi_CAMSujF_2y8QpA3X2fOVkQkzdcH9lV0COejl7IyH27zQQ9HrlrXv3Lai5Hw67kNkaSj"
                     "munVBxC5PS0TpKoc9SfBJMaAGWnaDbjhjYUrm-8nIDQnoeEAidDXVAdPw",
}
STAGING_CLIENT_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnICrNncljOH/Iu3mYUZEttbKWW78dnj9y3E6zI7uMMRwDrGXXXdLhdP1qIkedxtr"
    "UUyJB1dxGN2AouKO62SFWkmOONcFBTAXVSv8T5V4KEpZqPaa0izMhlLhNlEq/cVJvYkZXuglzoZ7pmgo1RtxjmbFnM78ka1QQBj9WKhL6yjV"
    "EIv07UKIJXpMNsnKh5WO726abc3HOnu9DN69VqEE7tfkRtV6lvSSs2AU2x3Onypp8zNwoIOMdblk2oOZYdNg64cyvK2hSAeSsU0Tr9W9H+kF"
    "9BSB6Y4AytBUdJi++jLInG3d9qObxUsNV+7NfFAy62d/LMGLR8/NPW4SK7sCFQIDAQAB")


@pytest.fixture
def staging_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(user_service, "LICENSE_PUBLIC_KEYS", (STAGING_CLIENT_KEY,))


def jpeg(w: int = 8, h: int = 8) -> bytes:
    return bytes(pyvips.Image.black(w, h).jpegsave_buffer())


def add_asset(ctx: Any, owner_id: str, created_at: str, *, type_: str = "IMAGE", local: str | None = None,
              **extra: Any) -> str:
    asset_id = str(uuid.uuid4())
    row = {"id": asset_id, "owner_id": owner_id, "type": type_, "original_path": f"/x/{asset_id}.jpg",
           "original_file_name": "a.jpg", "checksum": uuid.uuid4().bytes, "file_created_at": created_at,
           "file_modified_at": created_at, "local_date_time": local or created_at, "created_at": created_at,
           "updated_at": created_at, **extra}
    with ctx.db.write() as conn:
        conn.execute(f"INSERT INTO asset ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return asset_id


# --- /users/me ---------------------------------------------------------------------------------

def test_get_me_returns_own_admin_view(user: Any) -> None:
    body = assert_schema(user.get("/api/users/me"), "getMyUser")
    assert body["id"] == user.id and body["email"] == user.email
    assert body["isAdmin"] is False and body["license"] is None and body["quotaUsageInBytes"] == 0


def test_update_me_changes_name(user: Any) -> None:
    body = assert_schema(user.put("/api/users/me", json={"name": "Renamed"}), "updateMyUser")
    assert body["name"] == "Renamed"
    assert user.get("/api/users/me").json()["name"] == "Renamed"


def test_update_me_ignores_privilege_fields(user: Any) -> None:
    r = user.put("/api/users/me", json={"isAdmin": True, "quotaSizeInBytes": 1, "storageLabel": "mine",
                                        "shouldChangePassword": False})
    body = assert_schema(r, "updateMyUser")
    assert (body["isAdmin"], body["quotaSizeInBytes"], body["storageLabel"]) == (False, None, None)
    assert body["shouldChangePassword"] is True
    assert_error(user.get("/api/admin/users"), 403)


def test_update_me_password_clears_should_change_password(client: Any, user: Any) -> None:
    assert user.get("/api/users/me").json()["shouldChangePassword"] is True
    body = assert_schema(user.put("/api/users/me", json={"password": "new-password"}), "updateMyUser")
    assert body["shouldChangePassword"] is False
    assert login(client, user.email, "new-password")["shouldChangePassword"] is False


def test_update_me_with_taken_email_is_400(admin: Any, user: Any) -> None:
    assert_error(user.put("/api/users/me", json={"email": admin.email}), 400, "Email is not available")


def test_update_me_email_is_lowercased(user: Any) -> None:
    body = assert_schema(user.put("/api/users/me", json={"email": "New.Mail@Immich.Cloud"}), "updateMyUser")
    assert body["email"] == "new.mail@immich.cloud"


def test_update_me_avatar_color_null_restores_default(user: Any) -> None:
    default = user.get("/api/users/me").json()["avatarColor"]
    other = next(c for c in ("blue", "green") if c != default)
    assert user.put("/api/users/me", json={"avatarColor": other}).json()["avatarColor"] == other
    assert user.put("/api/users/me", json={"avatarColor": None}).json()["avatarColor"] == default


def test_update_me_with_bad_avatar_color_is_400(user: Any) -> None:
    assert_error(user.put("/api/users/me", json={"avatarColor": "chartreuse"}), 400)


def test_patch_me_is_the_put_twin(user: Any) -> None:
    body = assert_schema(user.patch("/api/users/me", json={"name": "Patched"}), "updateMyUser")
    assert body["name"] == "Patched"


# --- search and get ----------------------------------------------------------------------------

def test_search_users_lists_active_users_newest_first(client: Any, admin: Any, user: Any) -> None:
    body = assert_schema(user.get("/api/users"), "searchUsers")
    assert [u["id"] for u in body] == [user.id, admin.id]
    assert set(body[0]) == {"id", "name", "email", "profileImagePath", "avatarColor", "profileChangedAt"}


def test_search_users_without_public_users_lists_only_caller(ctx: Any, admin: Any, user: Any) -> None:
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO system_metadata (key, value) VALUES ('system-config', ?)",
                     (json.dumps({"server": {"publicUsers": False}}),))
    assert [u["id"] for u in user.get("/api/users").json()] == [user.id]
    assert len(admin.get("/api/users").json()) == 2


def test_search_users_hides_deleted_users(client: Any, admin: Any, user: Any) -> None:
    admin.delete(f"/api/admin/users/{user.id}", json={})
    assert [u["id"] for u in admin.get("/api/users").json()] == [admin.id]


def test_get_user_returns_public_fields(admin: Any, user: Any) -> None:
    body = assert_schema(user.get(f"/api/users/{admin.id}"), "getUser")
    assert body["id"] == admin.id and "isAdmin" not in body and "storageLabel" not in body


def test_get_user_unknown_is_400(user: Any) -> None:
    assert_error(user.get(f"/api/users/{uuid.uuid4()}"), 400, "User not found")


def test_get_user_with_bad_id_is_400(user: Any) -> None:
    assert_invalid(user.get("/api/users/not-a-uuid"), (["id"], "Invalid UUID"))


# --- onboarding --------------------------------------------------------------------------------

def test_get_onboarding_defaults_to_false(user: Any) -> None:
    assert assert_schema(user.get("/api/users/me/onboarding"), "getUserOnboarding") == {"isOnboarded": False}


def test_set_onboarding_persists(client: Any, user: Any) -> None:
    body = assert_schema(user.put("/api/users/me/onboarding", json={"isOnboarded": True}), "setUserOnboarding")
    assert body == {"isOnboarded": True}
    assert user.get("/api/users/me/onboarding").json() == {"isOnboarded": True}
    assert login(client, user.email, user.password)["isOnboarded"] is True


def test_delete_onboarding_resets(user: Any) -> None:
    user.put("/api/users/me/onboarding", json={"isOnboarded": True})
    assert user.delete("/api/users/me/onboarding").status_code == 204
    assert user.get("/api/users/me/onboarding").json() == {"isOnboarded": False}


def test_set_onboarding_requires_flag(user: Any) -> None:
    assert_error(user.put("/api/users/me/onboarding", json={}), 400)


# --- product key -------------------------------------------------------------------------------

def test_get_license_without_one_is_404(user: Any) -> None:
    assert_error(user.get("/api/users/me/license"), 404, "Not Found")


def test_set_license_round_trip(user: Any, staging_keys: None) -> None:
    body = assert_schema(user.put("/api/users/me/license", json=LICENSE), "setUserLicense")
    assert {k: body[k] for k in LICENSE} == LICENSE and body["activatedAt"]
    assert assert_schema(user.get("/api/users/me/license"), "getUserLicense") == body
    assert user.get("/api/users/me").json()["license"] == body


def test_set_license_with_production_keys_rejects_staging_signature(user: Any) -> None:
    assert_error(user.put("/api/users/me/license", json=LICENSE), 400, "Invalid license key")


def test_set_license_with_bad_activation_key_is_400(user: Any, staging_keys: None) -> None:
    bad = {**LICENSE, "activationKey": "invalid" + LICENSE["activationKey"]}
    assert_error(user.put("/api/users/me/license", json=bad), 400, "Invalid license key")


def test_set_license_with_malformed_key_is_400(user: Any) -> None:
    r = user.put("/api/users/me/license", json={"licenseKey": "NOPE", "activationKey": "x"})
    assert_error(r, 400)


def test_delete_license_removes_it(user: Any, staging_keys: None) -> None:
    user.put("/api/users/me/license", json=LICENSE)
    assert user.delete("/api/users/me/license").status_code == 204
    assert_error(user.get("/api/users/me/license"), 404)
    assert user.get("/api/users/me").json()["license"] is None


# --- profile image -----------------------------------------------------------------------------

def upload(actor: Any, data: bytes, name: str = "me.jpg") -> Any:
    return actor.post("/api/users/profile-image", files={"file": (name, data, "image/jpeg")})


def test_create_profile_image_stores_a_thumbnail(ctx: Any, user: Any) -> None:
    body = assert_schema(upload(user, jpeg(600, 400)), "createProfileImage")
    assert body["userId"] == user.id and body["profileImagePath"].endswith(".webp")
    stored = pyvips.Image.new_from_file(str(ctx.storage.absolute(body["profileImagePath"])))
    assert (stored.width, stored.height) == (375, 250)
    me = user.get("/api/users/me").json()
    assert me["profileImagePath"] == body["profileImagePath"] and me["profileChangedAt"] == body["profileChangedAt"]


def test_get_profile_image_serves_webp(user: Any, admin: Any) -> None:
    upload(user, jpeg())
    r = admin.get(f"/api/users/{user.id}/profile-image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert r.content[:4] == b"RIFF"


def test_create_profile_image_replaces_old_file(ctx: Any, user: Any) -> None:
    first = upload(user, jpeg()).json()["profileImagePath"]
    second = upload(user, jpeg()).json()["profileImagePath"]
    assert first != second
    assert not ctx.storage.absolute(first).exists() and ctx.storage.absolute(second).exists()


def test_create_profile_image_leaves_no_temp_files(ctx: Any, user: Any) -> None:
    upload(user, jpeg())
    upload(user, b"not an image")
    assert list((ctx.storage.root / "tmp").iterdir()) == []


def test_create_profile_image_rasterizes_svg(ctx: Any, user: Any) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300"/></svg>'
    body = assert_schema(upload(user, svg, "me.svg"), "createProfileImage")
    assert ctx.storage.absolute(body["profileImagePath"]).read_bytes()[:4] == b"RIFF"


def test_create_profile_image_accepts_heic(ctx: Any, user: Any) -> None:
    pytest.importorskip("pillow_heif").register_heif_opener()
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (500, 300), (200, 10, 10)).save(buf, format="HEIF")
    body = assert_schema(upload(user, buf.getvalue(), "me.HEIC"), "createProfileImage")
    stored = pyvips.Image.new_from_file(str(ctx.storage.absolute(body["profileImagePath"])))
    assert (stored.width, stored.height) == (417, 250)
    assert list((ctx.storage.root / "tmp").iterdir()) == []


def test_create_profile_image_with_unsupported_extension_is_400(user: Any) -> None:
    assert_error(upload(user, jpeg(), "me.txt"), 400, "Unsupported file type me.txt")


def test_create_profile_image_with_corrupt_image_is_400(user: Any) -> None:
    assert_error(upload(user, b"\xff\xd8garbage"), 400, "Unable to process profile image")
    assert user.get("/api/users/me").json()["profileImagePath"] == ""


def test_create_profile_image_without_file_is_400(user: Any) -> None:
    r = user.post("/api/users/profile-image", files={"other": ("a.jpg", jpeg(), "image/jpeg")})
    assert_error(r, 400, "Field(s) file should not be empty")


def test_create_profile_image_without_multipart_is_400(user: Any) -> None:
    assert_error(user.post("/api/users/profile-image", json={}), 400)


def test_delete_profile_image_removes_file(ctx: Any, user: Any) -> None:
    path = upload(user, jpeg()).json()["profileImagePath"]
    assert user.delete("/api/users/profile-image").status_code == 204
    assert not ctx.storage.absolute(path).exists()
    assert user.get("/api/users/me").json()["profileImagePath"] == ""
    assert_error(user.get(f"/api/users/{user.id}/profile-image"), 404)


def test_delete_profile_image_without_one_is_400(user: Any) -> None:
    assert_error(user.delete("/api/users/profile-image"), 400, "Can't delete a missing profile Image")


def test_get_profile_image_unknown_user_matches_no_image(user: Any) -> None:
    missing = user.get(f"/api/users/{uuid.uuid4()}/profile-image")
    no_image = user.get(f"/api/users/{user.id}/profile-image")
    assert_error(missing, 404, "Not Found")
    assert_error(no_image, 404, "Not Found")


# --- calendar heatmap --------------------------------------------------------------------------

def test_get_calendar_heatmap_defaults_to_52_weeks(user: Any) -> None:
    body = assert_schema(user.get("/api/users/me/calendar-heatmap"), "getMyCalendarHeatmap")
    today = ids.utcnow().date()
    assert body["to"] == today.isoformat() and body["from"] == (today - timedelta(days=363)).isoformat()
    assert len(body["series"]) == 364 and body["totalCount"] == 0


def test_get_calendar_heatmap_counts_uploads_per_day(ctx: Any, user: Any, admin: Any) -> None:
    add_asset(ctx, user.id, "2024-03-01T10:00:00.000Z")
    add_asset(ctx, user.id, "2024-03-01T23:59:59.000Z")
    add_asset(ctx, user.id, "2024-03-03T00:00:00.000Z")
    add_asset(ctx, user.id, "2024-03-02T12:00:00.000Z", deleted_at="2024-03-04T00:00:00.000Z")
    add_asset(ctx, admin.id, "2024-03-02T12:00:00.000Z")
    body = assert_schema(user.get("/api/users/me/calendar-heatmap?from=2024-03-01&to=2024-03-03"),
                         "getMyCalendarHeatmap")
    assert body["series"] == [{"date": "2024-03-01", "count": 2}, {"date": "2024-03-02", "count": 0},
                              {"date": "2024-03-03", "count": 1}]
    assert body["totalCount"] == 3


def test_get_calendar_heatmap_taken_uses_local_date(ctx: Any, user: Any) -> None:
    add_asset(ctx, user.id, "2024-03-05T10:00:00.000Z", local="2024-03-01T10:00:00.000Z")
    r = user.get("/api/users/me/calendar-heatmap?from=2024-03-01&to=2024-03-01&type=Taken")
    assert assert_schema(r, "getMyCalendarHeatmap")["totalCount"] == 1


def test_get_calendar_heatmap_with_from_after_to_is_400(user: Any) -> None:
    assert_error(user.get("/api/users/me/calendar-heatmap?from=2024-03-02&to=2024-03-01"), 400)


def test_get_calendar_heatmap_with_huge_period_is_400(user: Any) -> None:
    assert_error(user.get("/api/users/me/calendar-heatmap?from=0001-01-01&to=9999-12-31"), 400)


def test_get_calendar_heatmap_future_from_is_empty(user: Any) -> None:
    start = (date.today() + timedelta(days=10)).isoformat()
    body = assert_schema(user.get(f"/api/users/me/calendar-heatmap?from={start}"), "getMyCalendarHeatmap")
    assert body["series"] == [] and body["from"] == start

