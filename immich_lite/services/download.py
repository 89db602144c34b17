"""Downloads (upstream DownloadService): archive planning and a streamed zip of originals."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from zipstream import ZIP_STORED, ZipStream

from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.repos import user as user_repo

GIB = 1024**3
_SIZE = "SELECT a.id, a.live_photo_video_id, a.original_path, e.file_size_in_byte AS size FROM asset a " \
        "LEFT JOIN asset_exif e ON e.asset_id = a.id "


def _rows(conn: Any, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    if dto.get("assetIds") is not None:
        ids = list(dict.fromkeys(dto["assetIds"]))
        require_access(conn, auth, "asset.download", ids)
        if not ids:
            return []
        found = {r["id"]: r for r in conn.execute(_SIZE + f"WHERE a.id IN ({','.join('?' * len(ids))})", ids)}
        return [found[i] for i in ids if i in found]
    if dto.get("albumId"):
        require_access(conn, auth, "album.download", [dto["albumId"]])
        return list(conn.execute(_SIZE + "JOIN album_asset aa ON aa.asset_id = a.id WHERE aa.album_id = ? "
                                 "AND a.deleted_at IS NULL AND a.visibility != 'locked' ORDER BY a.file_created_at",
                                 (dto["albumId"],)))
    if dto.get("userId"):
        require_access(conn, auth, "timeline.download", [dto["userId"]])
        return list(conn.execute(_SIZE + "WHERE a.owner_id = ? AND a.deleted_at IS NULL "
                                 "AND a.visibility IN ('timeline', 'archive') ORDER BY a.file_created_at",
                                 (dto["userId"],)))
    raise BadRequest("assetIds, albumId, or userId is required")


def get_info(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    conn = ctx.db.reader()
    target = dto.get("archiveSize") or 4 * GIB
    prefs = user_repo.get_metadata(conn, auth.user_id, "preferences") or {}
    include_embedded = bool(prefs.get("download", {}).get("includeEmbeddedVideos", False))
    archives: list[dict[str, Any]] = []
    archive: dict[str, Any] = {"size": 0, "assetIds": []}

    def add(row: dict[str, Any]) -> None:
        nonlocal archive
        archive["assetIds"].append(row["id"])
        archive["size"] += int(row["size"] or 0)
        if archive["size"] > target:
            archives.append(archive)
            archive = {"size": 0, "assetIds": []}

    motion: list[str] = []
    for row in _rows(conn, auth, dto):
        if row["live_photo_video_id"]:
            motion.append(row["live_photo_video_id"])
        add(row)
    if motion:
        for row in conn.execute(_SIZE + f"WHERE a.id IN ({','.join('?' * len(motion))})", motion):
            if row["original_path"].startswith("encoded-video/") and not include_embedded:
                continue  # Immich: Android motion parts only with includeEmbeddedVideos
            add(row)
    if archive["assetIds"]:
        archives.append(archive)
    return {"totalSize": sum(a["size"] for a in archives), "archives": archives}


def _safe_name(name: str) -> str:
    # Immich uses sanitize-filename: no separators, control or reserved characters
    cleaned = re.sub(r'[/\\?<>:*|"\x00-\x1f\x80-\x9f]', "", name).strip().lstrip(".")
    return cleaned[:255] or "unnamed"


def archive(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> Iterator[bytes]:
    """A zip of the originals, built while it is sent (zipstream-ng): no temp copy, bounded memory."""
    ids = list(dict.fromkeys(dto["assetIds"]))
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.download", ids)
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT id, original_path, original_file_name FROM asset WHERE id IN ({','.join('?' * len(ids))})", ids)} \
        if ids else {}
    zs = ZipStream(compress_type=ZIP_STORED, sized=True)
    seen: dict[str, int] = {}
    for asset_id in ids:
        row = rows.get(asset_id)
        if row is None:
            continue
        name = _safe_name(row["original_file_name"])
        count = seen.get(name, 0)
        seen[name] = count + 1
        if count:
            p = PurePosixPath(name)
            name = f"{p.stem}+{count}{p.suffix}"
        path = ctx.storage.absolute(row["original_path"])
        if path.exists():
            zs.add_path(str(path), name)
    return zs  # type: ignore[return-value]
