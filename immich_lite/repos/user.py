"""SQL for the user table and its metadata rows."""
from __future__ import annotations

import json
from typing import Any

from immich_lite import ids

Row = dict[str, Any]


def get(conn: Any, user_id: str, with_deleted: bool = False) -> Row | None:
    sql = 'SELECT * FROM "user" WHERE id = ?' + ("" if with_deleted else " AND deleted_at IS NULL")
    return conn.execute(sql, (user_id,)).fetchone()


def get_by_email(conn: Any, email: str, with_deleted: bool = False) -> Row | None:
    sql = 'SELECT * FROM "user" WHERE email = ?' + ("" if with_deleted else " AND deleted_at IS NULL")
    return conn.execute(sql, (email.lower(),)).fetchone()


def get_admin(conn: Any) -> Row | None:
    return conn.execute('SELECT * FROM "user" WHERE is_admin = 1 AND deleted_at IS NULL LIMIT 1').fetchone()


def has_admin(conn: Any) -> bool:
    return conn.execute('SELECT 1 FROM "user" WHERE is_admin = 1 LIMIT 1').fetchone() is not None


def list_all(conn: Any, with_deleted: bool = False, user_id: str | None = None) -> list[Row]:
    sql = 'SELECT * FROM "user" WHERE 1=1'
    args: list[Any] = []
    if not with_deleted:
        sql += " AND deleted_at IS NULL"
    if user_id:
        sql += " AND id = ?"
        args.append(user_id)
    return list(conn.execute(sql + " ORDER BY created_at", args))


def insert(conn: Any, **values: Any) -> Row:
    now = ids.now_iso()
    row = {"id": ids.new_id(), "created_at": now, "updated_at": now, "profile_changed_at": now, **values}
    cols = ", ".join(f'"{k}"' for k in row)
    conn.execute(f'INSERT INTO "user" ({cols}) VALUES ({", ".join("?" * len(row))})', list(row.values()))
    return get(conn, row["id"], with_deleted=True)  # type: ignore[return-value]


def update(conn: Any, user_id: str, **values: Any) -> Row:
    values.setdefault("updated_at", ids.now_iso())
    sets = ", ".join(f'"{k}" = ?' for k in values)
    conn.execute(f'UPDATE "user" SET {sets} WHERE id = ?', [*values.values(), user_id])
    return get(conn, user_id, with_deleted=True)  # type: ignore[return-value]


def delete(conn: Any, user_id: str) -> None:
    conn.execute('DELETE FROM "user" WHERE id = ?', (user_id,))


def get_metadata(conn: Any, user_id: str, key: str) -> Any:
    row = conn.execute("SELECT value FROM user_metadata WHERE user_id = ? AND key = ?", (user_id, key)).fetchone()
    return json.loads(row["value"]) if row else None


def set_metadata(conn: Any, user_id: str, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO user_metadata (user_id, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
        (user_id, key, json.dumps(value)))


def delete_metadata(conn: Any, user_id: str, key: str) -> None:
    conn.execute("DELETE FROM user_metadata WHERE user_id = ? AND key = ?", (user_id, key))
