"""The asset index: a Tantivy index under <data>/search/assets, derived from the database, with one writer.

One document per asset row, keyed by the asset's SQLite rowid (`key`, an i64 fast field, so a query hands SQLite
an array of rowids without reading stored documents). It holds what a person types (file name and description as
character trigrams, for upstream's substring semantics; every other text as words, for prefix and fuzzy
matching; OCR text as words) and what the aggregations need (owner, visibility, live, type, dates, places and
cameras as raw fast fields). It is never a source of truth: queries intersect it with SQL, which has the last
word on every asset it returns, and the assets listed in `search_dirty` are checked in SQL instead of here.

Life cycle: `open()` lazily; `is_current()` says whether the directory holds an index of this schema version for
this database file (else services.search_index rebuilds it: built beside, swapped in with a rename). Writes happen
only under `lock` (update batches and rebuilds of the one process that owns the data dir).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from immich_lite.faults import fault
from immich_lite.search import text
from immich_lite.storage import fsync_dir

log = logging.getLogger("immich_lite.search")

SCHEMA_VERSION = 1
MARKER = "immich-lite-index.json"
FACETS = ("country", "state", "city", "make", "model", "lens")
WRITER_HEAP = 16_000_000  # bytes, one thread (tantivy-py refuses less than 15 MB per thread)
Doc = dict[str, Any]


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("key", indexed=True, fast=True)
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("digest", fast=True)
    sb.add_text_field("owner", tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("visibility", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("type", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("live", indexed=True)  # 1: neither trashed nor deleted
    sb.add_integer_field("taken", fast=True)    # fileCreatedAt, microseconds since the epoch
    sb.add_integer_field("created", fast=True)  # createdAt, microseconds since the epoch
    for name in FACETS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("name", tokenizer_name="tri", index_option="basic")
    sb.add_text_field("description", tokenizer_name="tri", index_option="basic")
    sb.add_text_field("words", tokenizer_name="ws", index_option="basic")
    sb.add_text_field("ocr", tokenizer_name="ws", index_option="basic")
    return sb.build()


SCHEMA = _schema()


def _register(index: tantivy.Index) -> tantivy.Index:
    # texts arrive folded (search.text.fold): the analyzers only cut them
    index.register_tokenizer("tri", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.ngram(3, 3, False)).build())
    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    return index


def to_document(d: Doc) -> tantivy.Document:
    """A tantivy Document from a row of repos.search.docs (already folded and digested)."""
    doc = tantivy.Document()
    doc.add_integer("key", d["key"])
    doc.add_text("id", d["id"])
    doc.add_integer("digest", d["digest"])
    doc.add_text("owner", d["owner"])
    doc.add_text("visibility", d["visibility"])
    doc.add_text("type", d["type"])
    doc.add_integer("live", d["live"])
    doc.add_integer("taken", d["taken"])
    doc.add_integer("created", d["created"])
    for name in FACETS:
        if d.get(name):
            doc.add_text(name, d[name])
    for name in ("name", "description", "words", "ocr"):
        if d.get(name):
            doc.add_text(name, d[name])
    return doc


# --- queries -----------------------------------------------------------------------------------------

def all_of(*queries: tantivy.Query | None, exclude: tantivy.Query | list[tantivy.Query] | None = None
           ) -> tantivy.Query:
    parts = [(tantivy.Occur.Must, q) for q in queries if q is not None]
    if not parts:
        parts = [(tantivy.Occur.Must, tantivy.Query.all_query())]
    for q in exclude if isinstance(exclude, list) else [exclude] if exclude is not None else []:
        parts.append((tantivy.Occur.MustNot, q))
    return parts[0][1] if len(parts) == 1 else tantivy.Query.boolean_query(parts)


def int_range(field_name: str, lower: int | None, upper: int | None) -> tantivy.Query:
    """lower <= field <= upper over an i64 fast field (None: unbounded)."""
    return tantivy.Query.range_query(SCHEMA, field_name, tantivy.FieldType.Integer, lower, upper)


def term(field_name: str, value: Any) -> tantivy.Query:
    return tantivy.Query.term_query(SCHEMA, field_name, value)


def terms(field_name: str, values: Iterable[Any]) -> tantivy.Query:
    return tantivy.Query.term_set_query(SCHEMA, field_name, list(values))


def substring(field_name: str, folded: str) -> tantivy.Query | None:
    """Documents whose field holds every trigram of the term's literal runs: a superset of `%term%` (which SQL
    then checks exactly). None when no run is 3 characters long (no trigram can narrow it down)."""
    grams = set().union(*(text.trigrams(run) for run in text.like_literals(folded)))
    if not grams:
        return None
    return all_of(*(term(field_name, g) for g in sorted(grams)))


def word_match(field_name: str, words: list[str], fuzzy: bool, schema: tantivy.Schema | None = None
               ) -> tantivy.Query | None:
    """Every word must start a word of the field; `fuzzy` also allows one typo (two from 8 letters on)."""
    if not words:
        return None
    parts = []
    for w in dict.fromkeys(words):
        distance = (2 if len(w) >= 8 else 1 if len(w) >= 4 else 0) if fuzzy else 0
        parts.append(tantivy.Query.fuzzy_term_query(schema or SCHEMA, field_name, w, distance=distance,
                                                    transposition_cost_one=True, prefix=True))
    return all_of(*parts)


@dataclass
class View:
    """A searcher plus the assets it must not be trusted for (their rows changed after they were indexed)."""
    searcher: tantivy.Searcher
    dirty_keys: list[int] = field(default_factory=list)

    def _trusted(self, query: tantivy.Query) -> tantivy.Query:
        if not self.dirty_keys:
            return query
        return all_of(query, exclude=terms("key", self.dirty_keys))

    def count(self, query: tantivy.Query) -> int:
        return int(self.searcher.search(self._trusted(query), 1, count=True).count or 0)

    def keys(self, query: tantivy.Query, limit: int | None = None, *, order_by: str = "key",
             ascending: bool = True, offset: int = 0) -> list[int]:
        """Rowids of matching (trusted) documents, in `order_by` order."""
        q = self._trusted(query)
        if limit is None:
            limit = self.count(query)
        if limit <= 0:
            return []
        order = tantivy.Order.Asc if ascending else tantivy.Order.Desc
        hits = self.searcher.search(q, limit, count=False, order_by_field=order_by, order=order, offset=offset).hits
        if order_by == "key":
            return [int(k) for k, _ in hits]
        return [int(k) for k in self.searcher.fast_field_values("key", [a for _, a in hits])]

    def ordered(self, query: tantivy.Query, limit: int, order_by: str, ascending: bool) -> list[tuple[int, int]]:
        """[(value of `order_by`, rowid)] of the first `limit` matching (trusted) documents in that order."""
        order = tantivy.Order.Asc if ascending else tantivy.Order.Desc
        hits = self.searcher.search(self._trusted(query), max(limit, 1), count=False, order_by_field=order_by,
                                    order=order).hits
        keys = self.searcher.fast_field_values("key", [a for _, a in hits]) if hits else []
        return [(int(v), int(k)) for (v, _), k in zip(hits, keys, strict=True)]

    def facet(self, query: tantivy.Query, field_name: str, min_count: int = 1) -> dict[str, int]:
        """{value: documents} of a raw fast field over the matching (trusted) documents."""
        agg = {"f": {"terms": {"field": field_name, "size": 65000, "min_doc_count": min_count}}}
        out = self.searcher.aggregate(self._trusted(query), agg)
        return {b["key"]: int(b["doc_count"]) for b in out["f"]["buckets"]}

    def facet_top(self, query: tantivy.Query, field_name: str, order_by: str, per: int
                  ) -> dict[str, tuple[int, list[int]]]:
        """{value: (documents, rowids of the `per` greatest by `order_by`)} in one pass (terms + top_hits)."""
        agg = {"f": {"terms": {"field": field_name, "size": 65000},
                     "aggs": {"top": {"top_hits": {"size": per, "sort": [{order_by: "desc"}],
                                                   "docvalue_fields": ["key"]}}}}}
        out = self.searcher.aggregate(self._trusted(query), agg)
        return {b["key"]: (int(b["doc_count"]), [int(h["docvalue_fields"]["key"][0]) for h in b["top"]["hits"]])
                for b in out["f"]["buckets"]}


# --- the index itself -------------------------------------------------------------------------------------

class AssetIndex:
    def __init__(self, root: Path, db_path: Path):
        self.dir = root / "search"
        self.path = self.dir / "assets"
        self.db_path = db_path
        self.lock = threading.RLock()  # the writer: update batches and rebuilds
        self._open_lock = threading.Lock()
        self._index: tantivy.Index | None = None

    # identity: a rebuild is needed when the schema changed or the database file is another one (a restore)
    def _identity(self) -> dict[str, Any]:
        try:
            st = os.stat(self.db_path)
            db = [st.st_dev, st.st_ino]
        except FileNotFoundError:
            db = None
        return {"version": SCHEMA_VERSION, "db": db}

    def is_current(self) -> bool:
        try:
            marker = json.loads((self.path / MARKER).read_text())
        except (OSError, ValueError):
            return False
        return marker == self._identity() and (self.path / "meta.json").is_file()

    def open(self) -> tantivy.Index | None:
        with self._open_lock:
            if self._index is None and self.is_current():
                try:
                    self._index = _register(tantivy.Index(SCHEMA, str(self.path), reuse=True))
                except (OSError, ValueError) as e:
                    log.warning("search index at %s cannot be opened (%s); it will be rebuilt", self.path, e)
                    return None
            return self._index

    def close(self) -> None:
        with self._open_lock:
            self._index = None

    def view(self, dirty_keys: list[int]) -> View | None:
        idx = self.open()
        if idx is None:
            return None
        return View(idx.searcher(), dirty_keys)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("*") if p.is_file()) if self.path.is_dir() else 0

    @contextmanager
    def writer(self) -> Iterator[Any]:
        """The one IndexWriter (call under `lock`): committed when the block ends, rolled back if it raises."""
        idx = self.open()
        if idx is None:
            raise RuntimeError("search index is not built")
        w = idx.writer(WRITER_HEAP, 1)
        try:
            yield w
            w.commit()
            w.wait_merging_threads()
        except BaseException:
            w.rollback()
            raise
        finally:
            del w
            idx.reload()

    def rebuild(self, batches: Iterable[list[Doc]]) -> int:
        """Build a new index from `batches` beside the current one and swap it in (call under `lock`)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        new, old = self.dir / "assets.new", self.dir / "assets.old"
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir()
        idx = _register(tantivy.Index(SCHEMA, str(new)))
        w = idx.writer(WRITER_HEAP, 1)
        n = 0
        for docs in batches:
            for d in docs:
                w.add_document(to_document(d))
            n += len(docs)
        w.commit()
        w.wait_merging_threads()
        del w, idx
        marker = new / MARKER
        marker.write_text(json.dumps(self._identity()))
        _fsync_tree(new)
        fault("search.rebuilt_before_swap")
        with self._open_lock:
            self._index = None
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                os.rename(self.path, old)
            os.rename(new, self.path)
            fsync_dir(self.dir)
            shutil.rmtree(old, ignore_errors=True)
        return n

    def discard(self) -> None:
        """Remove the index (and a half-built one), e.g. when it disagrees with the database."""
        with self._open_lock:
            self._index = None
            for p in (self.path, self.dir / "assets.new", self.dir / "assets.old"):
                shutil.rmtree(p, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    for p in path.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(path)
