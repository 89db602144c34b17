"""SQL for API keys."""
from __future__ import annotations

import json
from typing import Any

from immich_lite import ids

Row = dict[str, Any]


def insert(conn: Any, *, user_id: str, name: str, key_hash: bytes, permissions: list[str]) -> Row:
    now = ids.now_iso()
    kid = ids.new_id()
    conn.execute("INSERT INTO api_key (id, name, key, user_id, permissions, created_at, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (kid, name, key_hash, user_id, json.dumps(permissions), now, now))
    return get(conn, user_id, kid)  # type: ignore[return-value]


def get(conn: Any, user_id: str, key_id: str) -> Row | None:
    return conn.execute("SELECT * FROM api_key WHERE id = ? AND user_id = ?", (key_id, user_id)).fetchone()


def list_by_user(conn: Any, user_id: str) -> list[Row]:
    return list(conn.execute("SELECT * FROM api_key WHERE user_id = ? ORDER BY created_at DESC", (user_id,)))


def update(conn: Any, key_id: str, **values: Any) -> None:
    if "permissions" in values:
        values["permissions"] = json.dumps(values["permissions"])
    values["updated_at"] = ids.now_iso()
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE api_key SET {sets} WHERE id = ?", [*values.values(), key_id])


def delete(conn: Any, key_id: str) -> None:
    conn.execute("DELETE FROM api_key WHERE id = ?", (key_id,))
