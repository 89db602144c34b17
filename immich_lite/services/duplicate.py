"""Duplicate groups (upstream DuplicateService). Without CLIP no detector runs here: groups are whatever
asset.duplicate_id holds (set through PUT /assets {ids, duplicateId}, as upstream allows)."""
from __future__ import annotations

import json
import logging
from typing import Any

from immich_lite import ids
from immich_lite.access import check_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.repos import album as album_repo
from immich_lite.repos import asset as asset_repo
from immich_lite.repos import marks
from immich_lite.repos import tag as tag_repo
from immich_lite.services import asset as asset_service
from immich_lite.services import sidecar
from immich_lite.services.asset import load_response

log = logging.getLogger("immich_lite.duplicate")

# upstream withDefaultVisibility, not deleted, not stacked
_MEMBER = ("a.duplicate_id IS NOT NULL AND a.deleted_at IS NULL AND a.stack_id IS NULL "
           "AND a.visibility IN ('archive', 'timeline')")


def _owned_groups(conn: Any, auth: AuthContext, duplicate_ids: list[str]) -> set[str]:
    """Upstream DuplicateAccess.checkOwnerAccess: a live asset of mine carries the id."""
    if not duplicate_ids:
        return set()
    return {r["duplicate_id"] for r in conn.execute(
        f"SELECT DISTINCT duplicate_id FROM asset WHERE owner_id = ? AND deleted_at IS NULL "
        f"AND duplicate_id IN ({marks(duplicate_ids)})", [auth.user_id, *duplicate_ids])}


def _require_groups(conn: Any, auth: AuthContext, duplicate_ids: list[str]) -> None:
    wanted = set(duplicate_ids)
    if wanted and _owned_groups(conn, auth, list(wanted)) != wanted:
        raise BadRequest("Not found or no duplicate.delete access")


def _exif_count(asset: dict[str, Any]) -> int:
    return sum(1 for v in (asset.get("exifInfo") or {}).values() if v)


def suggest_keep(assets: list[dict[str, Any]]) -> list[str]:
    """Upstream suggestDuplicate: the largest file, then the most EXIF values (stable sorts, last wins)."""
    if not assets:
        return []

    def size(a: dict[str, Any]) -> int:
        return (a.get("exifInfo") or {}).get("fileSizeInByte") or 0

    ranked = sorted(assets, key=size)
    largest = size(ranked[-1])
    ranked = [a for a in ranked if size(a) == largest]
    if len(ranked) >= 2:
        ranked = sorted(ranked, key=_exif_count)
    return [ranked[-1]["id"]]


def _group_rows(conn: Any, duplicate_id: str) -> list[dict[str, Any]]:
    return list(conn.execute(f"SELECT a.* FROM asset a WHERE {_MEMBER} AND a.duplicate_id = ? "
                             "ORDER BY a.local_date_time, a.id", (duplicate_id,)))


def get_all(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        # upstream cleanupSingletonGroups: a group of one is no group
        conn.execute("UPDATE asset SET duplicate_id = NULL, updated_at = ? WHERE owner_id = ? AND duplicate_id IN ("
                     "SELECT duplicate_id FROM asset WHERE owner_id = ? AND duplicate_id IS NOT NULL "
                     "AND deleted_at IS NULL AND stack_id IS NULL GROUP BY duplicate_id HAVING count(id) = 1)",
                     (ids.now_iso(), auth.user_id, auth.user_id))
    conn = ctx.db.reader()
    rows = list(conn.execute(f"SELECT a.* FROM asset a WHERE a.owner_id = ? AND {_MEMBER} "
                             "ORDER BY a.duplicate_id, a.local_date_time, a.id", (auth.user_id,)))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["duplicate_id"], []).append(r)
    out = []
    for duplicate_id, members in groups.items():
        if len(members) < 2:
            continue
        assets = [load_response(ctx, conn, a, auth) for a in members]
        out.append({"duplicateId": duplicate_id, "assets": assets, "suggestedKeepAssetIds": suggest_keep(assets)})
    return out


def delete(ctx: Ctx, auth: AuthContext, duplicate_id: str) -> None:
    delete_all(ctx, auth, {"ids": [duplicate_id]})


def delete_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    duplicate_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        _require_groups(conn, auth, duplicate_ids)
        if duplicate_ids:
            conn.execute(f"UPDATE asset SET duplicate_id = NULL, updated_at = ? WHERE owner_id = ? "
                         f"AND duplicate_id IN ({marks(duplicate_ids)})",
                         [ids.now_iso(), auth.user_id, *duplicate_ids])


def resolve(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    groups = dto["groups"]
    _require_groups(ctx.db.reader(), auth, [g["duplicateId"] for g in groups])
    results, trashed, deleted = [], [], []
    for group in groups:
        try:
            with ctx.db.write() as conn:
                result, gone, force = _resolve_group(ctx, conn, auth, group)
        except Exception:  # noqa: BLE001 (upstream: one group's failure is that group's result)
            log.exception("Error resolving duplicate group %s", group["duplicateId"])
            result, gone, force = {"id": group["duplicateId"], "success": False, "error": "unknown"}, [], False
        results.append(result)
        (deleted if force else trashed).extend(gone)
    if ctx.events and trashed:  # the deleted ones: on_asset_delete comes from their AssetDelete jobs
        ctx.events.emit("on_asset_trash", auth.user_id, trashed)
    return results


def _fail(duplicate_id: str, error: str, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": duplicate_id, "success": False, "error": error}
    if message:
        out["errorMessage"] = message
    return out


def _resolve_group(ctx: Ctx, conn: Any, auth: AuthContext,
                   group: dict[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
    duplicate_id = group["duplicateId"]
    members = _group_rows(conn, duplicate_id)
    if not members:
        return _fail(duplicate_id, "not_found"), [], False
    member_ids = [a["id"] for a in members]
    in_group = set(member_ids)
    keep = [a for a in dict.fromkeys(group["keepAssetIds"]) if a in in_group]
    trash = [a for a in dict.fromkeys(group["trashAssetIds"]) if a in in_group]
    for aid in member_ids:
        if aid in keep and aid in trash:
            return _fail(duplicate_id, "validation", "An asset cannot be in both keepAssetIds and trashAssetIds"), [], False
        if aid not in keep and aid not in trash:
            return _fail(duplicate_id, "validation", "Every asset must be in either keepAssetIds or trashAssetIds"), [], False
    if trash and check_access(conn, auth, "asset.delete", trash) != set(trash):
        return _fail(duplicate_id, "no_permission", "No permission to delete assets"), [], False

    now = ids.now_iso()
    if len(keep) == 1 and trash:
        _merge_into(conn, auth, members, keep)
    elif keep:
        asset_repo.update_many(conn, keep, duplicate_id=None)

    force = False
    if trash:
        force = not asset_service.trash_enabled(ctx)
        if force:
            asset_repo.update_many(conn, trash, duplicate_id=None, deleted_at=now)
            asset_service.mark_deleted(conn, trash)
        else:
            asset_repo.update_many(conn, trash, deleted_at=now, status="trashed", duplicate_id=None)
    return {"id": duplicate_id, "success": True}, trash, force


def _unique_lines(values: list[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        for line in (value or "").splitlines():
            if line.strip():
                seen.setdefault(line.strip(), None)
    return list(seen)


def _merge_into(conn: Any, auth: AuthContext, members: list[dict[str, Any]], keep: list[str]) -> None:
    """Upstream getSyncMergeResult: the keeper absorbs favourite, visibility, rating, description, location,
    albums and tags of the whole group."""
    member_ids = [a["id"] for a in members]
    exifs = {aid: asset_repo.get_exif(conn, aid) or {} for aid in member_ids}
    values: dict[str, Any] = {"duplicate_id": None, "is_favorite": int(any(a["is_favorite"] for a in members))}
    for level in ("locked", "archive", "timeline", "hidden"):
        if any(a["visibility"] == level for a in members):
            values["visibility"] = level
            break
    exif: dict[str, Any] = {}
    rating = max([e.get("rating") or 0 for e in exifs.values()] + [0])
    if rating > 0:
        exif["rating"] = rating
    lines = _unique_lines([e.get("description") for e in exifs.values()])
    if lines:
        exif["description"] = "\n".join(lines)
    lat = {e["latitude"] for e in exifs.values() if e.get("latitude") is not None}
    lon = {e["longitude"] for e in exifs.values() if e.get("longitude") is not None}
    if len(lat) == 1 and len(lon) == 1:
        exif["latitude"], exif["longitude"] = lat.pop(), lon.pop()

    in_members = marks(member_ids)
    album_ids = [r["id"] for r in conn.execute(
        f"SELECT DISTINCT al.id FROM album al JOIN album_asset aa ON aa.album_id = al.id "
        f"WHERE aa.asset_id IN ({in_members}) AND al.deleted_at IS NULL AND (al.owner_id = ? OR EXISTS "
        f"(SELECT 1 FROM album_user m WHERE m.album_id = al.id AND m.user_id = ?))",
        [*member_ids, auth.user_id, auth.user_id])]
    if album_ids:
        allowed_albums = check_access(conn, auth, "albumAsset.create", album_ids)
        shareable = sorted(check_access(conn, auth, "asset.share", keep))
        if allowed_albums and shareable:
            for album_id in allowed_albums:
                album_repo.add_assets(conn, album_id, shareable)

    tags = list(conn.execute(f"SELECT DISTINCT t.id, t.value FROM tag t JOIN tag_asset ta ON ta.tag_id = t.id "
                             f"WHERE ta.asset_id IN ({in_members}) ORDER BY t.value", member_ids))
    if tags:
        allowed_tags = check_access(conn, auth, "tag.asset", [t["id"] for t in tags])
        if allowed_tags:
            for aid in keep:
                conn.execute("DELETE FROM tag_asset WHERE asset_id = ?", (aid,))
                for tag_id in sorted(allowed_tags):
                    tag_repo.add_asset(conn, tag_id, aid)
            exif["tags"] = json.dumps(list(dict.fromkeys(t["value"] for t in tags)))

    if exif:  # locked, and written to each kept asset's sidecar (upstream queues SidecarWrite)
        for aid in keep:
            sidecar.set_locked(conn, aid, exif)
    asset_repo.update_many(conn, keep, **values)
