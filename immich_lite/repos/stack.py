"""SQL for stacks (upstream StackRepository): a primary asset plus the assets pointing at the stack."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.repos import marks

Row = dict[str, Any]

_VISIBLE = "deleted_at IS NULL AND visibility IN ('archive', 'timeline')"  # upstream withDefaultVisibility


def get(conn: Any, stack_id: str) -> Row | None:
    return conn.execute("SELECT * FROM stack WHERE id = ?", (stack_id,)).fetchone()


def search(conn: Any, owner_id: str, primary_asset_id: str | None = None) -> list[Row]:
    sql, args = "SELECT * FROM stack WHERE owner_id = ?", [owner_id]
    if primary_asset_id:
        sql += " AND primary_asset_id = ?"
        args.append(primary_asset_id)
    return list(conn.execute(sql + " ORDER BY created_at, id", args))


def assets(conn: Any, stack_id: str) -> list[Row]:
    return list(conn.execute(f"SELECT * FROM asset WHERE stack_id = ? AND {_VISIBLE} ORDER BY created_at, id",
                             (stack_id,)))


def create(conn: Any, owner_id: str, asset_ids: list[str]) -> str:
    """New stack with asset_ids[0] as primary; stacks whose primary is among asset_ids are merged into it."""
    m = marks(asset_ids)
    merged = [r["id"] for r in conn.execute(
        f"SELECT id FROM stack WHERE owner_id = ? AND primary_asset_id IN ({m})", [owner_id, *asset_ids])]
    unique = list(dict.fromkeys(asset_ids))
    for sid in merged:
        unique.extend(r["id"] for r in conn.execute(
            "SELECT id FROM asset WHERE stack_id = ? AND deleted_at IS NULL", (sid,)) if r["id"] not in unique)
    delete_many(conn, merged)
    now = ids.now_iso()
    stack_id = ids.new_id()
    conn.execute("INSERT INTO stack (id, owner_id, primary_asset_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                 (stack_id, owner_id, asset_ids[0], now, now))
    conn.execute(f"UPDATE asset SET stack_id = ?, updated_at = ? WHERE id IN ({marks(unique)})",
                 [stack_id, now, *unique])
    return stack_id


def set_primary(conn: Any, stack_id: str, primary_asset_id: str) -> None:
    conn.execute("UPDATE stack SET primary_asset_id = ?, updated_at = ? WHERE id = ?",
                 (primary_asset_id, ids.now_iso(), stack_id))


def delete_many(conn: Any, stack_ids: list[str]) -> None:
    """Unstack the assets (touching them, so sync sees it) and drop the stacks (stack_audit via trigger)."""
    if not stack_ids:
        return
    m = marks(stack_ids)
    conn.execute(f"UPDATE asset SET stack_id = NULL, updated_at = ? WHERE stack_id IN ({m})",
                 [ids.now_iso(), *stack_ids])
    conn.execute(f"DELETE FROM stack WHERE id IN ({m})", stack_ids)


def for_asset_removal(conn: Any, asset_id: str) -> Row | None:
    return conn.execute("SELECT a.stack_id AS id, s.primary_asset_id FROM asset a LEFT JOIN stack s "
                        "ON s.id = a.stack_id WHERE a.id = ?", (asset_id,)).fetchone()
