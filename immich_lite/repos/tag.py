"""SQL for tags (hierarchical values 'a/b/c', one row per level) and their assets."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.repos import chunked, marks

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


# --- tag service queries (TagRepository) -----------------------------------------------------------

def get(conn: Any, tag_id: str) -> Row | None:
    return conn.execute("SELECT * FROM tag WHERE id = ?", (tag_id,)).fetchone()


def get_all(conn: Any, user_id: str) -> list[Row]:
    return list(conn.execute("SELECT * FROM tag WHERE user_id = ? ORDER BY value", (user_id,)))


def create(conn: Any, user_id: str, value: str, color: str | None, parent_id: str | None) -> Row:
    now = ids.now_iso()
    tid = ids.new_id()
    conn.execute("INSERT INTO tag (id, user_id, value, color, parent_id, created_at, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (tid, user_id, value, color, parent_id, now, now))
    return get(conn, tid)  # type: ignore[return-value]


def update_color(conn: Any, tag_id: str, color: str | None) -> None:
    conn.execute("UPDATE tag SET color = ?, updated_at = ? WHERE id = ?", (color, ids.now_iso(), tag_id))


def delete(conn: Any, tag_id: str) -> None:
    """Children go with it (parent_id ON DELETE CASCADE), and their tag_asset rows too."""
    conn.execute("DELETE FROM tag WHERE id = ?", (tag_id,))


def upsert_path_value(conn: Any, user_id: str, value: str, parent_id: str | None) -> Row:
    """Upstream upsertValue: insert, or on (user, value) conflict re-point the parent."""
    now = ids.now_iso()
    conn.execute("INSERT INTO tag (id, user_id, value, parent_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (user_id, value) DO UPDATE SET parent_id = excluded.parent_id "
                 "WHERE tag.parent_id IS NOT excluded.parent_id", (ids.new_id(), user_id, value, parent_id, now, now))
    return get_by_value(conn, user_id, value)  # type: ignore[return-value]


def asset_ids_in(conn: Any, tag_id: str, asset_ids: list[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunked(asset_ids):
        out |= {r["asset_id"] for r in conn.execute(
            f"SELECT asset_id FROM tag_asset WHERE tag_id = ? AND asset_id IN ({marks(chunk)})",
            [tag_id, *chunk])}
    return out


def add_asset(conn: Any, tag_id: str, asset_id: str) -> bool:
    """True when a new (tag, asset) row was written."""
    conn.execute("INSERT OR IGNORE INTO tag_asset (tag_id, asset_id) VALUES (?, ?)", (tag_id, asset_id))
    return conn.changes() > 0


def remove_asset(conn: Any, tag_id: str, asset_id: str) -> None:
    conn.execute("DELETE FROM tag_asset WHERE tag_id = ? AND asset_id = ?", (tag_id, asset_id))


def values_for_asset(conn: Any, asset_id: str) -> list[str]:
    return [r["value"] for r in conn.execute(
        "SELECT t.value FROM tag t JOIN tag_asset ta ON ta.tag_id = t.id WHERE ta.asset_id = ? ORDER BY t.value",
        (asset_id,))]
