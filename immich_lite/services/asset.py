"""Asset info, updates, deletion and statistics (upstream AssetService)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.asset import map_asset
from immich_lite.errors import BadRequest, ValidationFailed, invalid
from immich_lite.media.exif import zone_info
from immich_lite.repos import asset as repo
from immich_lite.repos import marks
from immich_lite.repos import user as user_repo
from immich_lite.services import sidecar

DELETE_JOB = "AssetDelete"


def _emit(ctx: Ctx, event: str, room: str, payload: Any) -> None:
    if ctx.events:
        ctx.events.emit(event, room, payload)


def load_response(ctx: Ctx, conn: Any, a: dict[str, Any], auth: AuthContext | None = None) -> dict[str, Any]:
    """AssetResponseDto with exif, owner, tags, people and stack, as getAssetInfo returns it."""
    exif = repo.get_exif(conn, a["id"])
    owner = user_repo.get(conn, a["owner_id"], with_deleted=True)
    has_thumb = repo.get_file(conn, a["id"], "thumbnail") is not None
    stack = None
    if a["stack_id"]:
        s = conn.execute("SELECT s.id, s.primary_asset_id, (SELECT count(*) FROM asset x WHERE x.stack_id = s.id "
                         "AND x.deleted_at IS NULL) AS n FROM stack s WHERE s.id = ?", (a["stack_id"],)).fetchone()
        if s:
            stack = {"id": s["id"], "primaryAssetId": s["primary_asset_id"], "assetCount": s["n"]}
    tags = [{"id": t["id"], "name": t["value"].rsplit("/", 1)[-1], "value": t["value"], "createdAt": t["created_at"],
             "updatedAt": t["updated_at"], **({"color": t["color"]} if t["color"] else {}),
             **({"parentId": t["parent_id"]} if t["parent_id"] else {})}
            for t in conn.execute("SELECT t.* FROM tag t JOIN tag_asset ta ON ta.tag_id = t.id WHERE ta.asset_id = ? "
                                  "ORDER BY t.value", (a["id"],))]
    strip = auth is not None and auth.shared_link is not None and not auth.shared_link["show_exif"]
    from immich_lite.repos import search as search_repo  # noqa: PLC0415
    from immich_lite.services.person import map_person  # noqa: PLC0415

    people = [map_person(p) for p in search_repo.people(conn, [a["id"]]).get(a["id"], [])]
    return map_asset(a, exif=exif, owner=owner, has_thumbnail=has_thumb, stack=stack, tags=tags,
                     people=people, strip_metadata=strip)


def get(ctx: Ctx, auth: AuthContext, asset_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.read", [asset_id])
    a = repo.get(conn, asset_id)
    assert a is not None
    out = load_response(ctx, conn, a, auth)
    if a["owner_id"] != auth.user_id:
        out["isFavorite"] = False  # Immich: favourites are the owner's, never shown to others
    return out


def offset_zone(value: str) -> str | None:
    """Upstream extractTimeZone: the luxon name of the fixed offset a date string carries ("UTC", "UTC-7",
    "UTC+5:30"), or None when it has none."""
    v = value.strip()
    dt = datetime.fromisoformat(v[:-1] + "+00:00" if v[-1:] in ("Z", "z") else v)
    offset = dt.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{'-' if minutes < 0 else '+'}{h}" + (f":{m}" if m else "")  # luxon's "narrow" offset


def _exif_changes(dto: dict[str, Any]) -> dict[str, Any]:
    exif: dict[str, Any] = {}
    if "description" in dto:
        exif["description"] = dto["description"]
    if "rating" in dto:
        exif["rating"] = dto["rating"]
    if "latitude" in dto and "longitude" in dto:
        exif["latitude"], exif["longitude"] = dto["latitude"], dto["longitude"]
    if "dateTimeOriginal" in dto:
        try:
            zone = offset_zone(dto["dateTimeOriginal"])
        except (ValueError, OverflowError):
            raise ValidationFailed([{"code": "invalid_format", "format": "datetime", "path": ["dateTimeOriginal"],
                                     "message": "Invalid ISO datetime"}]) from None
        exif["date_time_original"] = dto["dateTimeOriginal"]
        if zone is not None:
            exif["time_zone"] = zone
    if "timeZone" in dto:
        if zone_info(dto["timeZone"]) is None:
            raise invalid(["timeZone"], "Invalid time zone")
        exif["time_zone"] = dto["timeZone"]
    return exif


_LOCK_NAMES = {"date_time_original": "dateTimeOriginal", "time_zone": "timeZone"}


def _apply_exif(conn: Any, asset_id: str, exif: dict[str, Any], shift_minutes: int = 0) -> None:
    """Upstream updateExif / updateAllExif / updateDateTimeOriginal: the values, locked so metadata extraction
    keeps them, and a SidecarWrite that writes them next to the original (which then unlocks them)."""
    if not exif and not shift_minutes:
        return
    row = repo.get_exif(conn, asset_id) or {}
    exif = dict(exif)
    if shift_minutes and row.get("date_time_original") and "date_time_original" not in exif:
        exif["date_time_original"] = ids.iso(ids.parse_iso(row["date_time_original"]) + timedelta(minutes=shift_minutes))
        exif.setdefault("time_zone", row.get("time_zone"))
    names = {_LOCK_NAMES.get(k, k) for k in exif}
    if shift_minutes:
        names |= {"dateTimeOriginal", "timeZone"}
    locked = set(json.loads(row.get("locked_properties") or "[]")) | names
    if "date_time_original" in exif and exif["date_time_original"]:
        dt = ids.parse_iso(exif["date_time_original"])
        exif["date_time_original"] = ids.iso(dt)
    repo.upsert_exif(conn, asset_id, **exif, locked_properties=json.dumps(sorted(locked)))
    e = repo.get_exif(conn, asset_id) or {}
    if e.get("date_time_original") and ("date_time_original" in exif or "time_zone" in exif):
        # Immich moves fileCreatedAt and localDateTime once the sidecar is read back; done now, so the timeline
        # shows the new date at once: the instant, and its wall clock in the asset's zone
        instant = ids.parse_iso(e["date_time_original"])
        tz = zone_info(e["time_zone"]) if e.get("time_zone") else None
        wall = instant.astimezone(tz) if tz is not None else instant
        repo.update(conn, asset_id, file_created_at=ids.iso(instant),
                    local_date_time=f"{wall.year:04d}-" + wall.strftime("%m-%dT%H:%M:%S.")
                    + f"{wall.microsecond // 1000:03d}Z")
    elif shift_minutes:
        a = repo.get(conn, asset_id)
        if a is not None:
            delta = timedelta(minutes=shift_minutes)
            repo.update(conn, asset_id, file_created_at=ids.iso(ids.parse_iso(a["file_created_at"]) + delta),
                        local_date_time=ids.iso(ids.parse_iso(a["local_date_time"]) + delta))
    sidecar.queue_write(conn, asset_id)


def update(ctx: Ctx, auth: AuthContext, asset_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", [asset_id])
        values = _flag_values(conn, dto, [asset_id])
        if "livePhotoVideoId" in dto:
            video = dto["livePhotoVideoId"]
            if video is not None:  # upstream asset.util onBeforeLink, its checks and messages in order
                v = repo.get(conn, video)
                if not v:
                    raise BadRequest("Live photo video not found")
                if v["type"] != "VIDEO":
                    raise BadRequest("Live photo video must be a video")
                if v["owner_id"] != auth.user_id:
                    raise BadRequest("Live photo video does not belong to the user")
                if v["visibility"] == "timeline":
                    repo.update(conn, video, visibility="hidden")
            else:  # onBeforeUnlink / onAfterUnlink: the video comes back with the still's visibility
                old = repo.get(conn, asset_id)
                motion = repo.get(conn, old["live_photo_video_id"]) if old and old["live_photo_video_id"] else None
                if motion is not None:
                    if motion["original_path"].startswith("encoded-video/"):  # StorageCore.isAndroidMotionPath
                        raise BadRequest("Cannot unlink Android motion photos")
                    repo.update(conn, motion["id"], visibility=values.get("visibility", old["visibility"]))
            values["live_photo_video_id"] = video
        if values:
            repo.update(conn, asset_id, **values)
        _apply_exif(conn, asset_id, _exif_changes(dto))
        a = repo.get(conn, asset_id)
        assert a is not None
        out = load_response(ctx, conn, a, auth)
    _emit(ctx, "on_asset_update", a["owner_id"], out)
    return out


def _flag_values(conn: Any, dto: dict[str, Any], asset_ids: list[str]) -> dict[str, Any]:
    """Column values for isFavorite / visibility, shared by single and bulk updates."""
    values: dict[str, Any] = {}
    if "isFavorite" in dto:
        values["is_favorite"] = int(dto["isFavorite"])
    if "visibility" in dto:
        values["visibility"] = dto["visibility"]
        if dto["visibility"] == "locked":
            _remove_from_shares(conn, asset_ids)
    return values


def _remove_from_shares(conn: Any, asset_ids: list[str]) -> None:
    """Locking an asset takes it out of albums and links (issue #29526, for single and bulk updates)."""
    m = marks(asset_ids)
    conn.execute(f"DELETE FROM album_asset WHERE asset_id IN ({m})", asset_ids)
    conn.execute(f"DELETE FROM shared_link_asset WHERE asset_id IN ({m})", asset_ids)


def update_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    asset_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", asset_ids)
        values = _flag_values(conn, dto, asset_ids)
        if "duplicateId" in dto:
            values["duplicate_id"] = dto["duplicateId"]
        repo.update_many(conn, asset_ids, **values)
        exif = _exif_changes(dto)
        relative = int(dto.get("dateTimeRelative") or 0)
        for aid in asset_ids:
            _apply_exif(conn, aid, exif, relative)
    for aid in asset_ids:
        _emit(ctx, "on_asset_update", auth.user_id, {"id": aid})


def trash_enabled(ctx: Ctx) -> bool:
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    return bool(get_config(ctx).get("trash", {}).get("enabled", True))


def delete_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    """Trash (force=false, trash enabled) or delete for good: rows go now, files through AssetDelete jobs."""
    asset_ids = list(dict.fromkeys(dto["ids"]))
    force = bool(dto.get("force")) or not trash_enabled(ctx)
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.delete", asset_ids)
        if force:
            mark_deleted(conn, asset_ids)
        else:
            now = ids.now_iso()
            repo.update_many(conn, asset_ids, deleted_at=now, status="trashed")
    if not force:
        _emit(ctx, "on_asset_trash", auth.user_id, asset_ids)
    # deleted for good: on_asset_delete is sent by each AssetDelete job once the row is gone (as upstream), so a
    # client that reacts to it no longer finds the asset


def mark_deleted(conn: Any, asset_ids: list[str]) -> None:
    """Hide for good and queue the file removal, in the caller's transaction (crash-safe)."""
    from immich_lite import jobs  # noqa: PLC0415

    now = ids.now_iso()
    for aid in asset_ids:
        a = repo.get(conn, aid)
        if not a or a["status"] == "deleted":
            continue
        repo.update(conn, aid, status="deleted", deleted_at=a["deleted_at"] or now)
        jobs.enqueue(conn, jobs.JobName(DELETE_JOB), {"id": aid})
        if a["live_photo_video_id"]:
            other = conn.execute("SELECT 1 FROM asset WHERE live_photo_video_id = ? AND id != ? AND status != 'deleted'",
                                 (a["live_photo_video_id"], aid)).fetchone()
            if not other:
                repo.update(conn, a["live_photo_video_id"], status="deleted", deleted_at=now)
                jobs.enqueue(conn, jobs.JobName(DELETE_JOB), {"id": a["live_photo_video_id"]})


def statistics(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> dict[str, Any]:
    row = repo.statistics(ctx.db.reader(), auth.user_id, visibility=query.get("visibility"),
                          is_favorite=query.get("isFavorite"), is_trashed=query.get("isTrashed"))
    return {"images": row["images"], "videos": row["videos"], "total": row["images"] + row["videos"]}


# --- asset metadata key/values ---------------------------------------------------------------------

def _map_meta(row: dict[str, Any], with_asset: bool = False) -> dict[str, Any]:
    out = {"key": row["key"], "value": json.loads(row["value"]), "updatedAt": row["updated_at"]}
    if with_asset:
        out["assetId"] = row["asset_id"]
    return out


def get_metadata(ctx: Ctx, auth: AuthContext, asset_id: str) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.read", [asset_id])
    return [_map_meta(r) for r in repo.get_metadata(conn, asset_id)]


def get_metadata_by_key(ctx: Ctx, auth: AuthContext, asset_id: str, key: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.read", [asset_id])
    row = repo.get_metadata_item(conn, asset_id, key)
    if row is None:
        raise BadRequest(f"Metadata with key '{key}' not found for asset '{asset_id}'")
    return _map_meta(row)


def upsert_metadata(ctx: Ctx, auth: AuthContext, asset_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", [asset_id])
        for item in dto["items"]:
            repo.upsert_metadata(conn, asset_id, item["key"], item["value"])
        keys = {i["key"] for i in dto["items"]}
        return [_map_meta(r) for r in repo.get_metadata(conn, asset_id) if r["key"] in keys]


def delete_metadata(ctx: Ctx, auth: AuthContext, asset_id: str, key: str) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", [asset_id])
        repo.delete_metadata(conn, asset_id, key)


def upsert_bulk_metadata(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    items = dto["items"]
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", {i["assetId"] for i in items})
        out = []
        for item in items:
            repo.upsert_metadata(conn, item["assetId"], item["key"], item["value"])
            row = repo.get_metadata_item(conn, item["assetId"], item["key"])
            out.append(_map_meta(row, with_asset=True))  # type: ignore[arg-type]
        return out


def delete_bulk_metadata(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    items = dto["items"]
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", {i["assetId"] for i in items})
        for item in items:
            repo.delete_metadata(conn, item["assetId"], item["key"])


# --- asset jobs --------------------------------------------------------------------------------------

_ASSET_JOBS = {"refresh-metadata": "AssetExtractMetadata", "regenerate-thumbnail": "AssetGenerateThumbnails",
               "transcode-video": "AssetEncodeVideo", "refresh-faces": "AssetDetectFaces"}


def run_jobs(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    """Upstream AssetService.run (refresh-faces: AssetDetectFaces, which skips when facial recognition is off)."""
    from immich_lite import jobs  # noqa: PLC0415

    asset_ids = list(dict.fromkeys(dto["assetIds"]))
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", asset_ids)
        name = _ASSET_JOBS.get(dto["name"])
        if name is None:
            return
        for aid in asset_ids:
            jobs.enqueue(conn, jobs.JobName(name), {"id": aid})


# --- copy: carry albums, links, stack, favourite and sidecar over to another asset (upstream AssetService.copy) --

def copy(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    import shutil  # noqa: PLC0415

    from immich_lite import jobs  # noqa: PLC0415
    from immich_lite.storage import commit_file  # noqa: PLC0415

    source_id, target_id = dto["sourceId"], dto["targetId"]
    copied_sidecar = None
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.copy", [source_id, target_id])
        source, target = repo.get(conn, source_id), repo.get(conn, target_id)
        if source is None or target is None:
            raise BadRequest("Both assets must exist")
        if source_id == target_id:
            raise BadRequest("Source and target id must be distinct")
        now = ids.now_iso()
        if dto.get("albums", True):
            conn.execute("INSERT OR IGNORE INTO album_asset (album_id, asset_id, created_at) "
                         "SELECT album_id, ?, ? FROM album_asset WHERE asset_id = ?", (target_id, now, source_id))
        if dto.get("sharedLinks", True):
            conn.execute("INSERT OR IGNORE INTO shared_link_asset (shared_link_id, asset_id) "
                         "SELECT shared_link_id, ? FROM shared_link_asset WHERE asset_id = ?", (target_id, source_id))
        if dto.get("stack", True) and source["stack_id"]:
            if target["stack_id"]:  # merge the source's stack into the target's
                conn.execute("UPDATE asset SET stack_id = ? WHERE stack_id = ?", (target["stack_id"], source["stack_id"]))
                conn.execute("DELETE FROM stack WHERE id = ?", (source["stack_id"],))
            else:
                repo.update(conn, target_id, stack_id=source["stack_id"])
        if dto.get("favorite", True):
            repo.update(conn, target_id, is_favorite=source["is_favorite"])
        sidecar = repo.get_file(conn, source_id, "sidecar") if dto.get("sidecar", True) else None
        if sidecar is not None:
            dest = ctx.storage.absolute(target["original_path"] + ".xmp")
            tmp = ctx.storage.tmp_path(".xmp")
            shutil.copyfile(ctx.storage.absolute(sidecar["path"]), tmp)
            commit_file(tmp, dest)
            copied_sidecar = dest
            repo.upsert_file(conn, target_id, "sidecar", ctx.storage.relative(dest))
            jobs.enqueue(conn, jobs.JobName.ASSET_EXTRACT_METADATA, {"id": target_id})
    if copied_sidecar is not None and ctx.events:
        ctx.events.emit("on_asset_update", auth.user_id, {"id": target_id})
