"""SQL for notifications (upstream notification.repository.ts and NotificationAccess)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from immich_lite import ids
from immich_lite.repos import marks

Row = dict[str, Any]


def search(conn: Any, user_id: str, *, id: str | None = None, level: str | None = None,  # noqa: A002
           type: str | None = None, unread: bool = False) -> list[Row]:  # noqa: A002
    sql = "SELECT * FROM notification WHERE user_id = ? AND deleted_at IS NULL"
    args: list[Any] = [user_id]
    for column, value in (("id", id), ("level", level), ("type", type)):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    if unread:  # Immich: unread=false does not filter at all
        sql += " AND read_at IS NULL"
    return list(conn.execute(sql + " ORDER BY created_at DESC, rowid DESC", args))


def create(conn: Any, *, user_id: str, level: str, type: str, title: str,  # noqa: A002
           description: str | None = None, data: Any = None) -> Row:
    now = ids.now_iso()
    nid = ids.new_id()
    conn.execute(
        "INSERT INTO notification (id, user_id, level, type, title, description, data, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (nid, user_id, level, type, title, description, None if data is None else json.dumps(data), now, now))
    return get(conn, nid)  # type: ignore[return-value]


def get(conn: Any, notification_id: str) -> Row | None:
    return conn.execute("SELECT * FROM notification WHERE id = ? AND deleted_at IS NULL",
                        (notification_id,)).fetchone()


def owned_ids(conn: Any, user_id: str, notification_ids: Iterable[str]) -> set[str]:
    """Immich: NotificationAccess.checkOwnerAccess (deleted rows still count as owned)."""
    wanted = list(set(notification_ids))
    if not wanted:
        return set()
    rows = conn.execute(f"SELECT id FROM notification WHERE user_id = ? AND id IN ({marks(wanted)})",
                        [user_id, *wanted])
    return {r["id"] for r in rows}


def set_read_at(conn: Any, notification_ids: list[str], read_at: str | None, *, only_live: bool = False) -> None:
    sql = f"UPDATE notification SET read_at = ?, updated_at = ? WHERE id IN ({marks(notification_ids)})"
    if only_live:
        sql += " AND deleted_at IS NULL"
    conn.execute(sql, [read_at, ids.now_iso(), *notification_ids])


def soft_delete(conn: Any, notification_ids: list[str]) -> None:
    now = ids.now_iso()
    conn.execute(f"UPDATE notification SET deleted_at = ?, updated_at = ? WHERE id IN ({marks(notification_ids)})",
                 [now, now, *notification_ids])


def cleanup(conn: Any, *, deleted_before: str, read_before: str, created_before: str,
            unread_created_before: str) -> None:
    """Immich: NotificationRepository.cleanup: old soft-deleted rows, old read rows, very old unread rows."""
    conn.execute(
        "DELETE FROM notification WHERE (deleted_at IS NOT NULL AND deleted_at < ?)"
        " OR (read_at IS NOT NULL AND read_at < ? AND created_at < ?)"
        " OR (read_at IS NULL AND created_at < ?)",
        (deleted_before, read_before, created_before, unread_created_before))
