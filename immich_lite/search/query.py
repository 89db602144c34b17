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
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import apsw

from immich_lite.search import text
from immich_lite.search.index import View, all_of, substring, terms, word_match

TEXT_FIELDS = (("originalFileName", "name", True), ("description", "description", True),
               ("originalPath", "path", False), ("ocr", "ocr", False), ("query", "query", True))
_LIKE = "LIKE ? ESCAPE '\\'"
_EXACT = {"name": f"immich_fold(a.original_file_name) {_LIKE}", "description": f"immich_fold(e.description) {_LIKE}",
          "path": f"immich_fold(a.original_path) {_LIKE}"}
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
        return _EXACT[self.kind], [text.contains_pattern(self.folded)]

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
class Plan:
    sql: list[str]
    args: list[Any]
    needs_exif: bool
    used_index: bool


def plan(view: View | None, parts: list[TextPart], owner_ids: list[str] | None) -> Plan:
    """SQL terms for the text parts; `view` None: SQL alone."""
    out = Plan([], [], any(p.kind == "description" for p in parts), False)
    for p in parts:
        if p.exact:
            s, a = p.exact_sql()
            out.sql.append(s)
            out.args.extend(a)
    loose = [p for p in parts if not p.exact]
    queries = [q for q in (p.index_query() for p in parts) if q is not None] if view is not None else []
    if view is None or not queries:
        for p in loose:
            s, a = p.approximate_sql()
            out.sql.append(s)
            out.args.extend(a)
        return out
    scope = terms("owner", owner_ids) if owner_ids else None
    trusted = view.keys(all_of(scope, *queries))
    if not trusted and loose:  # nothing starts that way: allow a typo or two
        fuzzy = [q for q in (p.index_query(fuzzy=True) for p in parts) if q is not None]
        trusted = view.keys(all_of(scope, *fuzzy))
    out.used_index = True
    if not loose:
        s, a = rowids_in(sorted(set(trusted) | set(view.dirty_keys)))
        out.sql.append(s)
        out.args.extend(a)
        return out
    s, a = rowids_in(trusted)
    branches, args = [s], list(a)
    if view.dirty_keys:
        s, a = rowids_in(view.dirty_keys)
        approx = [p.approximate_sql() for p in loose]
        branches.append("(" + " AND ".join([s, *(x for x, _ in approx)]) + ")")
        args.extend(a)
        for _, xa in approx:
            args.extend(xa)
    out.sql.append("(" + " OR ".join(branches) + ")")
    out.args.extend(args)
    return out
