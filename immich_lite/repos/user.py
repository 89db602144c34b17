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
    """Oldest first (admin listings)."""
    return _select(conn, with_deleted, user_id, "created_at")


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


# --- user administration (appended for the Users / Users (admin) endpoints) -------------------

def search(conn: Any, with_deleted: bool = False, user_id: str | None = None) -> list[Row]:
    """Newest first, as upstream UserRepository.getList."""
    return _select(conn, with_deleted, user_id, "created_at DESC, id DESC")


def _select(conn: Any, with_deleted: bool, user_id: str | None, order: str) -> list[Row]:
    sql = 'SELECT * FROM "user" WHERE 1=1'
    args: list[Any] = []
    if not with_deleted:
        sql += " AND deleted_at IS NULL"
    if user_id:
        sql += " AND id = ?"
        args.append(user_id)
    return list(conn.execute(f"{sql} ORDER BY {order}", args))


def get_by_storage_label(conn: Any, label: str) -> Row | None:
    # deleted users too: the unique index covers them, so a clash must be a 400, not a constraint error
    return conn.execute('SELECT * FROM "user" WHERE storage_label = ?', (label,)).fetchone()


def licenses(conn: Any) -> dict[str, Any]:
    rows = conn.execute("SELECT user_id, value FROM user_metadata WHERE key = 'license'")
    return {r["user_id"]: json.loads(r["value"]) for r in rows}


def restore(conn: Any, user_id: str) -> Row:
    conn.execute('UPDATE "user" SET status = \'active\', deleted_at = NULL, updated_at = ? WHERE id = ?',
                 (ids.now_iso(), user_id))
    return get(conn, user_id, with_deleted=True)  # type: ignore[return-value]


def sync_usage(conn: Any, user_id: str | None = None) -> int:
    """quota_usage_in_bytes = size of the user's uploaded originals (upstream UserRepository.syncUsage); every
    user when `user_id` is None. Returns how many users' figure was wrong and is now corrected."""
    usage = ('(SELECT coalesce(sum(e.file_size_in_byte), 0) FROM asset a LEFT JOIN asset_exif e '
             'ON e.asset_id = a.id WHERE a.library_id IS NULL AND a.owner_id = "user".id)')
    where, args = ("AND id = ?", (user_id,)) if user_id is not None else ("", ())
    # only rows whose figure drifted are written: the others keep their update_id (no sync churn)
    rows = conn.execute(f'UPDATE "user" SET quota_usage_in_bytes = {usage} WHERE deleted_at IS NULL {where} '
                        f"AND quota_usage_in_bytes IS NOT {usage} RETURNING id", args).fetchall()
    return len(rows)


def get_deleted_before(conn: Any, before: str) -> list[str]:
    return [r["id"] for r in conn.execute('SELECT id FROM "user" WHERE deleted_at < ?', (before,))]


# Albums follow their owner into and out of the trash (upstream AlbumRepository softDeleteAll/restoreAll).
def soft_delete_albums(conn: Any, owner_id: str) -> None:
    conn.execute("UPDATE album SET deleted_at = ? WHERE owner_id = ?", (ids.now_iso(), owner_id))


def restore_albums(conn: Any, owner_id: str) -> None:
    conn.execute("UPDATE album SET deleted_at = NULL WHERE owner_id = ?", (owner_id,))


# --- the user's assets, counted (statistics and calendar heatmap) ------------------------------

def asset_stats(conn: Any, owner_id: str, *, visibility: str | None = None, is_favorite: bool | None = None,
                is_trashed: bool | None = None) -> dict[str, int]:
    """Counts by type, with upstream AssetRepository.getStatistics filters."""
    sql = ("SELECT count(*) AS total, coalesce(sum(type = 'IMAGE'), 0) AS images, "
           "coalesce(sum(type = 'VIDEO'), 0) AS videos FROM asset WHERE owner_id = ?")
    args: list[Any] = [owner_id]
    if visibility is None:
        sql += " AND visibility IN ('archive', 'timeline')"
    else:
        sql += " AND visibility = ?"
        args.append(visibility)
    if is_favorite is not None:
        sql += " AND is_favorite = ?"
        args.append(int(is_favorite))
    if is_trashed:
        sql += " AND status != 'deleted' AND deleted_at IS NOT NULL"
    else:
        sql += " AND deleted_at IS NULL"
    row = conn.execute(sql, args).fetchone()
    return {"images": row["images"], "videos": row["videos"], "total": row["total"]}


def daily_asset_counts(conn: Any, owner_id: str, column: str, start: str, end: str) -> dict[str, int]:
    """{YYYY-MM-DD: count} of non-deleted assets with start <= column < end (UTC day of the stored value)."""
    assert column in ("created_at", "local_date_time")
    rows = conn.execute(
        f"SELECT substr({column}, 1, 10) AS day, count(*) AS n FROM asset WHERE owner_id = ? "
        f"AND {column} >= ? AND {column} < ? AND deleted_at IS NULL GROUP BY day", (owner_id, start, end))
    return {r["day"]: r["n"] for r in rows}
