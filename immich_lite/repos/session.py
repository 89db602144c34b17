"""SQL for sessions."""
from __future__ import annotations

from typing import Any

from immich_lite import ids

Row = dict[str, Any]


def insert(conn: Any, *, user_id: str, token_hash: bytes, device_type: str = "", device_os: str = "",
           app_version: str | None = None, parent_id: str | None = None, expires_at: str | None = None) -> Row:
    now = ids.now_iso()
    sid = ids.new_id()
    conn.execute(
        "INSERT INTO session (id, token, user_id, parent_id, device_type, device_os, app_version, created_at, "
        "updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, token_hash, user_id, parent_id, device_type, device_os, app_version, now, now, expires_at))
    return get(conn, sid)  # type: ignore[return-value]


def get(conn: Any, session_id: str) -> Row | None:
    return conn.execute("SELECT * FROM session WHERE id = ?", (session_id,)).fetchone()


def list_by_user(conn: Any, user_id: str) -> list[Row]:
    now = ids.now_iso()
    return list(conn.execute(
        "SELECT * FROM session WHERE user_id = ? AND (expires_at IS NULL OR expires_at > ?) "
        "ORDER BY updated_at DESC", (user_id, now)))


def update(conn: Any, session_id: str, **values: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE session SET {sets} WHERE id = ?", [*values.values(), session_id])


def delete(conn: Any, session_id: str) -> None:
    conn.execute("DELETE FROM session WHERE id = ?", (session_id,))


def delete_all_for_user(conn: Any, user_id: str, except_id: str | None = None) -> list[str]:
    rows = conn.execute("SELECT id FROM session WHERE user_id = ? AND id IS NOT ?", (user_id, except_id)).fetchall()
    conn.execute("DELETE FROM session WHERE user_id = ? AND id IS NOT ?", (user_id, except_id))
    return [r["id"] for r in rows]


def delete_expired(conn: Any) -> int:
    conn.execute("DELETE FROM session WHERE expires_at IS NOT NULL AND expires_at <= ?", (ids.now_iso(),))
    return int(conn.changes())
