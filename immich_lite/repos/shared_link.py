"""SQL for shared links (shared_link) and the assets of individual links (shared_link_asset)."""
from __future__ import annotations

from typing import Any, Iterable

from immich_lite import ids
from immich_lite.repos import marks

Row = dict[str, Any]

# a link is listed/loaded when it is INDIVIDUAL or its album still exists (upstream repository get/getAll)
_LIVE = ("(l.type = 'INDIVIDUAL' OR EXISTS (SELECT 1 FROM album al WHERE al.id = l.album_id "
         "AND al.deleted_at IS NULL))")


def get(conn: Any, user_id: str, link_id: str) -> Row | None:
    return conn.execute(f"SELECT l.* FROM shared_link l WHERE l.id = ? AND l.user_id = ? AND {_LIVE}",
                        (link_id, user_id)).fetchone()


def get_all(conn: Any, user_id: str, *, link_id: str | None = None, album_id: str | None = None) -> list[Row]:
    sql, args = f"SELECT l.* FROM shared_link l WHERE l.user_id = ? AND {_LIVE}", [user_id]
    if link_id:
        sql, args = sql + " AND l.id = ?", [*args, link_id]
    if album_id:
        sql, args = sql + " AND l.album_id = ?", [*args, album_id]
    return list(conn.execute(sql + " ORDER BY l.created_at DESC, l.id DESC", args))


def find_by_key(conn: Any, key: bytes) -> Row | None:
    return conn.execute("SELECT * FROM shared_link WHERE key = ?", (key,)).fetchone()


def find_by_slug(conn: Any, slug: str) -> Row | None:
    return conn.execute("SELECT * FROM shared_link WHERE slug = ?", (slug,)).fetchone()


def insert(conn: Any, **values: Any) -> str:
    link_id = ids.new_id()
    values = {"id": link_id, "created_at": ids.now_iso(), **values}
    cols = ", ".join(values)
    conn.execute(f"INSERT INTO shared_link ({cols}) VALUES ({marks(list(values))})", list(values.values()))
    return link_id


def update(conn: Any, link_id: str, **values: Any) -> None:
    if not values:
        return
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE shared_link SET {sets} WHERE id = ?", [*values.values(), link_id])


def delete(conn: Any, link_id: str) -> None:
    conn.execute("DELETE FROM shared_link WHERE id = ?", (link_id,))


def assets(conn: Any, link_id: str, limit: int | None = None) -> list[Row]:
    """The link's own assets (individual links), oldest first; trashed and locked ones never show."""
    sql = ("SELECT a.* FROM shared_link_asset sa JOIN asset a ON a.id = sa.asset_id WHERE sa.shared_link_id = ? "
           "AND a.deleted_at IS NULL AND a.visibility != 'locked' ORDER BY a.file_created_at, a.id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(conn.execute(sql, (link_id,)))


def asset_ids(conn: Any, link_id: str) -> set[str]:
    return {r["asset_id"] for r in conn.execute(
        "SELECT asset_id FROM shared_link_asset WHERE shared_link_id = ?", (link_id,))}


def add_assets(conn: Any, link_id: str, asset_ids_: Iterable[str]) -> None:
    for asset_id in asset_ids_:
        conn.execute("INSERT OR IGNORE INTO shared_link_asset (shared_link_id, asset_id) VALUES (?, ?)",
                     (link_id, asset_id))


def remove_assets(conn: Any, link_id: str, asset_ids_: list[str]) -> set[str]:
    if not asset_ids_:
        return set()
    removed = {r["asset_id"] for r in conn.execute(
        f"SELECT asset_id FROM shared_link_asset WHERE shared_link_id = ? AND asset_id IN ({marks(asset_ids_)})",
        [link_id, *asset_ids_])}
    if removed:
        ids_ = sorted(removed)
        conn.execute(f"DELETE FROM shared_link_asset WHERE shared_link_id = ? AND asset_id IN ({marks(ids_)})",
                     [link_id, *ids_])
    return removed


def album_asset_count(conn: Any, album_id: str) -> int:
    row = conn.execute("SELECT count(*) AS n FROM album_asset aa JOIN asset a ON a.id = aa.asset_id "
                       "WHERE aa.album_id = ? AND a.deleted_at IS NULL AND a.visibility != 'locked'",
                       (album_id,)).fetchone()
    return int(row["n"])
