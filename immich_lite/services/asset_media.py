"""Uploads and media bytes (upstream AssetMediaService): create from a received form, duplicates, serving files."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import shutil
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from immich_lite import ids, spec
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, Unauthorized, invalid
from immich_lite.media import mime
from immich_lite.repos import asset as repo
from immich_lite.repos import user as user_repo
from immich_lite.storage import commit_file, fsync_dir, move_into_place

log = logging.getLogger("immich_lite.upload")
UPLOAD_SUFFIX = ".upload"
EXTRACT_METADATA = "AssetExtractMetadata"


def parse_checksum(value: str) -> bytes | None:
    """Hex (40 chars, the CLI) or base64 (28 chars, the web): upstream fromChecksum."""
    v = value.strip()
    try:
        raw = bytes.fromhex(v) if len(v) == 40 else base64.b64decode(v, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 20 else None


def upload_owner(auth: AuthContext) -> str:
    if auth.shared_link is not None and not auth.shared_link["allow_upload"]:
        raise Unauthorized("Unauthorized")
    return auth.user_id


def find_duplicate(ctx: Ctx, auth: AuthContext, checksum: bytes) -> str | None:
    row = repo.get_by_checksum(ctx.db.reader(), upload_owner(auth), checksum)
    return row["id"] if row else None


def check_file(field: str, filename: str) -> None:
    """Refuse before storing a byte: the asset must be an image/video type, the sidecar an .xmp."""
    if field == "assetData" and mime.asset_type(filename) is None:
        raise BadRequest(f"Unsupported file type {filename}")
    if field == "sidecarData" and not mime.is_sidecar(filename):
        raise BadRequest(f"Unsupported file type {filename}")


def remaining_quota(ctx: Ctx, auth: AuthContext) -> int | None:
    user = user_repo.get(ctx.db.reader(), auth.user_id)
    if not user or user["quota_size_in_bytes"] is None:
        return None
    return max(0, int(user["quota_size_in_bytes"]) - int(user["quota_usage_in_bytes"]))


def temp_path(ctx: Ctx, asset_id: str, field: str) -> Path:
    # the asset id is in the name, so start-up recovery can roll a committed upload forward (recover())
    suffix = ".xmp" + UPLOAD_SUFFIX if field == "sidecarData" else UPLOAD_SUFFIX
    return ctx.storage.root / "tmp" / f"{asset_id}{suffix}"


def _parse_fields(fields: dict[str, str]) -> dict[str, Any]:
    """Validate the text parts against AssetMediaCreateDto (multipart sends everything as text)."""
    schema = spec.operations()["uploadAsset"].multipart or {}
    props = spec.resolve(schema).get("properties", {})
    value: dict[str, Any] = {}
    for k, raw in fields.items():
        if k not in props or k in ("assetData", "sidecarData"):
            continue  # unknown fields (deviceAssetId, deviceId, fileSize) are ignored as upstream
        if k == "metadata":  # upstream JsonParsed
            try:
                value[k] = json.loads(raw)
            except ValueError:
                raise invalid(["metadata"], "Invalid input: expected JSON string, received string") from None
        else:
            value[k] = spec.coerce_param(raw, props[k])
    value.setdefault("assetData", "")
    return spec.validate_body(value, schema)


def create(ctx: Ctx, auth: AuthContext, asset_id: str, fields: dict[str, str], files: dict[str, Any],
           checksums: dict[str, bytes]) -> tuple[dict[str, Any], int]:
    """Insert the asset and its first job in one transaction, then move the file into place.

    Order for "nothing acknowledged is lost": temp file fsynced (by the receiver) → COMMIT → rename + dir fsync
    → reply. A crash between COMMIT and rename is rolled forward by recover() at start-up.
    """
    from immich_lite import jobs  # noqa: PLC0415 (the runner module imports services)

    upload = files.get("assetData")
    if upload is None:
        raise BadRequest("File is empty" if "assetData" in fields else ["assetData must be a file"])
    if upload.size == 0:
        raise BadRequest("File is empty")
    dto = _parse_fields(fields)
    owner_id = upload_owner(auth)
    checksum = checksums["assetData"]
    original_name = dto.get("filename") or upload.filename
    name = PurePosixPath(original_name.replace("\\", "/")).name or "file"
    ext = PurePosixPath(name).suffix.lower()
    asset_type = mime.asset_type(name)
    if asset_type is None:
        raise BadRequest(f"Unsupported file type {name}")
    dest = ctx.storage.upload_path(owner_id, asset_id, ext)
    sidecar = files.get("sidecarData")
    sidecar_dest = dest.with_name(f"{asset_id}.xmp") if sidecar else None
    created_at = ids.iso(ids.parse_iso(dto["fileCreatedAt"]))
    modified_at = ids.iso(ids.parse_iso(dto["fileModifiedAt"]))
    # The row commits without syncing the WAL while the writer lock is held (3 uploaders queued behind each
    # other's fsyncs there); ctx.db.sync_wal() makes it durable after the lock is released, before the reply.
    try:
        with ctx.db.relaxed_commits(), ctx.db.write_lock():
            with ctx.db.write() as conn:
                existing = repo.get_by_checksum(conn, owner_id, checksum)
                if existing:
                    _link_to_shared_link(conn, auth, existing["id"])
                    return {"id": existing["id"], "status": "duplicate"}, 200
                user = user_repo.get(conn, owner_id)
                if user and user["quota_size_in_bytes"] is not None and \
                        user["quota_usage_in_bytes"] + upload.size > user["quota_size_in_bytes"]:
                    raise BadRequest("Quota has been exceeded!")
                live_video = dto.get("livePhotoVideoId")
                if live_video:
                    _check_live_video(conn, owner_id, live_video)
                repo.insert(
                    conn, id=asset_id, owner_id=owner_id, type=asset_type, original_path=ctx.storage.relative(dest),
                    original_file_name=name, checksum=checksum, file_created_at=created_at,
                    file_modified_at=modified_at, local_date_time=created_at,
                    is_favorite=int(bool(dto.get("isFavorite"))), visibility=dto.get("visibility", "timeline"),
                    duration=int(dto["duration"]) if dto.get("duration") else None,
                    live_photo_video_id=live_video)
                repo.upsert_exif(conn, asset_id, file_size_in_byte=upload.size)
                if sidecar_dest is not None:
                    repo.upsert_file(conn, asset_id, "sidecar", ctx.storage.relative(sidecar_dest))
                for item in dto.get("metadata") or []:
                    repo.upsert_metadata(conn, asset_id, item["key"], item["value"])
                repo.add_usage(conn, owner_id, upload.size)
                _link_to_shared_link(conn, auth, asset_id)
                jobs.enqueue(conn, jobs.JobName(EXTRACT_METADATA), {"id": asset_id, "source": "upload"})
            # committed: the bytes (fsynced by the receiver) take their final name while the writer lock is
            # still held, so no job can claim this asset before its file is in place; only the rename is locked
            move_into_place(upload.path, dest)
            if sidecar is not None and sidecar_dest is not None:
                move_into_place(sidecar.path, sidecar_dest)
    finally:
        ctx.db.sync_wal()
    fsync_dir(dest.parent)  # the rename is durable before we acknowledge
    _set_mtime(dest, dto["fileModifiedAt"])
    if live_video and ctx.events:
        ctx.events.emit("on_asset_hidden", owner_id, live_video)
    return {"id": asset_id, "status": "created"}, 201


def _set_mtime(path: Path, modified: str) -> None:
    try:
        ts = ids.parse_iso(modified).timestamp()
        import os  # noqa: PLC0415

        os.utime(path, (ts, ts))
    except (OSError, ValueError, OverflowError):
        pass


def _check_live_video(conn: Any, owner_id: str, video_id: str) -> None:
    # Immich: asset.util.ts onBeforeLink
    video = repo.get(conn, video_id)
    if not video or video["type"] != "VIDEO" or video["owner_id"] != owner_id:
        raise BadRequest("Live photo video not found")
    if video["visibility"] != "hidden":
        repo.update(conn, video_id, visibility="hidden")


def _link_to_shared_link(conn: Any, auth: AuthContext, asset_id: str) -> None:
    link = auth.shared_link
    if link is None:
        return
    if link["album_id"]:
        conn.execute("INSERT OR IGNORE INTO album_asset (album_id, asset_id, created_at) VALUES (?, ?, ?)",
                     (link["album_id"], asset_id, ids.now_iso()))
    else:
        conn.execute("INSERT OR IGNORE INTO shared_link_asset (shared_link_id, asset_id) VALUES (?, ?)",
                     (link["id"], asset_id))


def bulk_upload_check(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    items = dto["assets"]
    parsed = [(item["id"], parse_checksum(item["checksum"])) for item in items]
    known = {bytes(r["checksum"]): r for r in
             repo.get_by_checksums(ctx.db.reader(), auth.user_id, [c for _, c in parsed if c is not None])}
    results = []
    for item_id, checksum in parsed:
        row = known.get(checksum) if checksum else None
        if row:
            results.append({"id": item_id, "action": "reject", "reason": "duplicate", "assetId": row["id"],
                            "isTrashed": row["deleted_at"] is not None})
        else:
            results.append({"id": item_id, "action": "accept"})
    return {"results": results}


def recover(ctx: Ctx) -> dict[str, int]:
    """Start-up sweep of tmp/: roll committed uploads forward, delete everything never acknowledged."""
    stats = {"rolled_forward": 0, "removed": 0}
    tmp = ctx.storage.root / "tmp"
    conn = ctx.db.reader()
    for path in sorted(tmp.glob("*")):
        if path.is_dir():  # a media job's work dir (thumbnail.generate's mkdtemp) left by a crash
            shutil.rmtree(path, ignore_errors=True)
            stats["removed"] += 1
            continue
        if not path.is_file():
            continue
        asset_id = path.name.split(".", 1)[0]
        row = repo.get(conn, asset_id) if path.name.endswith(UPLOAD_SUFFIX) and len(asset_id) == 36 else None
        if row is not None:
            is_sidecar = path.name.endswith(".xmp" + UPLOAD_SUFFIX)
            if is_sidecar:
                f = repo.get_file(conn, asset_id, "sidecar")
                dest = ctx.storage.absolute(f["path"]) if f else None
            else:
                dest = ctx.storage.absolute(row["original_path"])
            if dest is not None and not dest.exists():
                commit_file(path, dest)
                stats["rolled_forward"] += 1
                continue
        path.unlink(missing_ok=True)
        stats["removed"] += 1
    if stats["removed"]:
        fsync_dir(tmp)
    if any(stats.values()):
        log.info("upload recovery: %s", stats)
    return stats


def parse_date(value: str) -> datetime:
    return ids.parse_iso(value)


# --- serving bytes ---------------------------------------------------------------------------------

CACHE_PRIVATE = "private, max-age=86400, no-transform, stale-while-revalidate=2592000, stale-if-error=2592000"


class FileInfo:
    def __init__(self, path: Path, content_type: str, filename: str, cache: str = CACHE_PRIVATE):
        self.path, self.content_type, self.filename, self.cache = path, content_type, filename, cache


class Redirect:
    def __init__(self, location: str):
        self.location = location


def _asset_for(ctx: Ctx, auth: AuthContext, asset_id: str, permission: str) -> dict[str, Any]:
    from immich_lite.access import require_access  # noqa: PLC0415
    from immich_lite.errors import NotFound  # noqa: PLC0415

    conn = ctx.db.reader()
    require_access(conn, auth, permission, [asset_id])
    row = repo.get(conn, asset_id)
    if row is None:
        raise NotFound("Asset not found")
    return row


def _strip(auth: AuthContext) -> bool:
    return auth.shared_link is not None and not auth.shared_link["show_exif"]


def original(ctx: Ctx, auth: AuthContext, asset_id: str, edited: bool = False) -> FileInfo:
    """Upstream downloadOriginal: `edited` (forced for shared links) serves the edited fullsize when there is one."""
    from immich_lite.errors import NotFound  # noqa: PLC0415

    a = _asset_for(ctx, auth, asset_id, "asset.download")
    stored = a["original_path"]
    if edited or auth.shared_link is not None:
        f = repo.get_file(ctx.db.reader(), asset_id, "fullsize", edited=True)
        stored = f["path"] if f is not None else stored
    path = ctx.storage.absolute(stored)
    if not path.exists():
        raise NotFound("File not found")
    stem = PurePosixPath(a["original_file_name"]).stem if not _strip(auth) else a["id"]
    return FileInfo(path, mime.mime_type(path.name) or "application/octet-stream", f"{stem}{path.suffix}")


def thumbnail(ctx: Ctx, auth: AuthContext, asset_id: str, size: str, query: str,
              edited: bool = False) -> FileInfo | Redirect:
    """Upstream viewThumbnail, incl. the 302 rules for size=original/fullsize. `edited` (forced for shared links)
    prefers the `_edited` rendition and falls back to the unedited one; without it the unedited one is preferred."""
    from immich_lite.errors import NotFound  # noqa: PLC0415

    a = _asset_for(ctx, auth, asset_id, "asset.view")
    if size == "original":
        return Redirect(f"/api/assets/{asset_id}/original{query}")
    conn = ctx.db.reader()
    edited = edited or auth.shared_link is not None
    f = repo.get_file(conn, asset_id, size, edited=edited) or repo.get_file(conn, asset_id, size, edited=not edited)
    if size == "fullsize":
        if a["type"] == "IMAGE" and mime.is_web_supported_image(a["original_file_name"]) and not edited:
            return Redirect(f"/api/assets/{asset_id}/original{query}")
        if f is None:
            q = query.replace("size=fullsize", "size=preview") if "size=fullsize" in query else "?size=preview"
            return Redirect(f"/api/assets/{asset_id}/thumbnail{q}")
    if f is None:
        raise NotFound("Asset media not found")
    path = ctx.storage.absolute(f["path"])
    if not path.exists():
        raise NotFound("Asset media not found")
    base = PurePosixPath(a["original_file_name"]).stem if not _strip(auth) else a["id"]
    return FileInfo(path, mime.mime_type(path.name) or "application/octet-stream",
                    f"{base}_{size}{path.suffix}")


def playback(ctx: Ctx, auth: AuthContext, asset_id: str) -> FileInfo:
    from immich_lite.errors import NotFound  # noqa: PLC0415

    a = _asset_for(ctx, auth, asset_id, "asset.view")
    if a["type"] != "VIDEO":
        raise BadRequest("Asset is not a video")
    stored = a["encoded_video_path"] or a["original_path"]
    path = ctx.storage.absolute(stored)
    if not path.exists():
        raise NotFound("File not found")
    ctype = mime.mime_type(path.name) or "application/octet-stream"
    return FileInfo(path, ctype, f"{PurePosixPath(a['original_file_name']).stem}{path.suffix}")
