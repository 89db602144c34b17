"""Trash: restore, restore selected, empty (upstream TrashService)."""
from __future__ import annotations

from typing import Any

from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.repos import asset as repo
from immich_lite.services.asset import mark_deleted


def _restore(conn: Any, asset_ids: list[str]) -> None:
    repo.update_many(conn, asset_ids, deleted_at=None, status="active")


def restore(ctx: Ctx, auth: AuthContext) -> dict[str, int]:
    with ctx.db.write() as conn:
        rows = conn.execute("SELECT id FROM asset WHERE owner_id = ? AND status = 'trashed'", (auth.user_id,))
        asset_ids = [r["id"] for r in rows]
        _restore(conn, asset_ids)
    if asset_ids and ctx.events:
        ctx.events.emit("on_asset_restore", auth.user_id, asset_ids)
    return {"count": len(asset_ids)}


def restore_assets(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, int]:
    asset_ids = list(dict.fromkeys(dto["ids"]))
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.delete", asset_ids)
        trashed = [a["id"] for a in repo.get_many(conn, asset_ids) if a["status"] == "trashed"]
        _restore(conn, trashed)
    if trashed and ctx.events:
        ctx.events.emit("on_asset_restore", auth.user_id, trashed)
    return {"count": len(trashed)}


def empty(ctx: Ctx, auth: AuthContext) -> dict[str, int]:
    with ctx.db.write() as conn:
        rows = conn.execute("SELECT id FROM asset WHERE owner_id = ? AND status = 'trashed'", (auth.user_id,))
        asset_ids = [r["id"] for r in rows]
        mark_deleted(conn, asset_ids)  # each AssetDelete job sends on_asset_delete once the row is gone
    return {"count": len(asset_ids)}


# --- nightly: purge what has been in the trash longer than trash.days (upstream AssetDeleteCheck) ------

def _register() -> None:
    from immich_lite import jobs  # noqa: PLC0415

    @jobs.register(jobs.JobName.ASSET_DELETE_CHECK, jobs.QueueName.BACKGROUND_TASK)
    def delete_check(ctx: Ctx, data: dict[str, Any]) -> Any:
        from datetime import timedelta  # noqa: PLC0415

        from immich_lite import ids  # noqa: PLC0415
        from immich_lite.services.system_config import get_config  # noqa: PLC0415

        trash = get_config(ctx).get("trash", {})
        days = int(trash.get("days", 30)) if trash.get("enabled", True) else 0
        cutoff = ids.iso(ids.utcnow() - timedelta(days=days))
        with ctx.db.write() as conn:
            rows = conn.execute("SELECT id FROM asset WHERE status = 'trashed' AND deleted_at <= ?", (cutoff,))
            mark_deleted(conn, [r["id"] for r in rows])
        return jobs.JobStatus.SUCCESS

    @jobs.register(jobs.JobName.SESSION_CLEANUP, jobs.QueueName.BACKGROUND_TASK)
    def session_cleanup(ctx: Ctx, data: dict[str, Any]) -> Any:
        from immich_lite.repos import session as session_repo  # noqa: PLC0415

        with ctx.db.write() as conn:
            session_repo.delete_expired(conn)
        return jobs.JobStatus.SUCCESS


_register()
