"""camelCase mappers for users (UserResponseDto, UserAdminResponseDto)."""
from __future__ import annotations

from typing import Any

from immich_lite import spec


def avatar_color(user: dict[str, Any]) -> str:
    if user.get("avatar_color"):
        return str(user["avatar_color"])
    # Immich: a stable default picked from the email (user preferences avatar.color)
    colors = spec.enum_values("UserAvatarColor")
    return colors[sum(ord(c) for c in user["email"]) % len(colors)]


def map_user(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "profileImagePath": user["profile_image_path"],
        "avatarColor": avatar_color(user),
        "profileChangedAt": user["profile_changed_at"],
    }


def map_license(license_: Any) -> Any:
    if not license_:
        return None
    return {"licenseKey": license_["licenseKey"], "activationKey": license_["activationKey"],
            "activatedAt": license_["activatedAt"]}


def map_user_admin(user: dict[str, Any], license_: Any = None) -> dict[str, Any]:
    return {
        **map_user(user),
        "storageLabel": user["storage_label"],
        "shouldChangePassword": bool(user["should_change_password"]),
        "isAdmin": bool(user["is_admin"]),
        "createdAt": user["created_at"],
        "updatedAt": user["updated_at"],
        "deletedAt": user["deleted_at"],
        "oauthId": user["oauth_id"],
        "quotaSizeInBytes": user["quota_size_in_bytes"],
        "quotaUsageInBytes": user["quota_usage_in_bytes"],
        "status": user["status"],
        "license": map_license(license_),
    }
