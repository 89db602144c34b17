"""Derived files (upstream MediaService): thumbnails + preview + thumbhash, video transcoding, file deletion."""
from __future__ import annotations

import logging
from typing import Any

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.dto.sync import map_sync_asset, map_sync_exif
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.media import MediaError
from immich_lite.media import thumbnail as thumbs
from immich_lite.media import video as video_media
from immich_lite.repos import asset as repo
from immich_lite.services.metadata import exiftool
from immich_lite.services.system_config import config_view, get_config

log = logging.getLogger("immich_lite.media")


def _follow_thumbnails(ctx: Ctx, conn: Any, data: dict[str, Any]) -> list[Any]:
    """Upstream onDone of AssetGenerateThumbnails: the video's encode; face detection and OCR when enabled."""
    from immich_lite.services import faces, ocr, smart_search  # noqa: PLC0415

    a = repo.get(conn, data["id"])
    if a is None:
        return []
    follow: list[Any] = [JobName.ASSET_ENCODE_VIDEO] if a["type"] == "VIDEO" else []
    if a["visibility"] != "hidden":
        config = config_view(ctx, conn)
        # a model to run, else no job that can only fail; no URL is pinged here (inside the write transaction)
        if smart_search.available(ctx, config, wait=False):
            follow.append(JobName.SMART_SEARCH)
        if faces.enabled(config):
            follow.append(JobName.ASSET_DETECT_FACES)
        if ocr.enabled(config):
            follow.append(JobName.OCR)
    return follow


@register(JobName.ASSET_GENERATE_THUMBNAILS, QueueName.THUMBNAIL_GENERATION,
          then=(JobName.ASSET_ENCODE_VIDEO, JobName.SMART_SEARCH, JobName.ASSET_DETECT_FACES, JobName.OCR),
          follow=_follow_thumbnails)
def generate_thumbnails(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    a = repo.get(conn, data["id"])
    if a is None or a["status"] == "deleted":
        return JobStatus.SKIPPED
    cfg = get_config(ctx)["image"]
    owner, aid = a["owner_id"], a["id"]
    thumb = ctx.storage.thumb_path(owner, aid, "thumbnail", cfg["thumbnail"]["format"])
    preview = ctx.storage.thumb_path(owner, aid, "preview", cfg["preview"]["format"])
    fullsize = None
    from immich_lite.media import mime  # noqa: PLC0415

    if cfg["fullsize"]["enabled"] and a["type"] == "IMAGE" and not mime.is_web_supported_image(a["original_file_name"]):
        fullsize = ctx.storage.thumb_path(owner, aid, "fullsize", cfg["fullsize"]["format"])
    exif = repo.get_exif(conn, aid) or {}
    orientation = int(exif["orientation"]) if (exif.get("orientation") or "").isdigit() else None
    colorspace = "srgb" if is_srgb(exif) else cfg["colorspace"]
    thumb.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = thumbs.generate(
            ctx.storage.absolute(a["original_path"]), asset_type=a["type"], thumb_path=thumb, preview_path=preview,
            fullsize_path=fullsize, thumb_size=cfg["thumbnail"]["size"], preview_size=cfg["preview"]["size"],
            thumb_format=cfg["thumbnail"]["format"], preview_format=cfg["preview"]["format"],
            quality=cfg["preview"]["quality"], colorspace=colorspace, exiftool=exiftool(ctx),
            orientation=orientation, tmp_dir=ctx.storage.root / "tmp")
    except MediaError as e:
        log.warning("thumbnail generation failed for %s: %s", aid, e)
        return JobStatus.FAILED
    with ctx.db.write() as wconn:
        current = repo.get(wconn, aid)
        if current is None:
            for p in (thumb, preview, fullsize):
                if p is not None:
                    p.unlink(missing_ok=True)
            return JobStatus.SKIPPED
        repo.upsert_file(wconn, aid, "thumbnail", ctx.storage.relative(thumb))
        repo.upsert_file(wconn, aid, "preview", ctx.storage.relative(preview))
        if fullsize is not None:
            repo.upsert_file(wconn, aid, "fullsize", ctx.storage.relative(fullsize))
        if current["is_edited"]:
            # the asset's thumbhash and size describe the edited rendering: refresh that instead (upstream onDone)
            enqueue(wconn, JobName.ASSET_EDIT_THUMBNAIL_GENERATION, {"id": aid})
        else:
            values: dict[str, Any] = {"thumbhash": result.thumbhash}
            if not current["width"] or not current["height"]:
                values["width"], values["height"] = result.width, result.height
            repo.update(wconn, aid, **values)
        wconn.execute("INSERT INTO asset_job_status (asset_id, thumbnail_generated_at) VALUES (?, ?) "
                      "ON CONFLICT (asset_id) DO UPDATE SET thumbnail_generated_at = excluded.thumbnail_generated_at",
                      (aid, ids.now_iso()))
        fresh = repo.get(wconn, aid)
        exif_row = repo.get_exif(wconn, aid)
    if data.get("source") == "upload" and fresh is not None and fresh["visibility"] in ("timeline", "archive"):
        _announce_upload(ctx, fresh, exif_row)
    return JobStatus.SUCCESS


def is_srgb(exif: dict[str, Any]) -> bool:
    """Upstream MediaService.isSRGB: sRGB sources stay sRGB; the configured (P3) space is for wider ones."""
    colorspace, profile = exif.get("colorspace"), exif.get("profile_description")
    if colorspace or profile:
        return any("srgb" in str(v).lower() for v in (colorspace, profile) if v)
    bits = exif.get("bits_per_sample")
    if bits:
        return int(bits) == 8  # 8-bit with no profile or colour space: assume sRGB
    return True


def _announce_upload(ctx: Ctx, a: dict[str, Any], exif: dict[str, Any] | None) -> None:
    if not ctx.events:
        return
    from immich_lite.services.asset import load_response  # noqa: PLC0415

    response = load_response(ctx, ctx.db.reader(), a)
    ctx.events.emit("on_upload_success", a["owner_id"], response)
    if exif is not None:
        ctx.events.emit("AssetUploadReadyV2", a["owner_id"], {"asset": map_sync_asset(a), "exif": map_sync_exif(exif)})


@register(JobName.ASSET_ENCODE_VIDEO, QueueName.VIDEO_CONVERSION)
def encode_video(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    conn = ctx.db.reader()
    a = repo.get(conn, data["id"])
    if a is None or a["type"] != "VIDEO" or a["status"] == "deleted":
        return JobStatus.SKIPPED
    cfg = get_config(ctx)["ffmpeg"]
    src = ctx.storage.absolute(a["original_path"])
    try:
        info = video_media.probe(src)
        if not video_media.needs_transcode(info, cfg):
            return JobStatus.SKIPPED
        dest = ctx.storage.encoded_video_path(a["owner_id"], a["id"])
        video_media.transcode(src, dest, cfg)
    except MediaError as e:
        log.warning("transcoding failed for %s: %s", a["id"], e)
        return JobStatus.FAILED
    with ctx.db.write() as wconn:
        if repo.get(wconn, a["id"]) is None:
            dest.unlink(missing_ok=True)
            return JobStatus.SKIPPED
        repo.update(wconn, a["id"], encoded_video_path=ctx.storage.relative(dest))
        repo.upsert_file(wconn, a["id"], "encoded_video", ctx.storage.relative(dest))
    return JobStatus.SUCCESS


@register(JobName.ASSET_DELETE, QueueName.BACKGROUND_TASK)
def delete_asset(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Remove the row (its audit row is written by a trigger), then the files; originals last."""
    with ctx.db.write() as conn:
        a = repo.get(conn, data["id"])
        if a is None:
            return JobStatus.SKIPPED
        paths = [f["path"] for f in repo.get_files(conn, a["id"])]
        if a["encoded_video_path"]:
            paths.append(a["encoded_video_path"])
        size = (repo.get_exif(conn, a["id"]) or {}).get("file_size_in_byte") or 0
        repo.delete(conn, a["id"])
        if not a["library_id"]:  # as upstream: a library's files never counted towards the owner's usage
            repo.add_usage(conn, a["owner_id"], -int(size))
    # an external library's original is the user's own file: never ours to delete
    originals = [] if a["is_external"] or a["library_id"] else [a["original_path"]]
    ctx.storage.remove([*paths, *originals])
    if ctx.events:
        ctx.events.emit("on_asset_delete", a["owner_id"], a["id"])
    return JobStatus.SUCCESS
