"""SQLite through apsw: WAL, one writer (a process-wide lock), per-thread readers, migrations by user_version."""
from __future__ import annotations

import importlib.resources
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from immich_lite import ids
from immich_lite.search.text import fold

SCHEMA_VERSION = 1


def _row_factory(cursor: apsw.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.getdescription(), row)}


def _schema_sql() -> str:
    pkg = importlib.resources.files("immich_lite")
    packaged = pkg / "schema.sql"
    if packaged.is_file():
        return packaged.read_text()
    # editable/dev install: the canonical file sits at the top of the repo
    return (Path(str(pkg)).parent / "schema.sql").read_text()


def _migrations() -> list[tuple[int, str]]:
    out = []
    mig = importlib.resources.files("immich_lite") / "migrations"
    if mig.is_dir():
        for f in mig.iterdir():
            name = f.name
            if name.endswith(".sql") and name[:4].isdigit():
                out.append((int(name[:4]), f.read_text()))
    return sorted(out)


# What SQL's immich_wake(queue) does (triggers call it when they queue a job): jobs.py sets it to "wake the
# runners for this queue once the transaction commits".
WAKE_HOOK: Callable[[apsw.Connection, str], None] | None = None


def _wake(conn: apsw.Connection, queue: str) -> None:
    if WAKE_HOOK is not None:
        WAKE_HOOK(conn, queue)


# Callbacks waiting for a write transaction's COMMIT, per write connection (only its lock holder touches its dict).
_AFTER_COMMIT: dict[apsw.Connection, dict[Any, Callable[[], None]]] = {}


def after_commit(conn: apsw.Connection, fn: Callable[[], None], key: Any = None) -> None:
    """Run `fn` once the transaction open on `conn` (a `Database.write()` one) has committed; dropped if it rolls
    back; at once when no transaction is open. For telling another thread about rows it can only see after
    COMMIT. With `key`, a second callback of the same key in one transaction is not added."""
    if not conn.in_transaction:
        fn()
        return
    pending = _AFTER_COMMIT.setdefault(conn, {})
    pending.setdefault(object() if key is None else key, fn)


def _load_vec(conn: apsw.Connection) -> None:
    """sqlite-vec (PyPI wheel: x86_64 and aarch64) for face embeddings' vector search (migration 0007)."""
    import sqlite_vec  # noqa: PLC0415

    conn.enable_load_extension(True)
    try:
        conn.load_extension(sqlite_vec.loadable_path())
    finally:
        conn.enable_load_extension(False)


class Database:
    """One write connection behind a lock; one read connection per thread."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._all: list[apsw.Connection] = []
        self._all_lock = threading.Lock()
        self._writer = self._connect()
        self._writer_sync = "NORMAL"  # the writer's PRAGMA synchronous (changed only under the writer lock)
        self._migrate()

    def _connect(self) -> apsw.Connection:
        conn = apsw.Connection(self.path)
        conn.setbusytimeout(10_000)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA recursive_triggers=OFF")
        _load_vec(conn)
        conn.createscalarfunction("immich_uuid_v7", ids.uuid7, 0)  # not deterministic
        conn.createscalarfunction("immich_now", ids.now_iso, 0)
        conn.createscalarfunction("immich_fold", fold, 1, deterministic=True)  # search's accent/case folding
        conn.createscalarfunction("immich_wake", lambda queue: _wake(conn, queue), 1)
        conn.row_trace = _row_factory
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _migrate(self) -> None:
        conn = self._writer
        with self._write_lock:
            version = conn.execute("PRAGMA user_version").fetchone()["user_version"]
            if version == 0:
                with conn:
                    conn.execute(_schema_sql())
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                version = SCHEMA_VERSION
            for number, sql in _migrations():
                if number > version:
                    with conn:
                        conn.execute(sql)
                        conn.execute(f"PRAGMA user_version={number}")
                    version = number

    @contextmanager
    def write(self) -> Iterator[apsw.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT) under the process-wide writer lock, durable once it
        returns (WAL synced at COMMIT) unless the thread runs under `relaxed_commits()`.

        Nested use joins the outer transaction (savepoint), so a service can call another service.
        """
        with self._write_lock:
            conn = self._writer
            if conn.in_transaction:
                with conn:  # apsw: savepoint inside the running transaction
                    yield conn
                return
            sync = "NORMAL" if getattr(self._local, "relaxed", False) else "FULL"
            if sync != self._writer_sync:
                conn.execute(f"PRAGMA synchronous={sync}")
                self._writer_sync = sync
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _AFTER_COMMIT.pop(conn, None)
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                _AFTER_COMMIT.pop(conn, None)
                if conn.in_transaction:  # e.g. disk full: do not leave it open for the next writer to join
                    conn.execute("ROLLBACK")
                raise
            for fn in _AFTER_COMMIT.pop(conn, {}).values():
                fn()

    @contextmanager
    def relaxed_commits(self) -> Iterator[None]:
        """Write transactions on this thread commit without syncing the WAL (synchronous=NORMAL): for the job
        runner, whose work a power cut at most makes it redo (the job row commits with its results, and an
        unfinished job runs again). Everything else commits with synchronous=FULL: a request is answered only
        once its rows would survive a power cut, as with upstream's Postgres."""
        before = getattr(self._local, "relaxed", False)
        self._local.relaxed = True
        try:
            yield
        finally:
            self._local.relaxed = before

    def sync_wal(self) -> None:
        """Make every transaction committed so far durable, as synchronous=FULL does at COMMIT, but callable
        after the writer lock is released. A committed transaction's frames stay in the -wal file until a
        checkpoint has copied them into the database file and synced that file (SQLite resets the WAL only
        after a complete checkpoint), so an fsync of the -wal file covers it either way; no -wal file: all of
        it is in the synced database file."""
        try:
            fd = os.open(self.path + "-wal", os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the writer lock without a transaction (e.g. to fix a sync cursor between commits)."""
        with self._write_lock:
            yield

    def reader(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def read(self) -> Iterator[apsw.Connection]:
        """A consistent read snapshot on this thread's connection."""
        conn = self.reader()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except apsw.Error:
                pass
