"""SQL for tags (hierarchical values 'a/b/c', one row per level) and their assets."""
from __future__ import annotations

from typing import Any

from immich_lite import ids

Row = dict[str, Any]


def get_by_value(conn: Any, user_id: str, value: str) -> Row | None:
    return conn.execute("SELECT * FROM tag WHERE user_id = ? AND value = ?", (user_id, value)).fetchone()


def upsert_value(conn: Any, user_id: str, value: str) -> Row:
    """Create the tag and every missing parent of a hierarchical value; returns the leaf."""
    parent_id = None
    row: Row | None = None
    parts = [p for p in value.split("/") if p.strip()]
    for i in range(len(parts)):
        path = "/".join(parts[: i + 1])
        row = get_by_value(conn, user_id, path)
        if row is None:
            now = ids.now_iso()
            tid = ids.new_id()
            conn.execute("INSERT INTO tag (id, user_id, value, parent_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (tid, user_id, path, parent_id, now, now))
            row = get_by_value(conn, user_id, path)
        assert row is not None
        parent_id = row["id"]
    assert row is not None
    return row


def tag_asset_with_values(conn: Any, user_id: str, asset_id: str, values: list[str]) -> None:
    for value in values:
        if not value.strip("/ "):
            continue
        tag = upsert_value(conn, user_id, value)
        conn.execute("INSERT OR IGNORE INTO tag_asset (tag_id, asset_id) VALUES (?, ?)", (tag["id"], asset_id))
