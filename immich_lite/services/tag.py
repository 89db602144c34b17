"""Tags: hierarchical values 'a/b/c' (one row per level) and their assets (upstream TagService)."""
from __future__ import annotations

import json
from typing import Any

from immich_lite.access import check_access, require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.services.bulk_ids import plan_add, plan_remove
from immich_lite.errors import BadRequest
from immich_lite.repos import asset as asset_repo
from immich_lite.repos import tag as repo
from immich_lite.services import sidecar


def map_tag(t: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t["id"]}
    if t["parent_id"]:
        out["parentId"] = t["parent_id"]
    out.update(name=t["value"].split("/")[-1], value=t["value"], createdAt=t["created_at"],
               updatedAt=t["updated_at"])
    if t["color"]:
        out["color"] = t["color"]
    return out


def _color(value: str | None) -> str | None:
    if value is None:
        return None
    return value if value.startswith("#") else f"#{value}"  # upstream hexColor transform


def get_all(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    return [map_tag(t) for t in repo.get_all(ctx.db.reader(), auth.user_id)]


def get(ctx: Ctx, auth: AuthContext, tag_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "tag.read", [tag_id])
    tag = repo.get(conn, tag_id)
    if tag is None:
        raise BadRequest("Tag not found")
    return map_tag(tag)


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        parent = None
        if dto.get("parentId"):
            require_access(conn, auth, "tag.read", [dto["parentId"]])
            parent = repo.get(conn, dto["parentId"])
            if parent is None:
                raise BadRequest("Tag not found")
        value = f"{parent['value']}/{dto['name']}" if parent else dto["name"]
        if repo.get_by_value(conn, auth.user_id, value):
            raise BadRequest("A tag with that name already exists")
        tag = repo.create(conn, auth.user_id, value, _color(dto.get("color")), parent["id"] if parent else None)
    return map_tag(tag)


def update(ctx: Ctx, auth: AuthContext, tag_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "tag.update", [tag_id])
        if "color" in dto:
            repo.update_color(conn, tag_id, _color(dto["color"]))
        tag = repo.get(conn, tag_id)
    assert tag is not None
    return map_tag(tag)


def upsert_tags(conn: Any, user_id: str, values: list[str]) -> list[dict[str, Any]]:
    """Upstream utils/tag upsertTags: every level of each path, returning the leaves."""
    results = []
    for value in dict.fromkeys(values):
        parent: dict[str, Any] | None = None
        for part in (p for p in value.split("/") if p):
            path = f"{parent['value']}/{part}" if parent else part
            parent = repo.upsert_path_value(conn, user_id, path, parent["id"] if parent else None)
        if parent is not None:
            results.append(parent)
    return results


def upsert(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        tags = upsert_tags(conn, auth.user_id, dto["tags"])
    return [map_tag(t) for t in tags]


def delete(ctx: Ctx, auth: AuthContext, tag_id: str) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "tag.delete", [tag_id])
        repo.delete(conn, tag_id)


def sync_exif_tags(conn: Any, asset_id: str) -> None:
    """Upstream updateTags: exif.tags mirrors the asset's tag values, 'tags' becomes a locked property, and the
    sidecar is written."""
    row = asset_repo.get_exif(conn, asset_id) or {}
    locked = set(json.loads(row.get("locked_properties") or "[]")) | {"tags"}
    asset_repo.upsert_exif(conn, asset_id, tags=json.dumps(repo.values_for_asset(conn, asset_id)),
                           locked_properties=json.dumps(sorted(locked)))
    sidecar.queue_write(conn, asset_id)  # upstream AssetTag / AssetUntag events


def bulk_tag_assets(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, int]:
    with ctx.db.write() as conn:
        allowed_tags = check_access(conn, auth, "tag.asset", dto["tagIds"])
        tag_ids = [t for t in dict.fromkeys(dto["tagIds"]) if t in allowed_tags]
        allowed = check_access(conn, auth, "asset.update", dto["assetIds"])
        asset_ids = [a for a in dict.fromkeys(dto["assetIds"]) if a in allowed]
        count, changed = 0, []
        for tag_id in tag_ids:
            for asset_id in asset_ids:
                if repo.add_asset(conn, tag_id, asset_id):
                    count += 1
                    changed.append(asset_id)
        changed = list(dict.fromkeys(changed))
        for asset_id in changed:
            sync_exif_tags(conn, asset_id)
    return {"count": count}


def add_assets(ctx: Ctx, auth: AuthContext, tag_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "tag.asset", [tag_id])
        existing = repo.asset_ids_in(conn, tag_id, list(dto["ids"]))
        allowed = check_access(conn, auth, "asset.share", [a for a in dto["ids"] if a not in existing])
        results, added = plan_add(list(dto["ids"]), existing, allowed)
        for asset_id in added:
            repo.add_asset(conn, tag_id, asset_id)
            sync_exif_tags(conn, asset_id)
    return results


def remove_assets(ctx: Ctx, auth: AuthContext, tag_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "tag.asset", [tag_id])
        always = tag_id in check_access(conn, auth, "tag.delete", [tag_id])
        existing = repo.asset_ids_in(conn, tag_id, list(dto["ids"]))
        allowed = existing if always else check_access(conn, auth, "asset.share", existing)
        results, removed = plan_remove(list(dto["ids"]), existing, allowed)
        for asset_id in removed:
            repo.remove_asset(conn, tag_id, asset_id)
            sync_exif_tags(conn, asset_id)
    return results
