"""The CLIP embeddings of smart_search, scanned in memory as 8-bit codes, with exact answers.

A search reads every stored vector once, so its cost is memory traffic: 100,000 x 512 float32 is 205 MB per query,
~20 ms on these 2 cores for numpy's matrix-vector product (sqlite-vec's vec0 k-NN measured ~130 ms, its wheel
has no SIMD). Here each row is kept as 512 int8 codes (its own scale: x ~ codes / scale), a quarter of that, and
scanned by onnxruntime's MatMulInteger with the codes as a constant (packed once; uint8 with zero point 128 on
both sides, the kernel that never saturates on any CPU): ~4 ms at 100,000.

The answers stay exact. Each row keeps |x - x^| (its quantisation error) and |x^|; for a query q (unit length)
and its own codes q^, |q.x - q^.x^| <= |x - x^| + |q - q^| |x^|. So the k nearest by the codes' lower bounds give
a similarity the true k-th nearest must reach, only rows whose upper bound reaches it can be among them, and
those few are compared exactly from their stored float32 BLOBs (SQLite, the source of truth: a row deleted since
the scan is simply not found). The same bound makes `within` exact.

The codes follow the table through smart_search_state (migration 0010): rows added since the scan was built are
read on the next search (only those) and kept as float32 beside it until there are enough to build it again;
after deletes or replacements beyond a few percent it is built again. The whole of it is freed after `ttl` idle
seconds, so an idle server holds none. Without onnxruntime (or if its answer ever differs from numpy's integer
product, checked when the scan is built) the codes are scanned by numpy, slower and just as exact.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("immich_lite.search")

STALE_FRACTION = 0.05  # removed rows beyond this share of the scan: build it again
REBUILD_TAIL = 2048    # rows added since the build, kept as float32, beyond which (and 5 %) it is built again
SLACK = 1e-5           # float32 rounding in the scale products, added to every bound
CHUNK = 8192           # rows per step of the numpy scan and per exact read
QUERY_ROWS = 2         # rows of codes per query


def _quantise(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(int8 codes, 1/scale, |x - x^|, |x^|) per row of unit vectors `m`."""
    peak = np.abs(m).max(axis=1) if len(m) else np.zeros(0, np.float32)
    scale = np.where(peak > 0, 127.0 / np.where(peak > 0, peak, 1.0), 1.0).astype(np.float32)
    codes = np.rint(m * scale[:, None]).astype(np.int8)
    inv = (1.0 / scale).astype(np.float32)
    approx = codes.astype(np.float32) * inv[:, None]
    err = np.linalg.norm(m - approx, axis=1).astype(np.float32)
    norm = np.linalg.norm(approx, axis=1).astype(np.float32)
    return codes, inv, err, norm


class _Scan:
    """codes @ q.T for QUERY_ROWS rows of int8 query codes q, as exact int32: onnxruntime's MatMulInteger, or
    numpy. (A query is two rows of codes, its 8-bit codes and those of what they left over: the codes are read
    once for both, and the query's own rounding all but vanishes from the bound.)"""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes  # kept only for the numpy path
        self.session: Any = None
        if len(codes):
            self.session = self._session(codes)
        if self.session is not None:
            self.codes = None

    @staticmethod
    def _session(codes: np.ndarray) -> Any:
        try:
            import onnxruntime as ort  # noqa: PLC0415

            from immich_lite.ml import onnx_proto as p  # noqa: PLC0415
        except ImportError:
            return None
        n, dim = codes.shape
        shifted = (codes.T.astype(np.int16) + 128).astype(np.uint8)  # (dim, n), zero point 128
        graph = p.model([p.node("MatMulInteger", ["q", "codes", "zero", "zero"], ["scores"])],
                        [p.tensor("codes", shifted), p.tensor("zero", np.array(128, dtype=np.uint8))],
                        [p.value_info("q", [QUERY_ROWS, dim], np.uint8)],
                        [p.value_info("scores", [QUERY_ROWS, n], np.int32)],
                        "smart_search_scan", opset=13)
        del shifted
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # measured: a second thread only adds its start-up
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        del graph
        # the kernel must agree with integer arithmetic (it does where the codes are uint8 on both sides; checked
        # here once per build, on a few thousand rows, so a CPU where it would not falls back to numpy)
        probe = np.random.default_rng(n).integers(-127, 128, (QUERY_ROWS, dim)).astype(np.int8)
        got = session.run(None, {"q": (probe.astype(np.int16) + 128).astype(np.uint8)})[0]
        rows = min(n, 4096)
        if not np.array_equal(got[:, :rows], probe.astype(np.int32) @ codes[:rows].astype(np.int32).T):
            log.warning("smart search: onnxruntime's integer product differs from numpy's here; scanning in numpy")
            return None
        return session

    def __call__(self, q: np.ndarray) -> np.ndarray:
        if self.session is not None:
            return self.session.run(None, {"q": (q.astype(np.int16) + 128).astype(np.uint8)})[0]
        if self.codes is None or not len(self.codes):
            return np.zeros((len(q), 0), np.int32)
        qf = q.astype(np.float32).T  # sums of 512 products of |x| <= 127 stay exact in float32 (< 2**24)
        return np.concatenate([self.codes[i:i + CHUNK].astype(np.float32) @ qf
                               for i in range(0, len(self.codes), CHUNK)]).T.astype(np.int32)


@dataclass
class _Matrix:
    version: int
    removed: int
    max_rowid: int
    rowids: np.ndarray      # smart_search rowids: the built rows, then the tail
    keys: np.ndarray        # asset rowids (what repos.search works with)
    dim: int
    scan: _Scan             # over the built rows
    inv: np.ndarray         # per built row: 1 / its scale
    err: np.ndarray         # per built row: |x - x^|
    norm: np.ndarray        # per built row: |x^|
    tail: np.ndarray        # float32 unit rows added since the build (exact)

    @property
    def built(self) -> int:
        return len(self.inv)


class VectorIndex:
    def __init__(self, *, clock: Any = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._m: _Matrix | None = None
        self._clock = clock
        self.last_used = clock()

    @property
    def loaded(self) -> bool:
        return self._m is not None

    def unload(self) -> None:
        with self._lock:
            self._m = None

    def idle_unload(self, ttl: float) -> bool:
        with self._lock:
            if self._m is None or ttl <= 0 or self._clock() - self.last_used < ttl:
                return False
            self._m = None
            return True

    @staticmethod
    def _read(conn: Any, after_rowid: int) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
        cur = conn.cursor()
        cur.row_trace = None
        rows = cur.execute("SELECT s.rowid, a.rowid, s.embedding FROM smart_search s JOIN asset a ON a.id = s.asset_id "
                           "WHERE s.rowid > ? ORDER BY s.rowid", (after_rowid,)).fetchall()
        return (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)), [r[2] for r in rows])

    @staticmethod
    def _unit(blobs: list[bytes], dim: int) -> np.ndarray:
        if not blobs:
            return np.zeros((0, dim), dtype=np.float32)
        m = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m /= np.where(norms > 0, norms, 1.0)
        return m

    def _build(self, conn: Any, state: Any) -> _Matrix:
        """Read every row, CHUNK at a time (no float32 copy of the whole table is ever held), into codes."""
        cur = conn.cursor()
        cur.row_trace = None
        top = cur.execute("SELECT length(embedding), count(*) FROM smart_search GROUP BY 1 "
                          "ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
        dim = int(top[0]) // 4 if top else 0  # one model at a time; stray sizes dropped
        max_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) AS n FROM smart_search").fetchone()["n"])
        rowids, keys, parts = [], [], []
        rows = cur.execute("SELECT s.rowid, a.rowid, s.embedding FROM smart_search s JOIN asset a ON a.id = s.asset_id "
                           "WHERE length(s.embedding) = ? ORDER BY s.rowid", (dim * 4,))
        while chunk := list(itertools.islice(rows, CHUNK)):
            rowids.append(np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk)))
            keys.append(np.fromiter((r[1] for r in chunk), dtype=np.int64, count=len(chunk)))
            parts.append(_quantise(self._unit([r[2] for r in chunk], dim)))
        codes, inv, err, norm = ((np.concatenate([p[i] for p in parts]) for i in range(4)) if parts else
                                 (np.zeros((0, dim), np.int8), *(np.zeros(0, np.float32) for _ in range(3))))
        del parts
        return _Matrix(state["version"], state["removed"], max_rowid,
                       np.concatenate(rowids) if rowids else np.zeros(0, np.int64),
                       np.concatenate(keys) if keys else np.zeros(0, np.int64), dim, _Scan(codes), inv, err, norm,
                       np.zeros((0, dim), dtype=np.float32))

    def _current(self, conn: Any) -> _Matrix:
        """The scan as of one read snapshot (the caller's, or one taken here): state, rows and max rowid agree."""
        if conn.in_transaction:
            return self._current_in(conn)
        conn.execute("BEGIN")
        try:
            return self._current_in(conn)
        finally:
            conn.execute("COMMIT")

    def _current_in(self, conn: Any) -> _Matrix:
        state = conn.execute("SELECT version, removed FROM smart_search_state WHERE id = 1").fetchone()
        m = self._m
        if m is not None and m.version == state["version"]:
            return m
        if m is not None and state["removed"] - m.removed <= STALE_FRACTION * max(len(m.rowids), 1):
            rowids, keys, blobs = self._read(conn, m.max_rowid)  # only what was added since
            tail = len(m.tail) + len(rowids)
            if {len(b) for b in blobs} <= {m.dim * 4} and tail <= max(REBUILD_TAIL, STALE_FRACTION * m.built):
                m = _Matrix(state["version"], m.removed, int(rowids[-1]) if len(rowids) else m.max_rowid,
                            np.concatenate([m.rowids, rowids]), np.concatenate([m.keys, keys]), m.dim, m.scan,
                            m.inv, m.err, m.norm, np.concatenate([m.tail, self._unit(blobs, m.dim)]))
                self._m = m
                return m
        self._m = None  # the old scan's memory is free before the new one is built
        m = self._m = self._build(conn, state)
        from immich_lite.ml.lifecycle import release_heap  # noqa: PLC0415

        release_heap()  # the rows read and the model bytes are gone: give their heap back
        return m

    def _bounds(self, conn: Any, query: np.ndarray) -> tuple[_Matrix, np.ndarray, np.ndarray, np.ndarray] | None:
        """The current scan, the unit query, and per row (built, then tail) an approximate cosine similarity
        and how far the true one can be from it; None when the stored dimension differs or nothing is stored."""
        with self._lock:
            m = self._current(conn)
            self.last_used = self._clock()
        q = np.asarray(query, dtype=np.float32).ravel()
        if m.dim != q.size or not len(m.rowids):
            return None
        norm = float(np.linalg.norm(q))
        q = q / norm if norm > 0 else q
        codes, scales, rest = [], [], q
        for _ in range(QUERY_ROWS):  # the query's codes, then the codes of what they left over
            peak = float(np.abs(rest).max())
            scale = 127.0 / peak if peak > 0 else 1.0
            codes.append(np.rint(rest * scale).astype(np.int8))
            scales.append(scale)
            rest = rest - codes[-1].astype(np.float32) / np.float32(scale)
        q_err = float(np.linalg.norm(rest))
        scores = m.scan(np.stack(codes)).astype(np.float64)
        approx = ((scores.T @ (1.0 / np.array(scales))).astype(np.float32)) * m.inv
        bound = m.err + np.float32(q_err) * m.norm + np.float32(SLACK)
        if len(m.tail):  # added since the build: exact already
            approx = np.concatenate([approx, m.tail @ q])
            bound = np.concatenate([bound, np.zeros(len(m.tail), np.float32)])
        return m, q, approx, bound

    def _exact(self, conn: Any, m: _Matrix, q: np.ndarray,
               rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows still stored, their exact cosine distances from their BLOBs, rows gone since they were read).
        sqlite-vec's vec_distance_cosine reads the BLOBs where they are (half the time of copying them out)."""
        found: dict[int, float] = {}
        cur = conn.cursor()
        cur.row_trace = None
        query = np.ascontiguousarray(q, dtype="<f4").tobytes()
        for i in range(0, len(rows), CHUNK):
            ids_ = [int(r) for r in m.rowids[rows[i:i + CHUNK]]]
            found.update(cur.execute(
                f"SELECT rowid, vec_distance_cosine(embedding, ?) FROM smart_search WHERE length(embedding) = ? "
                f"AND rowid IN ({','.join('?' * len(ids_))})", [query, m.dim * 4, *ids_]).fetchall())
        present = np.array([int(r) in found for r in m.rowids[rows]], dtype=bool)
        gone, rows = rows[~present], rows[present]
        distances = np.array([found[int(r)] for r in m.rowids[rows]], dtype=np.float32)
        return rows.astype(np.int64), np.nan_to_num(distances, nan=1.0), gone  # a zero vector: 1, as numpy's

    @staticmethod
    def _ordered(m: _Matrix, rows: np.ndarray, distances: np.ndarray,
                 count: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`rows` (with their `distances`) nearest first, ties by asset key; the first `count` when given."""
        if count is not None and count < len(distances):
            part = np.argpartition(distances, count - 1)[:count]
            rows, distances = rows[part], distances[part]
        order = np.lexsort((m.keys[rows], distances))
        return m.rowids[rows][order], m.keys[rows][order], distances[order]

    def _nearest_of(self, conn: Any, found: tuple[_Matrix, np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray,
                    count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The `count` nearest of `rows`, exactly: the k-th best lower bound is a similarity the k-th nearest
        reaches, so only rows whose upper bound reaches it are compared exactly. Rows deleted since the build
        leave the pool and the bound is taken again without them."""
        m, q, approx, bound = found
        while len(rows) and count > 0:
            a, b = approx[rows], bound[rows]
            k = min(count, len(rows))
            floor = np.partition(a - b, len(rows) - k)[len(rows) - k]
            hits, distances, gone = self._exact(conn, m, q, rows[a + b >= floor])
            if not len(gone):
                return self._ordered(m, hits, distances, count)
            rows = np.setdiff1d(rows, gone, assume_unique=True)
        return _EMPTY

    def nearest(self, conn: Any, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The `count` rows nearest to `query` by cosine distance, nearest first (ties by asset key):
        (smart_search rowids, asset rowids, distances). Empty when the stored dimension differs."""
        found = self._bounds(conn, query)
        if found is None:
            return _EMPTY
        return self._nearest_of(conn, found, np.arange(len(found[2])), count)

    def nearest_among(self, conn: Any, query: np.ndarray, allowed: np.ndarray,
                      count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As `nearest`, among the rows whose asset rowid is in `allowed` (a selective filter's matches)."""
        found = self._bounds(conn, query)
        if found is None:
            return _EMPTY
        return self._nearest_of(conn, found, np.flatnonzero(np.isin(found[0].keys, allowed)), count)

    def size(self, conn: Any) -> int:
        with self._lock:
            return len(self._current(conn).rowids)

    def within(self, conn: Any, query: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row within `max_distance` (cosine) of `query`, nearest first."""
        found = self._bounds(conn, query)
        if found is None:
            return _EMPTY
        m, q, approx, bound = found
        rows, distances, _ = self._exact(conn, m, q, np.flatnonzero(approx + bound >= 1.0 - max_distance))
        keep = distances <= max_distance
        return self._ordered(m, rows[keep], distances[keep], None)


_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
_indexes: dict[str, VectorIndex] = {}
_indexes_lock = threading.Lock()


def index_for(conn: Any) -> VectorIndex:
    """The process's index for this database file."""
    key = conn.db_filename("main")
    with _indexes_lock:
        found = _indexes.get(key)
        if found is None:
            found = _indexes[key] = VectorIndex()
        return found


def unload_idle(ttl: float) -> int:
    with _indexes_lock:
        indexes = list(_indexes.values())
    return sum(1 for i in indexes if i.idle_unload(ttl))
