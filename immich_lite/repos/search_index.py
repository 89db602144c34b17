"""SQL that feeds the search index: the rows an asset's document is made of, and the `search_dirty` change log."""
from __future__ import annotations

from typing import Any

from immich_lite.repos import marks

# One row per asset with everything its document holds (char(31) separates list items).
_DOCS = """
SELECT a.rowid AS key, a.id, a.owner_id, a.visibility, a.type,
       (a.deleted_at IS NULL AND a.status != 'deleted') AS live,
       CAST(round(unixepoch(a.file_created_at, 'subsec') * 1000000) AS INTEGER) AS taken,
       CAST(round(unixepoch(a.created_at, 'subsec') * 1000000) AS INTEGER) AS created,
       a.original_file_name, e.description, e.city, e.state, e.country, e.make, e.model, e.lens_model,
       (SELECT group_concat(t.value, char(31)) FROM tag_asset ta JOIN tag t ON t.id = ta.tag_id
         WHERE ta.asset_id = a.id) AS tags,
       (SELECT group_concat(p.name, char(31)) FROM asset_face af JOIN person p ON p.id = af.person_id
         WHERE af.asset_id = a.id AND af.deleted_at IS NULL AND af.is_visible = 1 AND p.name != '') AS people,
       (SELECT group_concat(al.album_name, char(31)) FROM album_asset aa JOIN album al ON al.id = aa.album_id
         WHERE aa.asset_id = a.id AND al.deleted_at IS NULL) AS albums,
       (SELECT o.text FROM ocr_search o WHERE o.asset_id = a.id) AS ocr
  FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id
"""


def docs_for(conn: Any, asset_ids: list[str]) -> list[dict[str, Any]]:
    """Source rows of these assets (the ones that no longer exist are simply absent)."""
    if not asset_ids:
        return []
    return list(conn.execute(f"{_DOCS} WHERE a.id IN ({marks(asset_ids)})", asset_ids))


def docs_after(conn: Any, key: int, limit: int) -> list[dict[str, Any]]:
    """The next `limit` assets by rowid after `key` (a full rebuild walks the table with this)."""
    return list(conn.execute(f"{_DOCS} WHERE a.rowid > ? ORDER BY a.rowid LIMIT ?", (key, limit)))


def dirty_batch(conn: Any, limit: int) -> list[dict[str, Any]]:
    return list(conn.execute("SELECT id, asset_id FROM search_dirty ORDER BY id LIMIT ?", (limit,)))


def dirty_watermark(conn: Any) -> int:
    return int(conn.execute("SELECT ifnull(max(id), 0) AS n FROM search_dirty").fetchone()["n"])


def forget_dirty(conn: Any, upto: int) -> None:
    conn.execute("DELETE FROM search_dirty WHERE id <= ?", (upto,))


def dirty_count(conn: Any, cap: int) -> int:
    """Pending changes, counted up to `cap` + 1 (enough to tell "too many")."""
    return int(conn.execute("SELECT count(*) AS n FROM (SELECT 1 FROM search_dirty LIMIT ?)", (cap + 1,))
               .fetchone()["n"])


def dirty_keys(conn: Any) -> list[int]:
    """Rowids of the existing assets with pending changes."""
    cur = conn.cursor()
    cur.row_trace = None
    # driven by the (small) change log: one primary-key probe of asset per pending id
    return [r[0] for r in cur.execute(
        "SELECT a.rowid FROM asset a WHERE a.id IN (SELECT asset_id FROM search_dirty)")]

