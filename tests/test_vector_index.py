"""search/vectors.py against brute force: the 8-bit scan with its error bounds answers exactly what a float32 scan
of the stored BLOBs answers (nearest, nearest among a filter's matches, within a distance), also after rows are
added (the float32 tail), deleted (rows gone since the build) or replaced, and the same without onnxruntime."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from immich_lite import ids
from immich_lite.search import vectors
from tests.helpers.app import admin_app

DIM = 512


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 40 centres (what CLIP embeddings of a library look like: many near neighbours)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM)).astype(np.float32)
    m = centres[rng.integers(0, 40, n)] + 0.7 * rng.normal(size=(n, DIM)).astype(np.float32)
    return (m * rng.uniform(0.5, 2.0, (n, 1))).astype(np.float32)  # stored unnormalised, as a model may


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    with admin_app(tmp_path / "data", workers=0) as (app, admin):
        yield app.state.ctx.db, [admin.id]


def insert(db: Any, owner: str, vecs: np.ndarray) -> list[str]:
    now = ids.now_iso()
    out = []
    with db.write() as w:
        for i, v in enumerate(vecs):
            aid = str(uuid.uuid4())
            w.execute("INSERT INTO asset (id, owner_id, type, original_path, original_file_name, checksum, "
                      "file_created_at, file_modified_at, local_date_time, created_at, updated_at) "
                      "VALUES (?, ?, 'IMAGE', ?, ?, ?, ?, ?, ?, ?, ?)",
                      (aid, owner, f"upload/{aid}.jpg", f"{i}.jpg", os.urandom(20), now, now, now, now, now))
            w.execute("INSERT INTO smart_search (asset_id, embedding) VALUES (?, ?)", (aid, v.astype("<f4").tobytes()))
            out.append(aid)
    return out


def truth(conn: Any, query: np.ndarray, allowed: set[int] | None = None) -> tuple[list[int], np.ndarray]:
    """Asset rowids nearest first (ties by rowid) and their distances, from the BLOBs in float32."""
    rows = conn.execute("SELECT a.rowid AS k, s.embedding AS e FROM smart_search s JOIN asset a ON a.id = s.asset_id"
                        ).fetchall()
    rows = [r for r in rows if allowed is None or r["k"] in allowed]
    keys = np.array([r["k"] for r in rows], dtype=np.int64)
    m = np.frombuffer(b"".join(r["e"] for r in rows), dtype="<f4").reshape(len(rows), DIM)
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    d = (1.0 - m @ (query / np.linalg.norm(query))).astype(np.float32)
    order = np.lexsort((keys, d))
    return [int(k) for k in keys[order]], d[order]


def same(keys: np.ndarray, d: np.ndarray, want: list[int], want_d: np.ndarray, k: int) -> bool:
    """The k nearest as brute force ranks them; rows at the same distance (to float32 rounding: a vector stored
    twice) may come in either order."""
    assert len(keys) == min(k, len(want)), (len(keys), k)
    assert np.allclose(d, want_d[:k], atol=1e-6)
    for i, key in enumerate(int(x) for x in keys):
        tied = {w for w, x in zip(want, want_d) if abs(float(x) - float(d[i])) < 1e-6}
        assert key == want[i] or (key in tied and want[i] in tied), (i, key, want[i], float(d[i]))
    return True


def check_all(db: Any, queries: np.ndarray) -> None:
    conn = db.reader()
    index = vectors.index_for(conn)
    keys_all = [r["rowid"] for r in conn.execute("SELECT rowid FROM asset")]
    allowed = np.array(keys_all[::7], dtype=np.int64)
    for q in queries:
        want, want_d = truth(conn, q)
        for k in (1, 10, 101):
            _, keys, d = index.nearest(conn, q, k)
            assert same(keys, d, want, want_d, k)
        sub, sub_d = truth(conn, q, set(int(x) for x in allowed))
        _, keys, d = index.nearest_among(conn, q, allowed, 25)
        assert same(keys, d, sub, sub_d, 25)
        limit = float(want_d[30]) + 5e-7  # a distance with 31 rows within it (clear of rounding)
        _, keys, d = index.within(conn, q, limit)
        n = int(np.sum(want_d <= limit))
        assert n == len(keys) and same(keys, d, want, want_d, n)


def test_the_8_bit_scan_answers_exactly_as_brute_force(lib: tuple[Any, list[str]]) -> None:
    db, (owner,) = lib
    base = clustered(3000, 1)
    insert(db, owner, base)
    rng = np.random.default_rng(2)
    queries = np.concatenate([base[rng.integers(0, 3000, 4)], clustered(2, 3)])
    check_all(db, queries)
    index = vectors.index_for(db.reader())
    m = index._m  # noqa: SLF001 (which scan ran)
    assert m is not None and m.built == 3000 and m.scan.session is not None  # onnxruntime's, checked at build
    assert m.scan.codes is None  # the codes live in the session only

    # added rows: kept as float32 beside the scan, not a rebuild
    added = insert(db, owner, clustered(300, 4))
    check_all(db, queries)
    assert index._m is m or index._m.scan is m.scan  # noqa: SLF001
    assert len(index._m.tail) == 300  # noqa: SLF001

    # deleted rows (fewer than the rebuild share): gone from the answers at once, the bound taken without them
    victims = [r["asset_id"] for r in db.reader().execute(
        "SELECT asset_id FROM smart_search ORDER BY rowid LIMIT 100")] + added[:20]
    with db.write() as w:
        w.executemany("DELETE FROM asset WHERE id = ?", [(v,) for v in victims])
    check_all(db, queries)
    # a replaced embedding: its new vector counts, the old one is gone
    target = db.reader().execute("SELECT asset_id FROM smart_search ORDER BY rowid LIMIT 1 OFFSET 500").fetchone()
    with db.write() as w:
        w.execute("DELETE FROM smart_search WHERE asset_id = ?", (target["asset_id"],))
        w.execute("INSERT INTO smart_search (asset_id, embedding) VALUES (?, ?)",
                  (target["asset_id"], queries[-1].astype("<f4").tobytes()))
    check_all(db, queries)
    conn = db.reader()
    top = conn.execute("SELECT rowid FROM asset WHERE id = ?", (target["asset_id"],)).fetchone()["rowid"]
    assert int(index.nearest(conn, queries[-1], 1)[1][0]) == top

    # many deletes: built again
    with db.write() as w:
        w.execute("DELETE FROM asset WHERE rowid IN (SELECT rowid FROM asset ORDER BY rowid DESC LIMIT 400)")
    check_all(db, queries)
    assert index._m.built == db.reader().execute("SELECT count(*) AS n FROM smart_search").fetchone()["n"]  # noqa: SLF001


def test_without_onnxruntime_numpy_scans_the_codes(lib: tuple[Any, list[str]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db, (owner,) = lib
    monkeypatch.setattr(vectors._Scan, "_session", staticmethod(lambda codes: None))  # noqa: SLF001
    insert(db, owner, clustered(1500, 5))
    check_all(db, clustered(3, 6))
    m = vectors.index_for(db.reader())._m  # noqa: SLF001
    assert m is not None and m.scan.session is None and m.scan.codes is not None


def test_the_scan_is_freed_when_idle(lib: tuple[Any, list[str]]) -> None:
    db, (owner,) = lib
    insert(db, owner, clustered(200, 7))
    conn = db.reader()
    index = vectors.index_for(conn)
    index.nearest(conn, clustered(1, 8)[0], 5)
    assert index.loaded and not index.idle_unload(3600)
    index.last_used -= 10
    assert index.idle_unload(5) and not index.loaded
