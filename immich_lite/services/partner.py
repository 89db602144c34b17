"""Partners (upstream PartnerService): share my whole library with another user; they choose inTimeline."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user
from immich_lite.errors import BadRequest
from immich_lite.repos import user as user_repo


def _row(conn: Any, shared_by: str, shared_with: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM partner WHERE shared_by_id = ? AND shared_with_id = ?",
                        (shared_by, shared_with)).fetchone()


def _map(conn: Any, row: dict[str, Any], other_id: str) -> dict[str, Any]:
    other = user_repo.get(conn, other_id, with_deleted=True)
    assert other is not None
    return {**map_user(other), "inTimeline": bool(row["in_timeline"])}


def create(ctx: Ctx, auth: AuthContext, shared_with_id: str) -> dict[str, Any]:
    with ctx.db.write() as conn:
        if _row(conn, auth.user_id, shared_with_id):
            raise BadRequest("Partner already exists")
        if shared_with_id == auth.user_id or user_repo.get(conn, shared_with_id) is None:
            raise BadRequest("Invalid user")
        now = ids.now_iso()
        conn.execute("INSERT INTO partner (shared_by_id, shared_with_id, in_timeline, created_at, updated_at) "
                     "VALUES (?, ?, 0, ?, ?)", (auth.user_id, shared_with_id, now, now))
        return _map(conn, _row(conn, auth.user_id, shared_with_id), shared_with_id)  # type: ignore[arg-type]


def remove(ctx: Ctx, auth: AuthContext, shared_with_id: str) -> None:
    with ctx.db.write() as conn:
        if not _row(conn, auth.user_id, shared_with_id):
            raise BadRequest("Partner not found")
        conn.execute("DELETE FROM partner WHERE shared_by_id = ? AND shared_with_id = ?", (auth.user_id, shared_with_id))


def search(ctx: Ctx, auth: AuthContext, direction: str) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    mine, other = ("shared_by_id", "shared_with_id") if direction == "shared-by" else ("shared_with_id", "shared_by_id")
    rows = conn.execute(f"SELECT p.* FROM partner p JOIN \"user\" a ON a.id = p.shared_by_id AND a.deleted_at IS NULL "
                        f"JOIN \"user\" b ON b.id = p.shared_with_id AND b.deleted_at IS NULL WHERE p.{mine} = ? "
                        "ORDER BY p.created_at", (auth.user_id,))
    return [_map(conn, r, r[other]) for r in rows]


def update(ctx: Ctx, auth: AuthContext, shared_by_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "partner.update", [shared_by_id])
        conn.execute("UPDATE partner SET in_timeline = ?, updated_at = ? WHERE shared_by_id = ? AND shared_with_id = ?",
                     (int(dto["inTimeline"]), ids.now_iso(), shared_by_id, auth.user_id))
        return _map(conn, _row(conn, shared_by_id, auth.user_id), shared_by_id)  # type: ignore[arg-type]
