"""SQL for explore, cities, suggestions and people search (upstream asset.repository getAssetIdByCity /
getRecentlyCreatedAssetIds, search.repository getAssetsByCity / getExifField, person.repository getByName).

With `keys`, a function only looks at those asset rowids (the index's candidates and the assets with pending
changes); without, it scans (no index yet).
"""
from __future__ import annotations

from array import array
from typing import Any

import apsw

from immich_lite.repos import marks
from immich_lite.search.text import sort_key

_LIVE = "a.deleted_at IS NULL AND a.status != 'deleted'"
# explore and the Places page: timeline photos with a city
_CITY_IMAGES = (f"FROM asset a JOIN asset_exif e ON e.asset_id = a.id WHERE a.owner_id IN ({{owners}}) AND {_LIVE} "
                "AND a.visibility = 'timeline' AND a.type = 'IMAGE' AND e.city IS NOT NULL AND e.city != ''")
SUGGESTION_COLUMNS = {"country": "country", "state": "state", "city": "city", "make": "make", "model": "model",
                      "lens": "lens_model", "lensModel": "lens_model"}


def _rows(conn: Any, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.row_trace = None
    return cur.execute(sql, args).fetchall()  # type: ignore[no-any-return]


def _among(keys: list[int] | None) -> tuple[str, list[Any]]:
    if keys is None:
        return "", []
    if not keys:
        return " AND 0", []
    return " AND a.rowid IN carray(?)", [apsw.carray(array("q", keys))]


def city_counts(conn: Any, owner_ids: list[str], keys: list[int]) -> dict[str, int]:
    if not keys:
        return {}
    among, extra = _among(keys)
    sql = f"SELECT e.city, count(*) {_CITY_IMAGES.format(owners=marks(owner_ids))}{among} GROUP BY e.city"
    return dict(_rows(conn, sql, [*owner_ids, *extra]))  # type: ignore[arg-type]


def newest_per_city(conn: Any, owner_ids: list[str], keys: list[int] | None) -> dict[str, str]:
    """{city: id of its newest timeline photo} among `keys` (all assets when None)."""
    among, extra = _among(keys)
    sql = (f"SELECT city, id FROM (SELECT e.city AS city, a.id AS id, row_number() OVER (PARTITION BY e.city "
           f"ORDER BY a.file_created_at DESC, a.id DESC) AS n {_CITY_IMAGES.format(owners=marks(owner_ids))}{among}) "
           "WHERE n = 1")
    return dict(_rows(conn, sql, [*owner_ids, *extra]))  # type: ignore[arg-type]


def city_assets_sql(conn: Any, owner_ids: list[str], min_count: int) -> list[tuple[str, str]]:
    counts = dict(_rows(conn, f"SELECT e.city, count(*) {_CITY_IMAGES.format(owners=marks(owner_ids))} "
                              "GROUP BY e.city HAVING count(*) >= ?", [*owner_ids, min_count]))
    newest = newest_per_city(conn, owner_ids, None)
    return [(c, newest[c]) for c in sorted(counts, key=sort_key) if c in newest]


_RECENT = (f"SELECT a.id, a.created_at FROM asset a WHERE a.owner_id = ? AND {_LIVE} AND a.visibility = 'timeline' "
           "AND a.type = 'IMAGE'")


def recent_sql(conn: Any, owner_id: str, n: int) -> list[tuple[str, str]]:
    return _rows(conn, f"{_RECENT} ORDER BY a.created_at DESC LIMIT ?", [owner_id, n])  # type: ignore[return-value]


def recent_among(conn: Any, owner_id: str, keys: list[int], n: int) -> list[tuple[str, str]]:
    among, extra = _among(keys)
    return _rows(conn, f"{_RECENT}{among} ORDER BY a.created_at DESC LIMIT ?",  # type: ignore[return-value]
                 [owner_id, *extra, n])


def distinct_sql(conn: Any, owner_ids: list[str], field: str, given: dict[str, str],
                 keys: list[int] | None = None) -> list[str]:
    """Distinct non-empty values of an exif column over the owners' timeline assets, narrowed by `given`."""
    if keys is not None and not keys:
        return []
    column = SUGGESTION_COLUMNS[field]
    among, extra = _among(keys)
    narrow = "".join(f" AND e.{SUGGESTION_COLUMNS[k]} = ?" for k in given)
    sql = (f"SELECT DISTINCT e.{column} FROM asset a JOIN asset_exif e ON e.asset_id = a.id "
           f"WHERE a.owner_id IN ({marks(owner_ids)}) AND {_LIVE} AND a.visibility = 'timeline' "
           f"AND e.{column} IS NOT NULL AND e.{column} != ''{narrow}{among}")
    return [r[0] for r in _rows(conn, sql, [*owner_ids, *given.values(), *extra])]


def people_of(conn: Any, user_id: str, *, with_hidden: bool) -> list[dict[str, Any]]:
    hidden = "" if with_hidden else " AND is_hidden = 0"
    return list(conn.execute(f"SELECT * FROM person WHERE owner_id = ? AND name != ''{hidden}", (user_id,)))
