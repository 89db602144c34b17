"""Sync payload mappers (SyncAssetV2, SyncAssetExifV1): the sync stream and AssetUploadReadyV2 share them."""
from __future__ import annotations

from typing import Any

from immich_lite.dto.asset import b64


def map_sync_asset(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"], "ownerId": a["owner_id"], "originalFileName": a["original_file_name"],
        "thumbhash": b64(a["thumbhash"]), "checksum": b64(a["checksum"]),
        "fileCreatedAt": a["file_created_at"], "fileModifiedAt": a["file_modified_at"],
        "localDateTime": a["local_date_time"], "createdAt": a["created_at"], "duration": a["duration"],
        "type": a["type"], "deletedAt": a["deleted_at"], "isFavorite": bool(a["is_favorite"]),
        "visibility": a["visibility"], "livePhotoVideoId": a["live_photo_video_id"], "stackId": a["stack_id"],
        "libraryId": a["library_id"], "width": a["width"], "height": a["height"], "isEdited": bool(a["is_edited"]),
    }


def map_sync_exif(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "assetId": e["asset_id"], "description": e["description"], "exifImageWidth": e["exif_image_width"],
        "exifImageHeight": e["exif_image_height"], "fileSizeInByte": e["file_size_in_byte"],
        "orientation": e["orientation"], "dateTimeOriginal": e["date_time_original"],
        "modifyDate": e["modify_date"], "timeZone": e["time_zone"], "latitude": e["latitude"],
        "longitude": e["longitude"], "projectionType": e["projection_type"], "city": e["city"],
        "state": e["state"], "country": e["country"], "make": e["make"], "model": e["model"],
        "lensModel": e["lens_model"], "fNumber": e["f_number"], "focalLength": e["focal_length"],
        "iso": e["iso"], "exposureTime": e["exposure_time"], "profileDescription": e["profile_description"],
        "rating": e["rating"], "fps": e["fps"],
    }
