"""Smart search and duplicate detection (upstream SmartInfoService, SearchService.searchSmart, DuplicateService's
detection jobs) on CLIP embeddings from the machine-learning provider (ml/provider.py: a configured URL, else in
process with a model from the models directory).

SmartSearch (smartSearch queue, after thumbnails) embeds the preview into smart_search; AssetDetectDuplicates
(after it) groups near-identical assets of an owner by `duplicateDetection.maxDistance` (cosine) into one
duplicateId, as upstream. POST /search/smart ranks the assets that pass every metadata filter by cosine distance
to the query's text embedding (cached per model, text and language, as upstream) or to another asset's embedding;
distances come from search/vectors.py, the filters from repos.search, checked on the nearest candidates and
widened until the page is full.

One model at a time: changing `clip.modelName` (or switching CLIP on) empties smart_search and queues every asset
again in the same transaction as the config change, so a search never mixes dimensions.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from immich_lite import ids, jobs
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.jobs import JobName, JobStatus, QueueName
from immich_lite.repos import search as repo
from immich_lite.repos import system_metadata
from immich_lite.search.vectors import index_for
from immich_lite.services.system_config import config_view

log = logging.getLogger("immich_lite.smart_search")
STATE_KEY = "smart-search"  # {"modelName", "dimension"} of what smart_search holds
DEFAULT_SIZE = 100
DUPLICATE_SEARCH_LIMIT = 64
_TEXT_CACHE_SIZE = 100
_text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_text_lock = threading.Lock()


def enabled(config: dict[str, Any]) -> bool:
    """Upstream isSmartSearchEnabled."""
    ml = config["machineLearning"]
    return bool(ml["enabled"] and ml["clip"]["enabled"])


def duplicates_enabled(config: dict[str, Any]) -> bool:
    """Upstream isDuplicateDetectionEnabled."""
    ml = config["machineLearning"]
    return enabled(config) and bool(ml["duplicateDetection"]["enabled"])


def available(ctx: Ctx, config: dict[str, Any], *, wait: bool = True) -> bool:
    """Smart search can answer: enabled, and a configured URL is up or the model is in the models directory.
    With wait=False (inside a write transaction) no URL is pinged: one not known to be down counts, and the
    SmartSearch job asks again, waiting, before it runs."""
    if not enabled(config):
        return False
    from immich_lite.ml import provider  # noqa: PLC0415

    ml = config["machineLearning"]
    r = provider.router(ctx)
    return r.local.clip_available(ml["clip"]["modelName"]) or bool(r.remote_order(ml, wait=wait))


def on_config_change(w: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    """In the config update's transaction: a new CLIP model (or CLIP switched on) re-embeds everything."""
    if not enabled(new):
        return
    if enabled(old) and old["machineLearning"]["clip"]["modelName"] == new["machineLearning"]["clip"]["modelName"]:
        return
    state = system_metadata.get(w, STATE_KEY) or {}
    if state.get("modelName") == new["machineLearning"]["clip"]["modelName"]:
        return
    w.execute("DELETE FROM smart_search")
    system_metadata.delete(w, STATE_KEY)
    jobs.enqueue(w, JobName.SMART_SEARCH_QUEUE_ALL, {"force": False})
    log.info("CLIP model changed to %s: every asset is embedded again", new["machineLearning"]["clip"]["modelName"])


def _preview(conn: Any, asset_id: str) -> Any:
    return conn.execute("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'preview' AND is_edited = 0",
                        (asset_id,)).fetchone()


# -- jobs --------------------------------------------------------------------------------------------------------

@jobs.register(JobName.SMART_SEARCH_QUEUE_ALL, QueueName.SMART_SEARCH)
def queue_smart_search(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    if not enabled(config_view(ctx)):
        return JobStatus.SKIPPED
    if data.get("force"):
        with ctx.db.write() as w:
            w.execute("DELETE FROM smart_search")
            system_metadata.delete(w, STATE_KEY)
    sql = ("SELECT a.id FROM asset a WHERE a.deleted_at IS NULL AND a.visibility != 'hidden' AND EXISTS "
           "(SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview') "
           "AND NOT EXISTS (SELECT 1 FROM smart_search s WHERE s.asset_id = a.id) ORDER BY a.id")
    from immich_lite.services.queue import fan_out  # noqa: PLC0415

    return fan_out(ctx, sql, (), JobName.SMART_SEARCH)


def _follow_smart_search(ctx: Ctx, conn: Any, data: dict[str, Any]) -> list[Any]:
    """Upstream onDone of SmartSearch: duplicate detection, when it is on, and when there is an embedding to
    compare (a SmartSearch skipped because nothing could answer stored none: no job that can only fail)."""
    if not duplicates_enabled(config_view(ctx, conn)):
        return []
    stored = conn.execute("SELECT 1 FROM smart_search WHERE asset_id = ?", (data.get("id"),)).fetchone()
    return [JobName.ASSET_DETECT_DUPLICATES] if stored else []


@jobs.register(JobName.SMART_SEARCH, QueueName.SMART_SEARCH, then=(JobName.ASSET_DETECT_DUPLICATES,),
               follow=_follow_smart_search)
def embed_asset(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    config = config_view(ctx)
    if not enabled(config):
        return JobStatus.SKIPPED
    from immich_lite.ml import provider  # noqa: PLC0415

    conn = ctx.db.reader()
    asset = conn.execute("SELECT id, visibility FROM asset WHERE id = ?", (data["id"],)).fetchone()
    preview = _preview(conn, data["id"])
    if asset is None or preview is None:
        return JobStatus.FAILED
    if asset["visibility"] == "hidden":
        return JobStatus.SKIPPED
    if not available(ctx, config):
        return JobStatus.SKIPPED  # no URL answers and no model here: nothing to run (queued while that was unknown)
    model = config["machineLearning"]["clip"]["modelName"]
    answer = provider.predict(ctx, config["machineLearning"], {"clip": {"visual": {"modelName": model}}},
                              image_path=str(ctx.storage.absolute(preview["path"])))
    vector = _vector(answer.get("clip"))
    with ctx.db.write() as w:
        if w.execute("SELECT 1 FROM asset WHERE id = ?", (asset["id"],)).fetchone() is None:
            return JobStatus.SKIPPED  # deleted meanwhile
        state = system_metadata.get(w, STATE_KEY) or {}
        if state.get("modelName") != model or state.get("dimension") != len(vector):
            if config_view(ctx, w)["machineLearning"]["clip"]["modelName"] != model:
                return JobStatus.SKIPPED  # the model changed while this ran: the queue-all embeds it again
            if state:  # stored by another model or size: start over with this one, never mix
                w.execute("DELETE FROM smart_search")
                jobs.enqueue(w, JobName.SMART_SEARCH_QUEUE_ALL, {"force": False})
            system_metadata.set(w, STATE_KEY, {"modelName": model, "dimension": len(vector)})
        w.execute("DELETE FROM smart_search WHERE asset_id = ?", (asset["id"],))
        w.execute("INSERT INTO smart_search (asset_id, embedding) VALUES (?, ?)",
                  (asset["id"], np.asarray(vector, dtype="<f4").tobytes()))
    return JobStatus.SUCCESS


def _vector(value: Any) -> list[float]:
    """An embedding from an ML answer: upstream sends a JSON array in a string.
    :raises ValueError: not an embedding."""
    vector = json.loads(value) if isinstance(value, str) else value
    if not isinstance(vector, list) or not vector or not all(isinstance(x, (int, float)) for x in vector):
        raise ValueError("the machine-learning answer has no clip embedding")
    return [float(x) for x in vector]


@jobs.register(JobName.ASSET_DETECT_DUPLICATES_QUEUE_ALL, QueueName.DUPLICATE_DETECTION)
def queue_duplicates(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    if not duplicates_enabled(config_view(ctx)):
        return JobStatus.SKIPPED
    sql = ("SELECT a.id FROM asset a JOIN smart_search s ON s.asset_id = a.id WHERE a.deleted_at IS NULL "
           "AND a.visibility IN ('archive', 'timeline') AND a.stack_id IS NULL")
    if not data.get("force"):
        sql += (" AND NOT EXISTS (SELECT 1 FROM asset_job_status j WHERE j.asset_id = a.id "
                "AND j.duplicates_detected_at IS NOT NULL)")
    from immich_lite.services.queue import fan_out  # noqa: PLC0415

    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.ASSET_DETECT_DUPLICATES)


@jobs.register(JobName.ASSET_DETECT_DUPLICATES, QueueName.DUPLICATE_DETECTION)
def detect_duplicates(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    config = config_view(ctx)
    if not duplicates_enabled(config):
        return JobStatus.SKIPPED
    conn = ctx.db.reader()
    asset = conn.execute("SELECT a.id, a.owner_id, a.type, a.visibility, a.stack_id, a.duplicate_id, s.embedding "
                         "FROM asset a LEFT JOIN smart_search s ON s.asset_id = a.id WHERE a.id = ?",
                         (data["id"],)).fetchone()
    if asset is None:
        return JobStatus.FAILED
    if asset["stack_id"] or asset["visibility"] in ("hidden", "locked"):
        return JobStatus.SKIPPED
    if asset["embedding"] is None:
        return JobStatus.FAILED
    max_distance = float(config["machineLearning"]["duplicateDetection"]["maxDistance"])
    query = np.frombuffer(asset["embedding"], dtype="<f4")
    _, keys, distances = index_for(conn).within(conn, query, max_distance)
    found: list[dict[str, Any]] = []
    if len(keys):
        marks = ",".join("?" * len(keys))
        rows = {r["rowid"]: r for r in conn.execute(
            f"""SELECT a.rowid, a.id, a.duplicate_id FROM asset a JOIN smart_search s ON s.asset_id = a.id
                WHERE a.rowid IN ({marks}) AND a.owner_id = ? AND a.deleted_at IS NULL AND a.type = ?
                  AND a.id != ? AND a.stack_id IS NULL AND a.visibility IN ('archive', 'timeline')""",
            [*map(int, keys), asset["owner_id"], asset["type"], asset["id"]])}
        found = [dict(rows[int(k)]) for k in keys if int(k) in rows][:DUPLICATE_SEARCH_LIMIT]
    now = ids.now_iso()
    with ctx.db.write() as w:
        current = w.execute("SELECT duplicate_id FROM asset WHERE id = ?", (asset["id"],)).fetchone()
        if current is None:
            return JobStatus.SKIPPED
        touched = [asset["id"]]
        if found:  # upstream updateDuplicates: join the group already there, or found one
            others = list(dict.fromkeys(f["duplicate_id"] for f in found if f["duplicate_id"]))
            target = current["duplicate_id"] or (others.pop(0) if others else ids.new_id())
            others = [o for o in others if o != target]
            touched += [f["id"] for f in found if f["duplicate_id"] != target]
            marks_a, marks_d = ",".join("?" * len(touched)), ",".join("?" * len(others)) or "NULL"
            w.execute(f"UPDATE asset SET duplicate_id = ? WHERE id IN ({marks_a}) OR duplicate_id IN ({marks_d})",
                      [target, *touched, *others])
            log.debug("asset %s: %d duplicate(s)", asset["id"], len(found))
        elif current["duplicate_id"]:
            w.execute("UPDATE asset SET duplicate_id = NULL WHERE id = ?", (asset["id"],))
        for asset_id in touched:
            w.execute("INSERT INTO asset_job_status (asset_id, duplicates_detected_at) VALUES (?, ?) "
                      "ON CONFLICT (asset_id) DO UPDATE SET duplicates_detected_at = excluded.duplicates_detected_at",
                      (asset_id, now))
    return JobStatus.SUCCESS


# -- search ------------------------------------------------------------------------------------------------------

def _text_embedding(ctx: Ctx, config: dict[str, Any], query: str, language: str | None) -> np.ndarray:
    from immich_lite.ml import provider  # noqa: PLC0415

    model = config["machineLearning"]["clip"]["modelName"]
    key = f"{ctx.settings.models_path}\0{model}\0{query}\0{language}"  # per server (tests run several)
    with _text_lock:
        hit = _text_cache.get(key)
        if hit is not None:
            _text_cache.move_to_end(key)
            return hit
    textual: dict[str, Any] = {"modelName": model}
    if language:
        textual["options"] = {"language": language}
    answer = provider.predict(ctx, config["machineLearning"], {"clip": {"textual": textual}}, text=query)
    vector = np.asarray(_vector(answer.get("clip")), dtype=np.float32)
    with _text_lock:
        _text_cache[key] = vector
        while len(_text_cache) > _TEXT_CACHE_SIZE:
            _text_cache.popitem(last=False)
    return vector


def search_smart(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """POST /search/smart (upstream SearchService.searchSmart)."""
    from immich_lite.ml.inprocess import MlError  # noqa: PLC0415
    from immich_lite.services import search  # noqa: PLC0415

    search.require_elevated(auth, dto)
    config = config_view(ctx)
    if not enabled(config):
        raise BadRequest("Smart search is not enabled")
    conn = ctx.db.reader()
    if dto.get("query"):
        try:
            embedding = _text_embedding(ctx, config, str(dto["query"]), dto.get("language"))
        except (MlError, ValueError) as e:
            log.warning("smart search: the query could not be encoded: %s", e)
            raise BadRequest(f"Smart search is not available: {e}") from None
    elif dto.get("queryAssetId"):
        require_access(conn, auth, "asset.read", [dto["queryAssetId"]])
        row = conn.execute("SELECT embedding FROM smart_search WHERE asset_id = ?", (dto["queryAssetId"],)).fetchone()
        if row is None:
            raise BadRequest(f"Asset {dto['queryAssetId']} has no embedding")
        embedding = np.frombuffer(row["embedding"], dtype="<f4")
    else:
        raise BadRequest("Either `query` or `queryAssetId` must be set")
    page, size = int(dto.get("page") or 1), int(dto.get("size") or DEFAULT_SIZE)
    with ctx.db.read() as conn:
        user_ids = search.user_ids_to_search(conn, auth, dto.get("visibility"))
        f = search.build_filter(conn, auth, dto, user_ids=user_ids, album_ids=dto.get("albumIds"))
        # `query` is the meaning searched for here, not a text filter (as /search/metadata reads it); `ocr` is one
        search._with_text(ctx, conn, f, {k: v for k, v in dto.items() if k != "query"})
        keys = _ranked(conn, f, embedding, page * size + 1)
        found = keys[(page - 1) * size:]
        has_next = len(found) > size
        items = search.map_results(conn, auth, found[:size], with_exif=bool(dto.get("withExif")),
                                   with_people=bool(dto.get("withPeople")))
    return search._response(items, str(page + 1) if has_next else None)


def _check(conn: Any, f: repo.Filter, keys: np.ndarray, rowids: np.ndarray) -> set[int]:
    """Which candidates pass every filter (and still have the embedding the scan saw). The candidates drive the
    query (repos.search's `keys`: SQLite loops over them, not over the owners' assets)."""
    allowed = None if f.keys is None else set(f.keys)
    passed: set[int] = set()
    for i in range(0, len(keys), 5000):
        chunk_keys = [int(k) for k in keys[i:i + 5000] if allowed is None or int(k) in allowed]
        if not chunk_keys:
            continue
        g = dataclasses.replace(f, keys=chunk_keys)
        joins, cond, args = repo.where(g)
        chunk_rows = [int(r) for r in rowids[i:i + 5000]]
        marks = ",".join("?" * len(chunk_rows))
        cur = conn.cursor()
        cur.row_trace = None
        passed.update(r[0] for r in cur.execute(
            f"SELECT a.rowid FROM {joins} WHERE {cond} AND EXISTS "
            f"(SELECT 1 FROM smart_search s WHERE s.asset_id = a.id AND s.rowid IN ({marks}))",
            [*args, *chunk_rows]))
    return passed


WIDEST_LOOK = 4096  # candidates a widened look may check; beyond, the filters run first


def _ranked(conn: Any, f: repo.Filter, embedding: np.ndarray, need: int) -> list[int]:
    """Asset rowids passing the filter, nearest to `embedding` first, at least `need` of them when there are.

    The nearest candidates are checked against the filters, widening while too few pass; when the first look
    shows the filters are selective (widening would check a large share of all rows), the filters run first
    and only their matches are ranked."""
    index = index_for(conn)
    joins, cond, args = repo.where(f)
    take = max(need + need // 4, 128)  # most searches filter little: a look a little wider than the page
    total = index.size(conn)
    while True:
        rowids, keys, _ = index.nearest(conn, embedding, take)
        passed = _check(conn, f, keys, rowids)
        ranked = list(dict.fromkeys(int(k) for k in keys if int(k) in passed))  # a replaced row: nearest copy
        if len(ranked) >= need or len(keys) < take:
            return ranked
        rate = max(len(passed), 1) / max(len(keys), 1)
        # selective: filter first, then rank what matched (a wider look costs an exact check per candidate)
        if need / rate * 2 > min(total / 4, WIDEST_LOOK):
            cur = conn.cursor()
            cur.row_trace = None
            allowed = np.fromiter((r[0] for r in cur.execute(f"SELECT a.rowid FROM {joins} WHERE {cond}", args)),
                                  dtype=np.int64)
            rowids, keys, _ = index.nearest_among(conn, embedding, allowed, need)
            passed = _check(conn, f, keys, rowids)
            return list(dict.fromkeys(int(k) for k in keys if int(k) in passed))
        take = int(min(max(take * 4, need / rate * 2), total))
