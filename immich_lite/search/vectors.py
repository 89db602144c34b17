"""The CLIP embeddings of smart_search as one in-memory float32 matrix, scanned with one matrix-vector product.

Measured on these 2 cores at 100,000 x 512: numpy's scan ~16 ms, sqlite-vec's vec0 k-NN ~130 ms (its wheel has no
SIMD), a binary-quantised vec0 pre-search ~190 ms and poor recall; so the exact scan runs in numpy, over rows read
from SQLite (the source of truth: 100,000 rows read in ~0.7 s on the first search).

The matrix follows the table through smart_search_state (migration 0010): rows added since it was read are read
on the next search (only those); after deletes or replacements beyond a few percent it is read again. Rows a
search finds that were deleted meanwhile are dropped by the caller's check against the table (`rowid` and
`asset rowid` come with each hit). The matrix is freed after `ttl` idle seconds, so an idle server holds none.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

STALE_FRACTION = 0.05  # removed rows beyond this share of the matrix: read it all again


@dataclass
class _Matrix:
    version: int
    removed: int
    max_rowid: int
    rowids: np.ndarray      # smart_search rowids
    keys: np.ndarray        # asset rowids (what repos.search works with)
    matrix: np.ndarray      # float32 (n, dim), rows L2-normalised
    dim: int


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
    def _stack(blobs: list[bytes], dim: int | None) -> tuple[np.ndarray, int]:
        if not blobs:
            return np.zeros((0, dim or 0), dtype=np.float32), dim or 0
        dim = dim or len(blobs[0]) // 4
        good = [b for b in blobs if len(b) == dim * 4]
        m = np.frombuffer(b"".join(good), dtype="<f4").reshape(len(good), dim).astype(np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m /= np.where(norms > 0, norms, 1.0)
        return m, dim

    def _current(self, conn: Any) -> _Matrix:
        state = conn.execute("SELECT version, removed FROM smart_search_state WHERE id = 1").fetchone()
        m = self._m
        if m is not None and m.version == state["version"]:
            return m
        if m is not None and state["removed"] - m.removed <= STALE_FRACTION * max(len(m.rowids), 1):
            rowids, keys, blobs = self._read(conn, m.max_rowid)  # only what was added since
            sizes = {len(b) for b in blobs}
            if sizes <= {m.dim * 4}:
                add, _ = self._stack(blobs, m.dim)
                m = _Matrix(state["version"], m.removed, int(rowids[-1]) if len(rowids) else m.max_rowid,
                            np.concatenate([m.rowids, rowids]), np.concatenate([m.keys, keys]),
                            np.concatenate([m.matrix, add]) if len(add) else m.matrix, m.dim)
                self._m = m
                return m
        rowids, keys, blobs = self._read(conn, 0)
        sizes = [len(b) for b in blobs]
        dim = max(set(sizes), key=sizes.count) // 4 if sizes else 0  # one model at a time; stray sizes dropped
        keep = np.array([s == dim * 4 for s in sizes], dtype=bool)
        matrix, _ = self._stack([b for b, k in zip(blobs, keep, strict=True) if k], dim)
        m = _Matrix(state["version"], state["removed"], int(rowids[-1]) if len(rowids) else 0, rowids[keep],
                    keys[keep], matrix, dim)
        self._m = m
        return m

    def _distances(self, conn: Any, query: np.ndarray) -> tuple[_Matrix, np.ndarray] | None:
        """The current matrix and every row's cosine distance to `query`; None when the stored dimension differs
        or nothing is stored."""
        with self._lock:
            m = self._current(conn)
            self.last_used = self._clock()
        q = np.asarray(query, dtype=np.float32).ravel()
        if m.dim != q.size or not len(m.rowids):
            return None
        norm = float(np.linalg.norm(q))
        return m, 1.0 - (m.matrix @ (q / norm if norm > 0 else q))

    @staticmethod
    def _ordered(m: _Matrix, rows: np.ndarray, distances: np.ndarray,
                 count: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`rows` (with their `distances`) nearest first, ties by asset key; the first `count` when given."""
        if count is not None and count < len(distances):
            part = np.argpartition(distances, count - 1)[:count]
            rows, distances = rows[part], distances[part]
        order = np.lexsort((m.keys[rows], distances))
        return m.rowids[rows][order], m.keys[rows][order], distances[order]

    def nearest(self, conn: Any, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The `count` rows nearest to `query` by cosine distance, nearest first (ties by asset key):
        (smart_search rowids, asset rowids, distances). Empty when the stored dimension differs."""
        found = self._distances(conn, query)
        if found is None:
            return _EMPTY
        m, distances = found
        return self._ordered(m, np.arange(len(distances)), distances, count)

    def nearest_among(self, conn: Any, query: np.ndarray, allowed: np.ndarray,
                      count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As `nearest`, among the rows whose asset rowid is in `allowed` (a selective filter's matches)."""
        found = self._distances(conn, query)
        if found is None:
            return _EMPTY
        m, distances = found
        rows = np.flatnonzero(np.isin(m.keys, allowed))
        return self._ordered(m, rows, distances[rows], count)

    def size(self, conn: Any) -> int:
        with self._lock:
            return len(self._current(conn).rowids)

    def within(self, conn: Any, query: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row within `max_distance` (cosine) of `query`, nearest first."""
        found = self._distances(conn, query)
        if found is None:
            return _EMPTY
        m, distances = found
        rows = np.flatnonzero(distances <= max_distance)
        return self._ordered(m, rows, distances[rows], None)


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
