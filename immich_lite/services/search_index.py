"""Keeping the search index true to the database: the `search` queue's jobs, start-up checks, verify.

Upstream's `search` queue has no jobs (Postgres searches its own tables); ours carries the two that keep the
Tantivy index derived from the DB:
  SearchIndexUpdate    re-indexes the assets named in `search_dirty` (queued by the triggers of migration 0005
                       in the same transaction as the change), batch by batch: read rows, commit the index,
                       then forget the processed change rows. A crash at any point re-indexes, never skips.
  SearchIndexQueueAll  builds a whole new index beside the current one from one DB snapshot and swaps it in
                       (queue "start" on the search queue, a missing index or one of an older schema).
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from immich_lite import jobs
from immich_lite.ctx import Ctx
from immich_lite.faults import fault
from immich_lite.jobs import JobStatus, QueueName
from immich_lite.repos import search_index as repo
from immich_lite.search import text
from immich_lite.search.index import AssetIndex, Doc, View, all_of, to_document

log = logging.getLogger("immich_lite.search")

UPDATE_JOB = "SearchIndexUpdate"
QUEUE_ALL_JOB = "SearchIndexQueueAll"
BATCH = 2000         # assets per index commit
DIRTY_LIMIT = 5000   # more pending changes than this: queries use SQL alone until the index catches up
_SEP = "\x1f"
_INDEX_LOCK = threading.Lock()


def index_of(ctx: Ctx) -> AssetIndex:
    """The process's one AssetIndex for this data dir (opened lazily)."""
    with _INDEX_LOCK:
        idx = ctx.extra.get("search_index")
        if idx is None:
            idx = ctx.extra["search_index"] = AssetIndex(ctx.storage.root, ctx.storage.db_path)
        return idx  # type: ignore[no-any-return]


def view(ctx: Ctx, conn: Any) -> View | None:
    """What a query may ask the index, inside the caller's read transaction; None: answer from SQL alone
    (no index yet, or it is far behind)."""
    idx = index_of(ctx)
    if not idx.is_current() or repo.dirty_count(conn, DIRTY_LIMIT) > DIRTY_LIMIT:
        return None
    keys = repo.dirty_keys(conn)  # before the searcher: a commit in between only makes the searcher fresher
    return idx.view(keys)


# --- documents ------------------------------------------------------------------------------------------

def build_doc(r: dict[str, Any]) -> Doc:
    """An index document from a repos.search_index row (folded texts, a digest of all of it)."""
    name = text.fold(r["original_file_name"]) or ""
    description = text.fold(r["description"] or "") or ""
    ocr = " ".join(text.words(text.fold(r["ocr"] or "") or ""))
    sources = [name, description, r["city"], r["state"], r["country"], r["make"], r["model"], r["lens_model"],
               r["tags"], r["people"], r["albums"], r["ocr"]]
    folded = text.fold(" ".join(s.replace(_SEP, " ") for s in sources if s)) or ""
    doc: Doc = {"key": r["key"], "id": r["id"], "owner": r["owner_id"], "visibility": r["visibility"],
                "type": r["type"], "live": int(bool(r["live"])), "taken": r["taken"] or 0,
                "created": r["created"] or 0, "country": r["country"], "state": r["state"], "city": r["city"],
                "make": r["make"], "model": r["model"], "lens": r["lens_model"], "name": name,
                "description": description, "words": " ".join(dict.fromkeys(text.words(folded))), "ocr": ocr}
    blob = repr(sorted(doc.items())).encode()
    doc["digest"] = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big", signed=True)
    return doc


def _all_docs(conn: Any) -> Iterator[list[Doc]]:
    key = 0
    while True:
        rows = repo.docs_after(conn, key, BATCH)
        if not rows:
            return
        key = rows[-1]["key"]
        yield [build_doc(r) for r in rows]


# --- jobs --------------------------------------------------------------------------------------------------

@jobs.register(UPDATE_JOB, QueueName.SEARCH)
def update(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    idx = index_of(ctx)
    with idx.lock:
        if not idx.is_current():
            _rebuild(ctx, idx)
        else:
            _apply_changes(ctx, idx)
    return JobStatus.SUCCESS


@jobs.register(QUEUE_ALL_JOB, QueueName.SEARCH)
def queue_all(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    idx = index_of(ctx)
    with idx.lock:
        if data.get("force") or not idx.is_current():
            _rebuild(ctx, idx)
        else:
            _apply_changes(ctx, idx)
    return JobStatus.SUCCESS


def _apply_changes(ctx: Ctx, idx: AssetIndex) -> int:
    done = 0
    while True:
        with ctx.db.read() as conn:
            rows = repo.dirty_batch(conn, BATCH)
            if not rows:
                return done
            upto = rows[-1]["id"]
            asset_ids = list(dict.fromkeys(r["asset_id"] for r in rows))
            docs = [build_doc(r) for r in repo.docs_for(conn, asset_ids)]
        with idx.writer() as w:
            for aid in asset_ids:
                w.delete_documents_by_term("id", aid)
            for d in docs:
                w.add_document(to_document(d))
        fault("search.index_committed")  # tests: a crash between the index commit and forgetting the changes
        with ctx.db.write() as conn:
            repo.forget_dirty(conn, upto)
        done += len(asset_ids)


def _rebuild(ctx: Ctx, idx: AssetIndex) -> None:
    started = time.monotonic()
    with ctx.db.read() as conn:  # one snapshot: the rows indexed and the change log watermark agree
        upto = repo.dirty_watermark(conn)
        n = idx.rebuild(_all_docs(conn))
    with ctx.db.write() as conn:
        repo.forget_dirty(conn, upto)
    if n:
        log.info("search index built: %d assets in %.1f s (%.1f MB)", n, time.monotonic() - started,
                 idx.size_bytes() / 1e6)
    _apply_changes(ctx, idx)


def ensure(ctx: Ctx) -> None:
    """At start: a missing index, or one of another schema or database, gets rebuilt by a queued job."""
    idx = index_of(ctx)
    for leftover in ("assets.new", "assets.old"):  # a rebuild cut short
        shutil.rmtree(idx.dir / leftover, ignore_errors=True)
    if not idx.is_current():
        with ctx.db.read() as conn:
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM asset) AS e").fetchone()["e"]
        if empty:  # a new install: an empty index now, nothing to queue
            with idx.lock:
                _rebuild(ctx, idx)
        else:
            queue_rebuild(ctx)
    else:
        with ctx.db.read() as conn:
            pending = repo.dirty_count(conn, 0) > 0
        if pending:  # changes whose job was removed (an emptied queue): queue it again
            with ctx.db.write() as conn:
                jobs.enqueue(conn, UPDATE_JOB, {}, dedupe_key="search-index-update")


def queue_rebuild(ctx: Ctx) -> None:
    """Queue a full rebuild (SearchIndexQueueAll with force), once."""
    with ctx.db.write() as conn:
        jobs.enqueue(conn, QUEUE_ALL_JOB, {"force": True}, dedupe_key="search-index-queue-all")


# --- verify ----------------------------------------------------------------------------------------------

@dataclass
class Agreement:
    checked: int = 0
    pending: int = 0      # assets with changes not indexed yet (not judged)
    missing: bool = False  # no index (or of another version / database): to be built, not a fault
    problems: list[str] = field(default_factory=list)


def check(ctx: Ctx) -> Agreement:
    """Compare every document with what the DB says it should be (for `immich-lite verify`)."""
    idx = index_of(ctx)
    out = Agreement()
    if not idx.is_current():
        out.missing = True
        return out
    index = idx.open()
    assert index is not None
    index.reload()
    searcher = index.searcher()
    with ctx.db.read() as conn:
        dirty = set(repo.dirty_keys(conn))
        pending_ids = {r["asset_id"] for r in conn.execute("SELECT DISTINCT asset_id FROM search_dirty")}
        out.pending = len(pending_ids)
        n = searcher.num_docs
        hits = searcher.search(all_of(), max(n, 1), count=False, order_by_field="key").hits if n else []
        addrs = [a for _, a in hits]
        keys = [int(k) for k, _ in hits]
        digests = searcher.fast_field_values("digest", addrs) if addrs else []
        indexed: dict[int, list[tuple[int, Any]]] = {}
        for k, dg, addr in zip(keys, digests, addrs, strict=True):
            indexed.setdefault(k, []).append((int(dg), addr))
        for rows in _all_docs(conn):
            for d in rows:
                out.checked += 1
                got = indexed.pop(d["key"], None)
                if d["key"] in dirty:
                    continue
                if got is None:
                    out.problems.append(f"{d['id']}: not in the search index")
                elif [dg for dg, _ in got] != [d["digest"]]:
                    out.problems.append(f"{d['id']}: search index entry differs from the database")
        for k, entries in indexed.items():  # documents of no current asset: deletions not indexed yet, or wrong
            if k in dirty:
                continue
            for _, addr in entries:
                asset_id = searcher.doc(addr).get_first("id")
                if asset_id not in pending_ids:
                    out.problems.append(f"{asset_id}: in the search index but not in the database")
    return out
