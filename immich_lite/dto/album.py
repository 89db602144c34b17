"""camelCase mappers for albums (AlbumResponseDto, AlbumUserResponseDto, MapMarkerResponseDto)."""
from __future__ import annotations

from typing import Any

from immich_lite.dto.user import map_user

# Immich: album_user_role_enum declares owner, editor, viewer in that order; members sort by it
ROLE_RANK = {"owner": 0, "editor": 1, "viewer": 2}


def sort_users(users: list[dict[str, Any]], auth_user_id: str | None) -> list[dict[str, Any]]:
    """Owner first, then by role, the caller first within its role, then by name (upstream withAlbumUsers)."""
    return sorted(users, key=lambda u: (ROLE_RANK.get(u["role"], 9), u["id"] != auth_user_id, u["name"]))


def day_start(day: str | None) -> str | None:
    """A 'YYYY-MM-DD' day as upstream serialises a SQL date: midnight UTC."""
    return f"{day}T00:00:00.000Z" if day else None


def map_album(album: dict[str, Any], users: list[dict[str, Any]], *, has_shared_link: bool, asset_count: int,
              start_date: str | None = None, end_date: str | None = None,
              last_modified: str | None = None, contributors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """AlbumResponseDto. `users` are already sorted rows with a `role`; optional dates are omitted when None."""
    album_users = [{"user": map_user(u), "role": u["role"]} for u in users]
    out: dict[str, Any] = {
        "id": album["id"],
        "albumName": album["album_name"],
        "description": album["description"] or "",  # Immich: '' instead of null until v4
        "albumThumbnailAssetId": album["album_thumbnail_asset_id"],
        "createdAt": album["created_at"],
        "updatedAt": album["updated_at"],
        "albumUsers": album_users,
        "shared": len(album_users) > 1 or has_shared_link,
        "hasSharedLink": has_shared_link,
        "assetCount": asset_count,
        "isActivityEnabled": bool(album["is_activity_enabled"]),
        "order": album["order"],
    }
    if start_date is not None:
        out["startDate"] = start_date
    if end_date is not None:
        out["endDate"] = end_date
    if last_modified is not None:
        out["lastModifiedAssetTimestamp"] = last_modified
    if contributors is not None:
        out["contributorCounts"] = [{"userId": c["user_id"], "assetCount": c["asset_count"]} for c in contributors]
    return out


def map_marker(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "lat": row["lat"], "lon": row["lon"], "city": row["city"], "state": row["state"],
            "country": row["country"]}
