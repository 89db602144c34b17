"""Migration 0012 on a database that holds sqlite-vec face rows (a library whose faces were found before it): the
embeddings move to the plain face_search table byte for byte, and the trigger that follows asset_face is back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from immich_lite import db as dbm


def test_vec0_face_rows_survive_the_move_to_a_plain_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    every = dbm._migrations()  # noqa: SLF001
    monkeypatch.setattr(dbm, "_migrations", lambda: [m for m in every if m[0] <= 11])
    old = dbm.Database(tmp_path / "old.db")
    vectors = {f"face-{i}": np.random.default_rng(i).normal(size=128).astype("<f4").tobytes() for i in range(3)}
    with old.write() as w:
        assert "vec0" in w.execute("SELECT sql FROM sqlite_master WHERE name = 'face_search'").fetchone()["sql"]
        for face_id, blob in vectors.items():
            w.execute("INSERT INTO face_search (face_id, owner_id, embedding) VALUES (?, 'owner', ?)", (face_id, blob))
    old.close()
    monkeypatch.setattr(dbm, "_migrations", lambda: every)
    new = dbm.Database(tmp_path / "old.db")
    conn = new.reader()
    assert conn.execute("PRAGMA user_version").fetchone()["user_version"] >= 12
    assert "vec0" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'face_search'").fetchone()["sql"]
    assert {r["face_id"]: r["embedding"] for r in conn.execute("SELECT * FROM face_search")} == vectors
    assert conn.execute("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'face_search_%' AND name != "
                        "'face_search_version' AND name != 'face_search_owner_idx'").fetchone()["n"] == 0  # vec0's
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'asset_face_search_delete'"
                        ).fetchone()
    with new.write() as w:  # a 512-D row now fits beside them
        w.execute("INSERT INTO face_search (face_id, owner_id, embedding) VALUES ('face-x', 'owner', ?)",
                  (np.ones(512, "<f4").tobytes(),))
    new.close()
