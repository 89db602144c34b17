"""SQL for the timeline (upstream asset.repository.ts getTimeBuckets/getTimeBucket) and the map markers
(map.repository.ts getMapMarkers): one query each. A bucket's parallel arrays are built by SQLite itself
(json_group_array, as upstream's to_json(array_agg)); other results come back as plain tuples.

Months are text prefixes: `substr(local_date_time, 1, 7)` is the local wall-clock month (local_date_time is
the wall clock labelled Z), `substr(created_at, 1, 7)` the UTC month of the upload. The partial expression
indexes of migrations/0002_timeline_indexes.sql are written against exactly these expressions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from immich_lite.repos import marks

MONTH = {"takenAt": "substr(a.local_date_time, 1, 7)", "createdAt": "substr(a.created_at, 1, 7)"}


@dataclass
class TimelineFilter:
    """What getTimeBuckets/getTimeBucket filter on, already access-checked by the service."""
    caller_id: str
    user_ids: list[str] | None = None
    album_id: str | None = None
    person_id: str | None = None
    tag_id: str | None = None
    is_favorite: bool | None = None
    is_trashed: bool | None = None
    visibility: str | None = None
    with_stacked: bool = False
    with_coordinates: bool = False
    with_place: bool = True               # city/country (a shared link without showExif hides them)
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    order: str = "desc"
    order_by: str = "takenAt"


def _where(f: TimelineFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if f.is_trashed:
        where.append("a.deleted_at IS NOT NULL AND a.status != 'deleted'")
    else:
        where.append("a.deleted_at IS NULL")  # this literal term selects the partial indexes
    if f.user_ids is not None:
        if len(f.user_ids) == 1:
            where.append("a.owner_id = ?")
        else:
            where.append(f"a.owner_id IN ({marks(f.user_ids)})")
        args.extend(f.user_ids)
    if f.visibility is None:
        where.append("a.visibility IN ('archive', 'timeline')")
        if f.user_ids is not None and any(u != f.caller_id for u in f.user_ids):
            # stricter than upstream: another user's timeline (a partner's) never shows their archive
            where.append("(a.owner_id = ? OR a.visibility = 'timeline')")
            args.append(f.caller_id)
    else:
        where.append("a.visibility = ?")
        args.append(f.visibility)
        if f.visibility == "locked":
            # locked assets are only ever the caller's own (not through albums either; issue #29526)
            where.append("a.owner_id = ?")
            args.append(f.caller_id)
    if f.album_id:
        where.append("a.id IN (SELECT aa.asset_id FROM album_asset aa WHERE aa.album_id = ?)")
        args.append(f.album_id)
    if f.person_id:
        where.append("a.id IN (SELECT af.asset_id FROM asset_face af WHERE af.person_id = ? "
                     "AND af.deleted_at IS NULL AND af.is_visible = 1)")
        args.append(f.person_id)
    if f.tag_id:
        # upstream withTagId: the tag or any descendant (tag_closure); ours walks parent_id
        where.append("a.id IN (SELECT ta.asset_id FROM tag_asset ta WHERE ta.tag_id IN ("
                     "WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT t.id FROM tag t JOIN sub ON t.parent_id = sub.id) "
                     "SELECT id FROM sub))")
        args.append(f.tag_id)
    if f.is_favorite is not None:
        where.append("a.is_favorite = ?")
        args.append(int(f.is_favorite))
    if f.with_stacked:
        where.append("(a.stack_id IS NULL OR NOT EXISTS (SELECT 1 FROM stack s WHERE s.id = a.stack_id "
                     "AND s.primary_asset_id != a.id))")
    if f.bbox is not None:
        west, south, east, north = f.bbox
        where.append("e.latitude >= ? AND e.latitude <= ?")
        args.extend([south, north])
        if west <= east:
            where.append("e.longitude >= ? AND e.longitude <= ?")
        else:  # crosses the antimeridian
            where.append("(e.longitude >= ? OR e.longitude <= ?)")
        args.extend([west, east])
    return where, args


def get_time_buckets(conn: Any, f: TimelineFilter) -> list[tuple[str, int]]:
    """[(month 'YYYY-MM', count)] in `order`."""
    return _tuples(conn, *time_buckets_sql(f))


def time_buckets_sql(f: TimelineFilter) -> tuple[str, list[Any]]:
    where, args = _where(f)
    month = MONTH[f.order_by]
    join = " JOIN asset_exif e ON e.asset_id = a.id" if f.bbox is not None else ""
    sql = (f"SELECT {month} AS m, count(*) FROM asset a{join} WHERE {' AND '.join(where)} "
           f"GROUP BY m ORDER BY m {'ASC' if f.order == 'asc' else 'DESC'}")
    return sql, args


# One bucket = one row per asset in `rows_sql`, folded by SQLite into parallel JSON arrays (upstream builds the
# same object with array_agg + to_json). (key, expression over the rows subquery), in TimeBucketAssetResponseDto
# order. Kinds: "" plain value, "b" a 0/1 that must come out as JSON true/false, "j" JSON text to embed. The JSON
# subtype does not survive the subquery boundary, so those two are converted in the outer aggregate.
_BUCKET = [
    ("id", "", "a.id"), ("ownerId", "", "a.owner_id"),
    ("ratio", "", "CASE WHEN a.width > 0 AND a.height > 0 THEN round(CAST(a.width AS REAL) / a.height, 3) ELSE 1 END"),
    ("isFavorite", "b", "a.is_favorite = 1 AND a.owner_id = ?"),  # favourites are the owner's only
    ("visibility", "", "a.visibility"), ("isTrashed", "b", "a.deleted_at IS NOT NULL"),
    ("isImage", "b", "a.type = 'IMAGE'"), ("createdAt", "", "a.created_at"), ("fileCreatedAt", "", "a.file_created_at"),
    # upstream: extract(epoch from localDateTime - fileCreatedAt) / 3600; fractional for +05:30, -09:45
    ("localOffsetHours", "", "ifnull(round((unixepoch(a.local_date_time, 'subsec') - "
                             "unixepoch(a.file_created_at, 'subsec')) / 3600.0, 4), 0)"),
    ("duration", "", "a.duration"), ("projectionType", "", "e.projection_type"),
    ("livePhotoVideoId", "", "a.live_photo_video_id"), ("status", "", "a.status"),
]
_PLACE = [("city", "", "e.city"), ("country", "", "e.country")]
_COORDS = [("latitude", "", "e.latitude"), ("longitude", "", "e.longitude")]
# [stackId, "count of the stack's live timeline assets"] for a primary asset, as upstream's lateral join
_STACK = [("stack", "j", "CASE WHEN a.stack_id IS NOT NULL THEN (SELECT json_array(a.stack_id, CAST(count(*) AS TEXT)) "
                         "FROM asset st WHERE st.stack_id = a.stack_id AND st.deleted_at IS NULL "
                         "AND st.visibility = 'timeline' HAVING count(*) > 0) END")]
_OUTER = {"": "c{i}", "b": "iif(c{i}, json('true'), json('false'))", "j": "json(c{i})"}


def get_time_bucket(conn: Any, month: str, f: TimelineFilter) -> tuple[str, str]:
    """(the bucket as a JSON object of parallel arrays without thumbhash, a JSON array of thumbhashes in hex).

    SQLite has no base64, so the thumbhash column comes back separately for the service to encode.
    """
    (obj, hexes), = _tuples(conn, *time_bucket_sql(month, f))
    return obj, hexes


def time_bucket_sql(month: str, f: TimelineFilter) -> tuple[str, list[Any]]:
    """The aggregate over rows_sql: SELECT json_object(key, json_group_array(col), ...), json_group_array(hex)."""
    inner, args = rows_sql(month, f)
    fields = ", ".join(f"'{key}', json_group_array({_OUTER[kind].format(i=i)})"
                       for i, (key, kind, _) in enumerate(_columns(f)))
    return f"SELECT json_object({fields}), json_group_array(th) FROM ({inner})", args


def rows_sql(month: str, f: TimelineFilter) -> tuple[str, list[Any]]:
    """One row per asset of the month, in timeline order."""
    where, args = _where(f)
    where.append(f"{MONTH[f.order_by]} = ?")
    args.append(month)
    cols = [f"{expr} AS c{i}" for i, (_, _, expr) in enumerate(_columns(f))]
    cols.append("iif(a.thumbhash IS NULL, NULL, hex(a.thumbhash)) AS th")
    direction = "ASC" if f.order == "asc" else "DESC"
    first = "a.created_at" if f.order_by == "createdAt" else "substr(a.local_date_time, 1, 10)"
    sql = (f"SELECT {', '.join(cols)} FROM asset a LEFT JOIN asset_exif e ON e.asset_id = a.id "
           f"WHERE {' AND '.join(where)} ORDER BY {first} {direction}, a.file_created_at {direction}")
    return sql, [f.caller_id, *args]  # the one `?` in the columns (isFavorite) comes first


def _columns(f: TimelineFilter) -> list[tuple[str, str, str]]:
    return [*_BUCKET, *(_PLACE if f.with_place else []), *(_COORDS if f.with_coordinates else []),
            *(_STACK if f.with_stacked else [])]


def partner_ids(conn: Any, user_id: str, *, in_timeline: bool = False) -> list[str]:
    """Partners who share with `user_id` (getMyPartnerIds); `in_timeline`: only those shown in their timeline
    (timelineEnabled)."""
    only = " AND p.in_timeline = 1" if in_timeline else ""
    return [r[0] for r in _tuples(
        conn, 'SELECT p.shared_by_id FROM partner p JOIN "user" u ON u.id = p.shared_by_id '
              f"WHERE p.shared_with_id = ?{only} AND u.deleted_at IS NULL ORDER BY p.shared_by_id", [user_id])]


def album_ids(conn: Any, user_id: str) -> list[str]:
    """Albums the user owns or is a member of (album.repository.ts getAllIds)."""
    return [r[0] for r in _tuples(
        conn, "SELECT a.id FROM album a WHERE a.deleted_at IS NULL AND (a.owner_id = ? OR EXISTS "
              "(SELECT 1 FROM album_user au WHERE au.album_id = a.id AND au.user_id = ?)) ORDER BY a.created_at DESC",
        [user_id, user_id])]


# --- map markers ------------------------------------------------------------------------------------

def map_markers(conn: Any, caller_id: str, owner_ids: list[str], album_ids_: list[str], *,
                is_archived: bool | None = None, is_favorite: bool | None = None,
                file_created_after: str | None = None, file_created_before: str | None = None) -> list[tuple[Any, ...]]:
    """(id, lat, lon, city, state, country) of assets with GPS, newest first (map.repository.ts getMapMarkers)."""
    where = ["a.deleted_at IS NULL"]
    args: list[Any] = []
    if is_archived:
        # partners' and albums' archives stay theirs: only my own archive joins the timeline assets
        where.append("(a.visibility = 'timeline' OR (a.owner_id = ? AND a.visibility = 'archive'))")
        args.append(caller_id)
    else:
        where.append("a.visibility = 'timeline'")
    if is_favorite is not None:
        # a favourite is the owner's: others' assets are never favourites to me (as the timeline's isFavorite)
        where.append("(a.is_favorite = 1 AND a.owner_id = ?) = ?")
        args.extend([caller_id, int(is_favorite)])
    if file_created_after is not None:
        where.append("a.file_created_at >= ?")
        args.append(file_created_after)
    if file_created_before is not None:
        where.append("a.file_created_at <= ?")
        args.append(file_created_before)
    scope = []
    if owner_ids:
        scope.append(f"a.owner_id IN ({marks(owner_ids)})")
        args.extend(owner_ids)
    if album_ids_:
        scope.append(f"a.id IN (SELECT aa.asset_id FROM album_asset aa WHERE aa.album_id IN "
                     f"({marks(album_ids_)}))")
        args.extend(album_ids_)
    where.append(f"({' OR '.join(scope) or '0'})")
    sql = ("SELECT a.id, e.latitude, e.longitude, e.city, e.state, e.country FROM asset a "
           "JOIN asset_exif e ON e.asset_id = a.id AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL "
           f"WHERE {' AND '.join(where)} ORDER BY a.file_created_at DESC")
    return _tuples(conn, sql, args)


def _tuples(conn: Any, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.row_trace = None  # plain tuples: skip the connection's dict factory on hot paths
    return cur.execute(sql, args).fetchall()  # type: ignore[no-any-return]
