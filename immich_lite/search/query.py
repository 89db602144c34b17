"""A search request's text filters → SQL terms over `asset a`, narrowed by the index when it can.

Upstream semantics (search.repository.ts / utils/database.ts):
  originalFileName, description, originalPath   f_unaccent(col) ILIKE '%term%' (a substring; % and _ are wildcards)
  ocr                                           trigram word similarity with the OCR text (typo tolerant)
immich-lite adds `query`: the web app sends it to /search/metadata when smart search is off (its default "Context"
search type); upstream strips it and returns everything, here it matches the words of the asset's file name,
description, place, camera, tags, people, albums and OCR text, each word as a prefix (with typos allowed when
nothing matches exactly).

Substring terms are always checked exactly in SQL (immich_fold(col) LIKE ...); the index only picks the candidates
(every trigram of the term). Word terms are answered by the index for the assets it is current for, and by an SQL
approximation (substring per word) for the assets with pending changes or when there is no index.

The index also takes the structured filters it holds (owner, visibility, trash, type, place, camera, dates) so
that it hands SQL few candidates; SQL applies every filter again. For a page, only the candidates on the near side
of a date boundary are handed over (the first `take` hits in the page's order, ties included), with SQL told the
same boundary; when that region holds too few results, the service asks again with a wider one.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import apsw

from immich_lite import ids
from immich_lite.search import text
from immich_lite.search.index import View, all_of, int_range, substring, term, terms, word_match

TEXT_FIELDS = (("originalFileName", "name", True), ("description", "description", True),
               ("originalPath", "path", False), ("ocr", "ocr", False), ("query", "query", True))
_LIKE = "LIKE ? ESCAPE '\\'"
_EXACT = {"name": "a.original_file_name", "description": "e.description", "path": "a.original_path"}
# one word of `query`, anywhere an asset's text lives
_QUERY_WORD = (
    f"(immich_fold(a.original_file_name) {_LIKE} OR EXISTS (SELECT 1 FROM asset_exif x WHERE x.asset_id = a.id AND ("
    + " OR ".join(f"immich_fold(x.{c}) {_LIKE}" for c in ("description", "city", "state", "country", "make", "model",
                                                            "lens_model"))
    + f")) OR EXISTS (SELECT 1 FROM tag_asset ta JOIN tag t ON t.id = ta.tag_id WHERE ta.asset_id = a.id "
    f"AND immich_fold(t.value) {_LIKE}) OR EXISTS (SELECT 1 FROM asset_face af JOIN person p ON p.id = af.person_id "
    f"WHERE af.asset_id = a.id AND af.deleted_at IS NULL AND af.is_visible = 1 AND immich_fold(p.name) {_LIKE}) "
    f"OR EXISTS (SELECT 1 FROM album_asset aa JOIN album al ON al.id = aa.album_id WHERE aa.asset_id = a.id "
    f"AND al.deleted_at IS NULL AND immich_fold(al.album_name) {_LIKE}) OR EXISTS (SELECT 1 FROM ocr_search o "
    f"WHERE o.asset_id = a.id AND immich_fold(o.text) {_LIKE}))")
_QUERY_WORD_ARGS = _QUERY_WORD.count("?")


@dataclass(frozen=True)
class TextPart:
    kind: str     # name | description | path | ocr | query
    folded: str

    @property
    def exact(self) -> bool:
        return self.kind in _EXACT

    @property
    def words(self) -> list[str]:
        return text.words(self.folded)

    def exact_sql(self) -> tuple[str, list[Any]]:
        col, pattern = _EXACT[self.kind], text.contains_pattern(self.folded)
        if self.folded.isascii() and not any(c in self.folded for c in "%_\\"):
            # An ASCII term without wildcards: SQLite's own LIKE (ASCII case-insensitive) decides for ASCII text;
            # only text with other characters (or controls) is folded in Python. Same answers, far fewer calls.
            return (f"({col} {_LIKE} OR ({col} GLOB '*[^ -~]*' AND immich_fold({col}) {_LIKE}))",
                    [pattern, pattern])
        return f"immich_fold({col}) {_LIKE}", [pattern]

    def approximate_sql(self) -> tuple[str, list[Any]]:
        """SQL that stands in for the index's word match (substring per word)."""
        pats = [f"%{w}%" for w in self.words]
        if not pats:
            return "1", []
        if self.kind == "ocr":
            return ("EXISTS (SELECT 1 FROM ocr_search o WHERE o.asset_id = a.id AND "
                    + " AND ".join(f"immich_fold(o.text) {_LIKE}" for _ in pats) + ")"), pats
        return " AND ".join(_QUERY_WORD for _ in pats), [p for p in pats for _ in range(_QUERY_WORD_ARGS)]

    def index_query(self, fuzzy: bool = False) -> Any:
        if self.kind in ("name", "description"):
            return substring(self.kind, self.folded)
        if self.kind == "ocr":
            return word_match("ocr", self.words, fuzzy)
        if self.kind == "query":
            return word_match("words", self.words, fuzzy)
        return None


def text_parts(dto: dict[str, Any]) -> list[TextPart]:
    """The request's text filters, folded (upstream trims originalFileName and description)."""
    parts = []
    for key, kind, trim in TEXT_FIELDS:
        value = dto.get(key)
        if isinstance(value, str):
            value = value.strip() if trim else value
            if value and (kind not in ("ocr", "query") or text.words(text.fold(value) or "")):
                parts.append(TextPart(kind, text.fold(value) or ""))
    return parts


def rowids_in(keys: list[int]) -> tuple[str, list[Any]]:
    if not keys:
        return "0", []
    return "a.rowid IN carray(?)", [apsw.carray(array("q", keys))]


@dataclass
class Window:
    """A page query: the rows it needs (offset + size + 1), its order, how many index hits to hand over."""
    limit: int
    descending: bool
    take: int


@dataclass
class Plan:
    sql: list[str]
    args: list[Any]
    needs_exif: bool
    keys: list[int] | None = None  # the index's candidates (rowids, pending ones included); None: scan in SQL
    complete: bool = True  # False: only a date region was handed over (a short page means: widen and ask again)


_FACETS = {"city": "city", "state": "state", "country": "country", "make": "make", "model": "model",
           "lensModel": "lens"}
_DATE_FIELDS = {"taken": ("takenAfter", "takenBefore"), "created": ("createdAfter", "createdBefore")}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(stored: str) -> int:
    """Microseconds since the epoch, exactly (the index's `taken`/`created`)."""
    d = ids.parse_iso(stored) - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _stored(micros: int) -> str:
    return ids.iso(_EPOCH + timedelta(microseconds=micros)) or ""


def pushdown(f: Any) -> tuple[list[Any], list[Any], bool]:
    """(must, must-not, selective) index terms for the filters the index holds (repos.search.Filter)."""
    must: list[Any] = []
    must_not: list[Any] = []
    if f.user_ids:
        must.append(terms("owner", f.user_ids))
    if f.visibility == "not-locked":
        must_not.append(term("visibility", "locked"))
    elif f.visibility:
        must.append(term("visibility", f.visibility))
    if not f.with_deleted:
        must.append(term("live", 1))
    if f.type:
        must.append(term("type", f.type))
    selective = False
    for key, value in f.exif.items():
        if key in _FACETS and value is not None:
            must.append(term(_FACETS[key], str(value)))
            selective = True
    for field_name, (after, before) in _DATE_FIELDS.items():
        lo, hi = f.dates.get(after), f.dates.get(before)
        if lo or hi:
            must.append(int_range(field_name, _micros(lo) if lo else None, _micros(hi) if hi else None))
    return must, must_not, selective


def _trusted(view: View, q: Any, window: Window | None, out: Plan) -> list[int]:
    """The rowids to hand over: all matches, or for a page the first `take` in its order plus the ties at the
    edge (and the edge goes into `out` as an SQL term)."""
    if window is None:
        return view.keys(q)
    hits = view.ordered(q, window.take + 1, "taken", ascending=not window.descending)
    if len(hits) <= window.take:
        return [k for _, k in hits]
    edge = hits[window.take - 1][0]
    # the edge's ties: all within the first `take` when the next hit is already past the edge
    ties = view.keys(all_of(q, int_range("taken", edge, edge))) if hits[window.take][0] == edge else []
    out.sql.append("a.file_created_at >= ?" if window.descending else "a.file_created_at <= ?")
    out.args.append(_stored(edge))
    out.complete = False
    return list(dict.fromkeys([*(k for _, k in hits[:window.take]), *ties]))


def plan(view: View | None, parts: list[TextPart], f: Any, window: Window | None = None) -> Plan:
    """SQL terms for the text parts (and index candidates for the filters); `view` None: SQL alone."""
    out = Plan([], [], any(p.kind == "description" for p in parts))
    for p in parts:
        if p.exact:
            s, a = p.exact_sql()
            out.sql.append(s)
            out.args.extend(a)
    loose = [p for p in parts if not p.exact]
    texts = [q for q in (p.index_query() for p in parts) if q is not None] if view is not None else []
    must, must_not, selective = pushdown(f) if view is not None else ([], [], False)
    if view is None or not (texts or selective):
        for p in loose:
            s, a = p.approximate_sql()
            out.sql.append(s)
            out.args.extend(a)
        return out
    q = all_of(*texts, *must, exclude=must_not)
    trusted = _trusted(view, q, window, out)
    if not trusted and loose:  # nothing starts that way: allow a typo or two
        fuzzy = all_of(*(x for x in (p.index_query(fuzzy=True) for p in parts) if x is not None), *must,
                       exclude=must_not)
        trusted = _trusted(view, fuzzy, window, out)
    out.keys = list(dict.fromkeys([*trusted, *view.dirty_keys]))
    if loose and view.dirty_keys:  # the index vouches for the text of the others; these are checked in SQL
        s, a = rowids_in(view.dirty_keys)
        approx = [p.approximate_sql() for p in loose]
        out.sql.append(f"(NOT {s} OR (" + " AND ".join(x for x, _ in approx) + "))")
        out.args.extend(a)
        for _, xa in approx:
            out.args.extend(xa)
    return out
