"""camelCase mappers for assets (AssetResponseDto, ExifResponseDto)."""
from __future__ import annotations

import base64
from pathlib import PurePosixPath
from typing import Any

from immich_lite.dto.user import map_user


def b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode() if value is not None else None


def mime_of(name: str) -> str:
    try:
        from immich_lite.media import mime  # noqa: PLC0415

        return mime.mime_type(name) or "application/octet-stream"
    except ImportError:
        return "application/octet-stream"


# the columns map_asset / map_exif read (loaders that map many rows select just these)
ASSET_COLUMNS = ("id", "owner_id", "type", "original_file_name", "original_path", "thumbhash", "file_created_at",
                 "file_modified_at", "local_date_time", "created_at", "updated_at", "is_favorite", "visibility",
                 "deleted_at", "is_offline", "is_edited", "duration", "width", "height", "live_photo_video_id",
                 "library_id", "checksum", "duplicate_id")
EXIF_COLUMNS = ("asset_id", "make", "model", "exif_image_width", "exif_image_height", "file_size_in_byte",
                "orientation", "date_time_original", "modify_date", "time_zone", "lens_model", "f_number",
                "focal_length", "iso", "exposure_time", "latitude", "longitude", "city", "state", "country",
                "description", "projection_type", "rating")


def pg_timestamp(stored: str | None) -> str | None:
    """A stored UTC time ('2012-08-05T11:39:59.000Z') as upstream sends exif times: Postgres' JSON of a timestamptz
    ('2012-08-05T11:39:59+00:00', fractions only when there are some: '...:59.5+00:00')."""
    if not stored or len(stored) < 20 or not stored.endswith("Z"):
        return stored
    whole, _, frac = stored[:-1].partition(".")
    frac = frac.rstrip("0")
    return f"{whole}{'.' + frac if frac else ''}+00:00"


def map_exif(e: dict[str, Any] | None, asset: dict[str, Any]) -> dict[str, Any]:
    e = e or {}
    return {
        "make": e.get("make"), "model": e.get("model"), "exifImageWidth": e.get("exif_image_width"),
        "exifImageHeight": e.get("exif_image_height"), "fileSizeInByte": e.get("file_size_in_byte"),
        "orientation": e.get("orientation"), "dateTimeOriginal": pg_timestamp(e.get("date_time_original")),
        "modifyDate": pg_timestamp(e.get("modify_date")), "timeZone": e.get("time_zone"),
        "lensModel": e.get("lens_model"),
        "fNumber": e.get("f_number"), "focalLength": e.get("focal_length"), "iso": e.get("iso"),
        "exposureTime": e.get("exposure_time"), "latitude": e.get("latitude"), "longitude": e.get("longitude"),
        "city": e.get("city"), "state": e.get("state"), "country": e.get("country"),
        "description": e.get("description"), "projectionType": e.get("projection_type"),
        "rating": e.get("rating"),
    }


def map_asset(a: dict[str, Any], *, exif: dict[str, Any] | None = None, owner: dict[str, Any] | None = None,
              has_thumbnail: bool = False, stack: dict[str, Any] | None = None, tags: list[dict[str, Any]] | None = None,
              people: list[dict[str, Any]] | None = None, strip_metadata: bool = False) -> dict[str, Any]:
    """AssetResponseDto. `strip_metadata` is a shared link without showMetadata: no exif, names or paths."""
    out: dict[str, Any] = {
        "id": a["id"],
        "ownerId": a["owner_id"],
        "type": a["type"],
        "originalFileName": a["original_file_name"],
        "originalMimeType": mime_of(a["original_file_name"]),
        "originalPath": a["original_path"],
        "thumbhash": b64(a["thumbhash"]),
        "fileCreatedAt": a["file_created_at"],
        "fileModifiedAt": a["file_modified_at"],
        "localDateTime": a["local_date_time"],
        "createdAt": a["created_at"],
        "updatedAt": a["updated_at"],
        "isFavorite": bool(a["is_favorite"]),
        "isArchived": a["visibility"] == "archive",
        "isTrashed": a["deleted_at"] is not None,
        "isOffline": bool(a["is_offline"]),
        "isEdited": bool(a["is_edited"]),
        "visibility": a["visibility"],
        "duration": a["duration"],
        "width": a["width"],
        "height": a["height"],
        "livePhotoVideoId": a["live_photo_video_id"],
        "libraryId": a["library_id"],
        "checksum": b64(a["checksum"]),
        "duplicateId": a["duplicate_id"],
        "hasMetadata": exif is not None,
        "resized": has_thumbnail,
        "tags": tags or [],
        "people": people or [],
        "stack": stack,
    }
    if exif is not None:
        out["exifInfo"] = map_exif(exif, a)
    if owner is not None:
        out["owner"] = map_user(owner)
    return _sanitized(out) if strip_metadata else out


def map_search_asset(a: dict[str, Any], *, exif: dict[str, Any] | None, people: list[dict[str, Any]],
                     caller_id: str | None, strip_metadata: bool = False) -> dict[str, Any]:
    """AssetResponseDto of a search result: upstream maps the search row (columns.searchAsset, exif only when
    asked) without owner, tags or stack; favourites are the caller's own."""
    out = map_asset(a, exif=exif, people=people, has_thumbnail=True)
    del out["tags"], out["stack"]
    out["hasMetadata"] = True
    out["isFavorite"] = bool(a["is_favorite"]) and a["owner_id"] == caller_id
    return _sanitized(out) if strip_metadata else out


SANITIZED_KEYS = ("id", "type", "originalMimeType", "thumbhash", "localDateTime", "duration", "livePhotoVideoId",
                  "hasMetadata", "width", "height")


def _sanitized(out: dict[str, Any]) -> dict[str, Any]:
    """Upstream mapAsset with stripMetadata (a shared link without showMetadata): SanitizedAssetResponseDto, only
    these keys; no names, paths, dates of the file, owner, exif, tags or people."""
    return {**{k: out[k] for k in SANITIZED_KEYS if k != "hasMetadata"}, "hasMetadata": False}
