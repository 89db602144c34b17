"""SQL for search (upstream search.repository.ts + utils/database.ts searchAssetBuilderLegacy): the structured
filters of every search DTO as one WHERE clause, the pages and counts built on it, and what the index is fed.

Text filters arrive as ready-made SQL terms (services.search plans them with the index); everything else is
decided here, so the DB has the last word on every asset a search returns.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import apsw

from immich_lite.repos import marks

EXIF_COLUMNS = {"city": "city", "state": "state", "country": "country", "make": "make", "model": "model",
                "lensModel": "lens_model", "rating": "rating"}
UNSET: Any = object()  # a filter the request did not mention (tagIds: null means "no tags")


@dataclass
class Filter:
    """A search request's structured filters, normalised and access-checked by the service."""
    caller_id: str | None                 # whose favourites are favourites; None for a shared link
    user_ids: list[str] | None = None     # owner scope (own + partners); None when scoped by albums
    album_ids: list[str] = field(default_factory=list)
    visibility: str | None = None         # 'not-locked', an AssetVisibility, or None (any)
    tag_ids: Any = UNSET                  # list: all of them (or descendants); None: untagged; UNSET: no filter
    person_ids: list[str] = field(default_factory=list)
    dates: dict[str, str] = field(default_factory=dict)   # createdBefore ... takenAfter → stored ISO text
    exif: dict[str, Any] = field(default_factory=dict)    # EXIF_COLUMNS key → value or None (IS NULL)
    checksum: bytes | None = None
    id: str | None = None
    library_id: str | None = None
    encoded_video_path: str | None = None
    type: str | None = None
    is_favorite: bool | None = None
    is_offline: bool | None = None
    is_encoded: bool | None = None
    is_motion: bool | None = None
    is_not_in_album: bool = False
    with_stacked: bool | None = None
    with_deleted: bool = False
    min_file_size: int | None = None      # large assets: exif file size above this
    text_sql: list[str] = field(default_factory=list)     # planned by services.search
    text_args: list[Any] = field(default_factory=list)
    text_needs_exif: bool = False
    keys: list[int] | None = None         # candidate rowids from the index: the query walks these, not the table

    @property
    def needs_exif(self) -> bool:
        return bool(self.exif) or self.min_file_size is not None or self.text_needs_exif


_DATES = {"createdBefore": ("a.created_at", "<="), "createdAfter": ("a.created_at", ">="),
          "updatedBefore": ("a.updated_at", "<="), "updatedAfter": ("a.updated_at", ">="),
          "trashedBefore": ("a.deleted_at", "<="), "trashedAfter": ("a.deleted_at", ">="),
          "takenBefore": ("a.file_created_at", "<="), "takenAfter": ("a.file_created_at", ">=")}

# tags: the asset carries every requested tag, or a descendant of it (upstream hasTags over tag_closure)
_TAGS = ("a.id IN (WITH RECURSIVE tree(root, id) AS (SELECT id, id FROM tag WHERE id IN ({m}) UNION "
         "SELECT tree.root, t.id FROM tag t JOIN tree ON t.parent_id = tree.id) SELECT ta.asset_id FROM tag_asset ta "
         "JOIN tree ON tree.id = ta.tag_id GROUP BY ta.asset_id HAVING count(DISTINCT tree.root) >= ?)")
_PEOPLE = ("a.id IN (SELECT af.asset_id FROM asset_face af WHERE af.person_id IN ({m}) AND af.deleted_at IS NULL "
           "AND af.is_visible = 1 GROUP BY af.asset_id HAVING count(DISTINCT af.person_id) = ?)")
_ALBUMS = ("a.id IN (SELECT aa.asset_id FROM album_asset aa JOIN album al ON al.id = aa.album_id "
           "WHERE aa.album_id IN ({m}) AND al.deleted_at IS NULL GROUP BY aa.asset_id "
           "HAVING count(DISTINCT aa.album_id) = ?)")
_ENCODED = "EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'encoded_video')"


def where(f: Filter) -> tuple[str, str, list[Any]]:
    """(FROM ... joins, WHERE ..., args) of the filter, over `asset a` (and `asset_exif e` when needed)."""
    w = ["a.status != 'deleted'"]
    args: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        w.append(sql)
        args.extend(values)

    mine = "a.owner_id = ?" if f.caller_id else "0"
    mine_args = [f.caller_id] if f.caller_id else []
    if f.user_ids is not None:
        add(f"a.owner_id IN ({marks(f.user_ids)})", *f.user_ids)
        if any(u != f.caller_id for u in f.user_ids):
            # a partner's assets: only what their timeline shares (never archive, trash or locked: PR #28652)
            add(f"({mine} OR (a.visibility IN ('timeline', 'hidden') AND a.deleted_at IS NULL))", *mine_args)
    if f.album_ids:
        ids = list(dict.fromkeys(f.album_ids))
        add(_ALBUMS.format(m=marks(ids)), *ids, len(ids))
        # others' assets in a shared album: never their trash or locked assets (issue #29526)
        add(f"({mine} OR (a.visibility != 'locked' AND a.deleted_at IS NULL))", *mine_args)
    if f.visibility == "not-locked":
        add("a.visibility != 'locked'")
    elif f.visibility is not None:
        add("a.visibility = ?", f.visibility)
    if f.tag_ids is None:
        add("NOT EXISTS (SELECT 1 FROM tag_asset ta WHERE ta.asset_id = a.id)")
    elif f.tag_ids is not UNSET and f.tag_ids:
        ids = list(dict.fromkeys(f.tag_ids))
        add(_TAGS.format(m=marks(ids)), *ids, len(ids))
    if f.person_ids:
        ids = list(dict.fromkeys(f.person_ids))
        add(_PEOPLE.format(m=marks(ids)), *ids, len(ids))
    for key, value in f.dates.items():
        column, op = _DATES[key]
        add(f"{column} {op} ?", value)
    for key, value in f.exif.items():
        column = EXIF_COLUMNS[key]
        if value is None:
            add(f"e.{column} IS NULL")
        else:
            add(f"e.{column} = ?", value)
    if f.checksum is not None:
        add("a.checksum = ?", f.checksum)
    if f.id:
        add("a.id = ?", f.id)
    if f.library_id:
        add("a.library_id = ?", f.library_id)
    if f.encoded_video_path:
        add("EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'encoded_video' "
            "AND f.is_edited = 0 AND f.path = ?)", f.encoded_video_path)
    if f.type:
        add("a.type = ?", f.type)
    if f.is_favorite is not None:
        # a favourite is its owner's (mapAsset shows others' assets as not favourite)
        add(f"(a.is_favorite = 1 AND {mine}) = ?", *mine_args, int(f.is_favorite))
    if f.is_offline is not None:
        add("a.is_offline = ?", int(f.is_offline))
    if f.is_encoded is not None:
        add(_ENCODED if f.is_encoded else f"NOT {_ENCODED}")
    if f.is_motion is not None:
        add("a.live_photo_video_id IS NOT NULL" if f.is_motion else "a.live_photo_video_id IS NULL")
    if f.is_not_in_album and not f.album_ids:
        add("NOT EXISTS (SELECT 1 FROM album_asset aa WHERE aa.asset_id = a.id)")
    if f.with_stacked is False:
        add("a.stack_id IS NULL")
    if not f.with_deleted:
        add("a.deleted_at IS NULL")
    if f.min_file_size is not None:
        add("e.file_size_in_byte > ?", f.min_file_size)
    w.extend(f.text_sql)
    args.extend(f.text_args)
    joins = "asset a JOIN asset_exif e ON e.asset_id = a.id" if f.needs_exif else "asset a"
    if f.keys is not None:  # CROSS JOIN: SQLite must loop over the candidates, not over the owner's assets
        if not f.keys:
            return joins, "0", []
        joins = "carray(?) k CROSS JOIN " + joins.replace("asset a", "asset a ON a.rowid = k.value", 1)
        args.insert(0, apsw.carray(array("q", f.keys)))
    return joins, " AND ".join(w), args


def page_keys(conn: Any, f: Filter, *, page: int, size: int, descending: bool = True) -> list[int]:
    """Rowids of one page (plus one row, to tell whether there is a next page) in upstream's order:
    fileCreatedAt, id."""
    joins, cond, args = where(f)
    d = "DESC" if descending else "ASC"
    sql = (f"SELECT a.rowid FROM {joins} WHERE {cond} ORDER BY a.file_created_at {d}, a.id {d} LIMIT ? OFFSET ?")
    return _column(conn, sql, [*args, size + 1, (page - 1) * size])


def count(conn: Any, f: Filter) -> int:
    joins, cond, args = where(f)
    return int(_column(conn, f"SELECT count(*) FROM {joins} WHERE {cond}", args)[0])


def random_keys(conn: Any, f: Filter, size: int) -> list[int]:
    joins, cond, args = where(f)
    return _column(conn, f"SELECT a.rowid FROM {joins} WHERE {cond} ORDER BY random() LIMIT ?", [*args, size])


def largest_keys(conn: Any, f: Filter, size: int, descending: bool = True) -> list[int]:
    joins, cond, args = where(f)
    d = "DESC" if descending else "ASC"
    return _column(conn, f"SELECT a.rowid FROM {joins} WHERE {cond} ORDER BY e.file_size_in_byte {d} LIMIT ?",
                   [*args, size])


def _column(conn: Any, sql: str, args: list[Any]) -> list[Any]:
    cur = conn.cursor()
    cur.row_trace = None
    return [r[0] for r in cur.execute(sql, args)]


# --- loading what the results show ----------------------------------------------------------------------

def _dicts(conn: Any, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts, naming the columns once per query (the connection's row factory names them per row)."""
    cur = conn.cursor()
    cur.row_trace = None
    cur.execute(sql, args)
    try:
        names = [d[0] for d in cur.getdescription()]
    except apsw.ExecutionCompleteError:  # no rows
        return []
    return [dict(zip(names, r, strict=True)) for r in cur]


def load(conn: Any, keys: list[int], asset_columns: tuple[str, ...], exif_columns: tuple[str, ...] | None
         ) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """[(asset row, exif row or None)] of these rowids with just these columns, in their order (missing ones left
    out); exif_columns None: no exif rows."""
    if not keys:
        return []
    arg = [apsw.carray(array("q", keys))]
    cols = ", ".join(f"a.{c}" for c in asset_columns)
    assets = {r["rowid_"]: r for r in _dicts(conn, f"SELECT a.rowid AS rowid_, {cols} FROM carray(?) k CROSS JOIN "
                                                   "asset a ON a.rowid = k.value", arg)}
    exifs = {}
    if exif_columns is not None:
        cols = ", ".join(f"e.{c}" for c in exif_columns)
        sql = (f"SELECT {cols} FROM carray(?) k CROSS JOIN asset a ON a.rowid = k.value "
               "JOIN asset_exif e ON e.asset_id = a.id")
        exifs = {r["asset_id"]: r for r in _dicts(conn, sql, arg)}
    return [(assets[k], exifs.get(assets[k]["id"])) for k in keys if k in assets]


def keys_of(conn: Any, ids: list[str]) -> list[int]:
    """Rowids of these asset ids, in their order."""
    if not ids:
        return []
    found = dict(_rows(conn, f"SELECT id, rowid FROM asset WHERE id IN ({marks(ids)})", ids))
    return [found[i] for i in ids if i in found]


def _rows(conn: Any, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.row_trace = None
    return cur.execute(sql, args).fetchall()  # type: ignore[no-any-return]


def people(conn: Any, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """{asset id: [person rows]} of the assets' visible, live faces (upstream withFacesAndPeople + peopleFromFaces)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    seen: set[tuple[str, str]] = set()
    for r in conn.execute(
            f"SELECT af.asset_id AS asset_id_, p.* FROM asset_face af JOIN person p ON p.id = af.person_id "
            f"WHERE af.asset_id IN ({marks(ids)}) AND af.deleted_at IS NULL AND af.is_visible = 1 "
            "ORDER BY af.rowid", ids):
        if (r["asset_id_"], r["id"]) not in seen:
            seen.add((r["asset_id_"], r["id"]))
            out.setdefault(r["asset_id_"], []).append(r)
    return out
