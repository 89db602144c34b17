"""AssetExtractMetadata (upstream MetadataService): exif → asset + asset_exif, tags, live photos, motion photos."""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from typing import Any

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.media import MediaError, geocode
from immich_lite.media import metadata as extractor
from immich_lite.media import video as video_media
from immich_lite.media.exif import ExifTool
from immich_lite.repos import asset as repo
from immich_lite.repos import tag as tag_repo
from immich_lite.storage import sha1_file

log = logging.getLogger("immich_lite.metadata")
_et_lock = threading.Lock()


def exiftool(ctx: Ctx) -> ExifTool:
    """The one persistent exiftool process of this server (started on first use, closed at shutdown)."""
    with _et_lock:
        et = ctx.extra.get("exiftool")
        if et is None:
            et = ExifTool()
            ctx.extra["exiftool"] = et
            ctx.extra.setdefault("shutdown", []).append(et.close)
        return et  # type: ignore[no-any-return]


def _wall(dt: datetime) -> str:
    """A naive wall-clock time labelled UTC, the way upstream stores localDateTime."""
    return dt.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _follow(ctx: Ctx, conn: Any, data: dict[str, Any]) -> list[Any]:
    # upstream onDone: thumbnails follow metadata for uploads and copies (a refresh does not regenerate)
    return [JobName.ASSET_GENERATE_THUMBNAILS] if data.get("source") in ("upload", "copy") else []


@register(JobName.ASSET_EXTRACT_METADATA, QueueName.METADATA_EXTRACTION,
          then=(JobName.ASSET_GENERATE_THUMBNAILS,), follow=_follow)
def extract_metadata(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    a = repo.get(conn, data["id"])
    if a is None or a["status"] == "deleted":
        return JobStatus.SKIPPED
    path = ctx.storage.absolute(a["original_path"])
    sidecar = repo.get_file(conn, a["id"], "sidecar")
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    config = get_config(ctx)
    geocoding = bool(config.get("reverseGeocoding", {}).get("enabled", True))
    import_faces = bool(config["metadata"]["faces"]["import"])
    try:
        md = extractor.extract(exiftool(ctx), path, sidecar_path=ctx.storage.absolute(sidecar["path"]) if sidecar else None,
                               file_created_at=ids.parse_iso(a["file_created_at"]),
                               file_modified_at=ids.parse_iso(a["file_modified_at"]), asset_type=a["type"],
                               reverse_geocoding=geocoding)
    except MediaError as e:
        log.warning("metadata extraction failed for %s: %s", a["id"], e)
        return JobStatus.FAILED
    motion = _extract_motion(ctx, a, md) if md.motion_video and not a["live_photo_video_id"] else None
    with ctx.db.write() as wconn:
        current = repo.get(wconn, a["id"])
        if current is None:
            return JobStatus.SKIPPED
        exif_row = repo.get_exif(wconn, a["id"]) or {}
        locked = set(json.loads(exif_row.get("locked_properties") or "[]"))
        values: dict[str, Any] = {
            "file_modified_at": ids.iso(md.file_modified_at),
            "width": md.width, "height": md.height,
        }
        if "dateTimeOriginal" not in locked:
            values["file_created_at"] = ids.iso(md.file_created_at)
            values["local_date_time"] = _wall(md.local_date_time)
        if md.duration_ms and not current["duration"]:
            values["duration"] = md.duration_ms
        repo.update(wconn, a["id"], **values)
        exif = {
            "make": md.make, "model": md.model, "lens_model": md.lens_model,
            "exif_image_width": md.exif_image_width, "exif_image_height": md.exif_image_height,
            "file_size_in_byte": md.file_size, "orientation": md.orientation,
            "date_time_original": ids.iso(md.date_time_original), "modify_date": ids.iso(md.modify_date),
            "time_zone": md.time_zone, "latitude": md.latitude, "longitude": md.longitude, "city": md.city,
            "state": md.state, "country": md.country, "description": md.description, "f_number": md.f_number,
            "focal_length": md.focal_length, "iso": md.iso, "exposure_time": md.exposure_time,
            "profile_description": md.profile_description, "colorspace": md.colorspace,
            "bits_per_sample": md.bits_per_sample, "projection_type": md.projection_type, "fps": md.fps,
            "rating": md.rating, "live_photo_cid": md.live_photo_cid, "auto_stack_id": md.auto_stack_id,
            "tags": json.dumps(md.tags) if md.tags else None,
        }
        for name, column in (("description", "description"), ("rating", "rating"), ("latitude", "latitude"),
                             ("longitude", "longitude"), ("dateTimeOriginal", "date_time_original"),
                             ("timeZone", "time_zone"), ("tags", "tags")):
            if name in locked:
                exif.pop(column, None)
        if "latitude" in locked:  # the user's place wins over the file's; name it as upstream does
            exif["city"] = exif["state"] = exif["country"] = None
            lat, lon = exif_row.get("latitude"), exif_row.get("longitude")
            if geocoding and lat is not None and lon is not None:
                exif["city"], exif["state"], exif["country"] = geocode.reverse(lat, lon) or (None, None, None)
        repo.upsert_exif(wconn, a["id"], **exif)
        if md.tags:
            tag_repo.tag_asset_with_values(wconn, current["owner_id"], a["id"], md.tags)
        if md.region_info and import_faces:  # upstream applyTaggedFaces (metadata.faces.import)
            from immich_lite.services.faces import apply_tagged_faces  # noqa: PLC0415

            apply_tagged_faces(wconn, a["id"], current["owner_id"], md.region_info, md.orientation)
        _link_live_photo(wconn, current, md.live_photo_cid)
        if motion is not None:
            _add_motion_video(ctx, wconn, current, motion)
        wconn.execute("INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, ?) "
                      "ON CONFLICT (asset_id) DO UPDATE SET metadata_extracted_at = excluded.metadata_extracted_at",
                      (a["id"], ids.now_iso()))
    return JobStatus.SUCCESS


def _link_live_photo(conn: Any, a: dict[str, Any], cid: str | None) -> None:
    """Upstream linkLivePhotos: pair a still and a video of one owner sharing a content identifier."""
    if not cid:
        return
    want = "VIDEO" if a["type"] == "IMAGE" else "IMAGE"
    other = conn.execute(
        "SELECT x.* FROM asset x JOIN asset_exif e ON e.asset_id = x.id WHERE x.owner_id = ? AND x.type = ? "
        "AND e.live_photo_cid = ? AND x.id != ? AND x.status != 'deleted' LIMIT 1",
        (a["owner_id"], want, cid, a["id"])).fetchone()
    if other is None:
        return
    still, video = (a, other) if a["type"] == "IMAGE" else (other, a)
    if still["live_photo_video_id"] == video["id"]:
        return
    repo.update(conn, still["id"], live_photo_video_id=video["id"])
    repo.update(conn, video["id"], visibility="hidden")


def _extract_motion(ctx: Ctx, a: dict[str, Any], md: Any) -> dict[str, Any] | None:
    """Write the embedded video of an Android motion photo to encoded-video/ (outside any transaction)."""
    video_id = ids.new_id()
    dest = ctx.storage.encoded_video_path(a["owner_id"], video_id, "-MP")
    mv = md.motion_video
    try:
        video_media.extract_motion_photo(ctx.storage.absolute(a["original_path"]), dest, exiftool=exiftool(ctx),
                                         tag=mv.tag, offset=mv.offset, length=mv.length)
    except MediaError as e:
        log.warning("motion photo extraction failed for %s: %s", a["id"], e)
        return None
    return {"id": video_id, "path": dest, "checksum": sha1_file(dest), "size": dest.stat().st_size}


def _add_motion_video(ctx: Ctx, conn: Any, a: dict[str, Any], motion: dict[str, Any]) -> None:
    existing = repo.get_by_checksum(conn, a["owner_id"], motion["checksum"])
    if existing is not None:
        motion["path"].unlink(missing_ok=True)
        video_id = existing["id"]
    else:
        video_id = motion["id"]
        repo.insert(conn, id=video_id, owner_id=a["owner_id"], type="VIDEO",
                    original_path=ctx.storage.relative(motion["path"]),
                    original_file_name=a["original_file_name"].rsplit(".", 1)[0] + ".mp4",
                    checksum=motion["checksum"], file_created_at=a["file_created_at"],
                    file_modified_at=a["file_modified_at"], local_date_time=a["local_date_time"],
                    visibility="hidden")
        repo.upsert_exif(conn, video_id, file_size_in_byte=motion["size"])
        enqueue(conn, JobName.ASSET_EXTRACT_METADATA, {"id": video_id, "source": "upload"})
    repo.update(conn, a["id"], live_photo_video_id=video_id)
