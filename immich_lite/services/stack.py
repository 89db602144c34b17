"""Stacks (upstream StackService): group assets under a primary one."""
from __future__ import annotations

from typing import Any

from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.repos import asset as asset_repo
from immich_lite.repos import stack as repo
from immich_lite.services.asset import load_response


def _changed(ctx: Ctx, auth: AuthContext) -> None:
    if ctx.events:
        ctx.events.emit("on_asset_stack_update", auth.user_id, None)


def map_stack(ctx: Ctx, conn: Any, stack: dict[str, Any], auth: AuthContext) -> dict[str, Any]:
    members = repo.assets(conn, stack["id"])
    ordered = ([a for a in members if a["id"] == stack["primary_asset_id"]]
               + [a for a in members if a["id"] != stack["primary_asset_id"]])
    return {"id": stack["id"], "primaryAssetId": stack["primary_asset_id"],
            "assets": [load_response(ctx, conn, a, auth) for a in ordered]}


def search(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    return [map_stack(ctx, conn, s, auth) for s in repo.search(conn, auth.user_id, query.get("primaryAssetId"))]


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    asset_ids = dto["assetIds"]
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", asset_ids)
        stack_id = repo.create(conn, auth.user_id, asset_ids)
        out = map_stack(ctx, conn, repo.get(conn, stack_id), auth)  # type: ignore[arg-type]
    _changed(ctx, auth)
    return out


def get(ctx: Ctx, auth: AuthContext, stack_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "stack.read", [stack_id])
    stack = repo.get(conn, stack_id)
    if stack is None:
        raise BadRequest("Asset stack not found")
    return map_stack(ctx, conn, stack, auth)


def update(ctx: Ctx, auth: AuthContext, stack_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "stack.update", [stack_id])
        stack = repo.get(conn, stack_id)
        if stack is None:
            raise BadRequest("Asset stack not found")
        primary = dto.get("primaryAssetId")
        if primary and all(a["id"] != primary for a in repo.assets(conn, stack_id)):
            raise BadRequest("Primary asset must be in the stack")
        if primary:
            repo.set_primary(conn, stack_id, primary)
        out = map_stack(ctx, conn, repo.get(conn, stack_id), auth)  # type: ignore[arg-type]
    _changed(ctx, auth)
    return out


def delete(ctx: Ctx, auth: AuthContext, stack_id: str) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "stack.delete", [stack_id])
        repo.delete_many(conn, [stack_id])
    _changed(ctx, auth)


def delete_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    stack_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        require_access(conn, auth, "stack.delete", stack_ids)
        repo.delete_many(conn, stack_ids)
    _changed(ctx, auth)


def remove_asset(ctx: Ctx, auth: AuthContext, stack_id: str, asset_id: str) -> None:
    """Upstream leaves the stack in place even when one asset remains; the primary cannot be removed."""
    with ctx.db.write() as conn:
        require_access(conn, auth, "stack.update", [stack_id])
        row = repo.for_asset_removal(conn, asset_id)
        if not row or row["id"] != stack_id:
            raise BadRequest("Asset not in stack")
        if row["primary_asset_id"] == asset_id:
            raise BadRequest("Cannot remove stack's primary asset")
        asset_repo.update(conn, asset_id, stack_id=None)
    _changed(ctx, auth)
