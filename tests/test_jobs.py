"""The durable job runner on a real SQLite file: transactions, follow-ups, retries, crashes, concurrency, pause."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from immich_lite import db, jobs
from immich_lite.app import route_table
from immich_lite.jobs import Job, JobName, JobRunner, JobStatus, QueueName
from immich_lite.repos import system_metadata

# ---- test-only jobs, mostly on test-only queues (the Queues API never lists them) ------------------------

Q = "testQueue"
Q_CONC = QueueName.WORKFLOW  # a real queue, so system config can set its concurrency (nothing else uses it)
Q_PAUSE = "testPause"

calls: dict[str, list[Any]] = defaultdict(list)
lock = threading.Lock()
control: dict[str, Any] = {}


def _record(name: str, data: dict[str, Any]) -> None:
    with lock:
        calls[name].append((time.monotonic(), threading.current_thread().name, data))


@jobs.register("TestChildB", Q, then=("TestGrandchild",))
def _child_b(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestChildB", data)
    return JobStatus.SUCCESS


@jobs.register("TestChildC", Q)
def _child_c(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestChildC", data)
    return JobStatus.SUCCESS


@jobs.register("TestGrandchild", Q)
def _grandchild(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestGrandchild", data)
    return JobStatus.SUCCESS


@jobs.register("TestParent", Q, then=("TestChildB", "TestChildC"), max_attempts=1)
def _parent(ctx: Any, data: dict[str, Any]) -> JobStatus | None:
    _record("TestParent", data)
    outcome = data.get("outcome", "success")
    if outcome == "raise":
        raise RuntimeError("parent broke")
    return {"success": JobStatus.SUCCESS, "skipped": JobStatus.SKIPPED, "failed": JobStatus.FAILED,
            "none": None}[outcome]


def _pick(ctx: Any, conn: Any, data: dict[str, Any]) -> list[Any]:
    return [("TestChildC", {"picked": data["n"]})] if data["n"] % 2 else []


@jobs.register("TestConditional", Q, then=("TestChildC",), follow=_pick)
def _conditional(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestConditional", data)
    return JobStatus.SUCCESS


@jobs.register("TestFlaky", Q)  # default max_attempts = 3
def _flaky(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestFlaky", data)
    with lock:
        n = sum(1 for c in calls["TestFlaky"] if c[2] == data)
    if n <= data.get("fail_times", 99):
        raise ValueError(f"flaky failure {n}")
    return JobStatus.SUCCESS


@jobs.register("TestSlow", Q_CONC)
def _slow(ctx: Any, data: dict[str, Any]) -> JobStatus:
    with lock:
        control["now"] = control.get("now", 0) + 1
        control["max"] = max(control.get("max", 0), control["now"])
    time.sleep(data.get("sleep", 0.1))
    with lock:
        control["now"] -= 1
    _record("TestSlow", data)
    return JobStatus.SUCCESS


@jobs.register("TestSerial", QueueName.FACIAL_RECOGNITION)
def _serial(ctx: Any, data: dict[str, Any]) -> JobStatus:
    with lock:
        control["serial_now"] = control.get("serial_now", 0) + 1
        control["serial_max"] = max(control.get("serial_max", 0), control["serial_now"])
    time.sleep(0.02)
    with lock:
        control["serial_now"] -= 1
    _record("TestSerial", data)
    return JobStatus.SUCCESS


@jobs.register("TestPaused", Q_PAUSE)
def _paused(ctx: Any, data: dict[str, Any]) -> JobStatus:
    _record("TestPaused", data)
    return JobStatus.SUCCESS


@jobs.register("TestSyncMode", Q)
def _sync_mode(ctx: Any, data: dict[str, Any]) -> JobStatus:
    with ctx.db.write() as conn:
        _record("TestSyncMode", {"synchronous": conn.execute("PRAGMA synchronous").fetchone()["synchronous"]})
    return JobStatus.SUCCESS


@jobs.register("TestBlocking", Q)
def _blocking(ctx: Any, data: dict[str, Any]) -> JobStatus:
    control["started"].set()
    control["release"].wait(5)
    time.sleep(0.05)
    _record("TestBlocking", data)
    return JobStatus.SUCCESS


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    calls.clear()
    control.clear()
    yield


def put(ctx: Any, name: str, data: dict[str, Any] | None = None, **kw: Any) -> int | None:
    with ctx.db.write() as conn:
        return jobs.enqueue(conn, name, data, **kw)


def rows(ctx: Any) -> list[dict[str, Any]]:
    return list(ctx.db.reader().execute("SELECT * FROM job ORDER BY id"))


def names(name: str) -> list[dict[str, Any]]:
    return [c[2] for c in calls[name]]


@pytest.fixture
def runner(ctx: Any) -> Iterator[JobRunner]:
    r = JobRunner(ctx, workers=4, backoff=0.1)
    ctx.jobs = r
    r.start()
    yield r
    r.stop(5)


# ---- enqueue ------------------------------------------------------------------------------------------

def test_enqueue_rolls_back_with_the_transaction(ctx: Any) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with ctx.db.write() as conn:
            jobs.enqueue(conn, "TestChildC", {"x": 1})
            raise RuntimeError("boom")
    assert rows(ctx) == []
    put(ctx, "TestChildC", {"x": 2})
    [row] = rows(ctx)
    assert (row["queue"], row["name"], row["status"], row["attempts"]) == (Q, "TestChildC", "waiting", 0)


def test_enqueue_needs_a_transaction_and_a_handler(ctx: Any) -> None:
    with pytest.raises(RuntimeError):
        jobs.enqueue(ctx.db.reader(), "TestChildC", {})
    with pytest.raises(LookupError):
        put(ctx, "NoSuchJob")


def test_dedupe_key_keeps_one_waiting_job(ctx: Any) -> None:
    first = put(ctx, "TestChildC", {"n": 1}, dedupe_key="k")
    assert first is not None
    assert put(ctx, "TestChildC", {"n": 2}, dedupe_key="k") is None
    assert len(rows(ctx)) == 1
    jobs.drain(ctx)
    assert names("TestChildC") == [{"n": 1}]
    assert put(ctx, "TestChildC", {"n": 3}, dedupe_key="k") is not None  # the key is free again once run


def test_register_refuses_a_second_handler() -> None:
    with pytest.raises(ValueError, match="already handled"):
        jobs.register("TestChildC", Q)(lambda ctx, data: None)


# ---- follow-ups and drain -----------------------------------------------------------------------------

def test_drain_runs_follow_ups_with_the_same_data(ctx: Any) -> None:
    put(ctx, "TestParent", {"id": "a"})
    counts = jobs.drain(ctx)
    assert counts == {"completed": 4, "retried": 0, "failed": 0}
    assert names("TestParent") == names("TestChildB") == names("TestChildC") == names("TestGrandchild") == [{"id": "a"}]
    order = sorted((t, n) for n in ("TestParent", "TestChildB", "TestGrandchild") for t, _, _ in calls[n])
    assert [n for _, n in order] == ["TestParent", "TestChildB", "TestGrandchild"]
    assert rows(ctx) == []  # completed rows are removed (upstream removeOnComplete)


@pytest.mark.parametrize("outcome", ["skipped", "none"])
def test_skipped_or_none_also_runs_follow_ups(ctx: Any, outcome: str) -> None:
    put(ctx, "TestParent", {"outcome": outcome})
    jobs.drain(ctx)
    assert len(names("TestChildB")) == 1 and len(names("TestGrandchild")) == 1


@pytest.mark.parametrize("outcome, error", [("raise", "RuntimeError: parent broke"),
                                            ("failed", "Job returned status failed")])
def test_no_follow_ups_after_failure(ctx: Any, outcome: str, error: str) -> None:
    put(ctx, "TestParent", {"outcome": outcome})
    assert jobs.drain(ctx) == {"completed": 0, "retried": 0, "failed": 1}
    assert names("TestChildB") == [] and names("TestChildC") == []
    [row] = rows(ctx)
    assert row["status"] == "failed" and row["error"] == error and row["attempts"] == 1


def test_follow_hook_picks_children_and_data(ctx: Any) -> None:
    put(ctx, "TestConditional", {"n": 1})
    put(ctx, "TestConditional", {"n": 2})
    jobs.drain(ctx)
    assert names("TestChildC") == [{"picked": 1}]


def test_follow_up_graph_is_a_dag() -> None:
    route_table()  # imports every api module, hence every service that registers jobs
    assert jobs.validate_graph() == []
    h = jobs.JOBS["TestChildC"].handler
    cyclic = {"A": Job(Q, h, then=("B",)), "B": Job(Q, h, then=("C",)), "C": Job(Q, h, then=("A",)),
              "D": Job(Q, h, then=("Missing",))}
    problems = jobs.validate_graph(cyclic)
    assert "cycle: A → B → C → A" in problems
    assert "D → Missing: no handler registered" in problems


# ---- retries ------------------------------------------------------------------------------------------

def test_retries_then_failed_with_the_error(ctx: Any) -> None:
    put(ctx, "TestFlaky", {"k": "always"})
    counts = jobs.drain(ctx)
    assert counts == {"completed": 0, "retried": 2, "failed": 1}
    assert len(names("TestFlaky")) == 3
    [row] = rows(ctx)
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["error"] == "ValueError: flaky failure 3"


def test_runner_backs_off_exponentially(ctx: Any, runner: JobRunner) -> None:
    put(ctx, "TestFlaky", {"k": "twice", "fail_times": 2})
    assert _wait(lambda: len(calls["TestFlaky"]) == 3 and not rows(ctx))
    times = [t for t, _, _ in calls["TestFlaky"]]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1 * 0.9  # backoff 0.1 s, then 0.2 s
    assert times[2] - times[1] >= 0.2 * 0.9


def test_handler_exception_does_not_kill_the_worker(ctx: Any) -> None:
    r = JobRunner(ctx, workers=1, backoff=0.01)
    r.start()
    try:
        put(ctx, "TestParent", {"outcome": "raise"})
        put(ctx, "TestChildC", {"after": True})
        assert _wait(lambda: names("TestChildC") == [{"after": True}])
    finally:
        r.stop(5)


def test_unknown_job_row_fails_without_retry(ctx: Any) -> None:
    now = time.time()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO job (queue, name, data, created_at, updated_at) VALUES (?, 'Gone', '{}', ?, ?)",
                     (Q, now, now))
    assert jobs.drain(ctx)["failed"] == 1
    assert rows(ctx)[0]["error"] == "No handler registered for job Gone"


# ---- crash recovery -----------------------------------------------------------------------------------

def _insert_active(ctx: Any, name: str, data: str, attempts: int) -> None:
    now = time.time()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO job (queue, name, data, status, attempts, created_at, updated_at) "
                     "VALUES (?, ?, ?, 'active', ?, ?, ?)", (Q, name, data, attempts, now, now))


def test_active_jobs_resume_after_a_crash(ctx: Any) -> None:
    _insert_active(ctx, "TestChildC", '{"resumed": 1}', 1)    # killed mid-run, attempts left
    _insert_active(ctx, "TestChildC", '{"resumed": 2}', 3)    # killed on its last attempt
    r = JobRunner(ctx, workers=2)
    r.start()
    try:
        assert r.wait_idle(2)
    finally:
        r.stop(5)
    assert names("TestChildC") == [{"resumed": 1}]
    [row] = rows(ctx)
    assert row["status"] == "failed" and row["error"].startswith("Interrupted")


def test_drain_without_a_runner_also_recovers(ctx: Any) -> None:
    _insert_active(ctx, "TestChildC", '{"resumed": 3}', 1)
    jobs.drain(ctx)
    assert names("TestChildC") == [{"resumed": 3}]


# ---- runner: concurrency, pause, delay, stop ----------------------------------------------------------

def _wait(cond: Any, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_per_queue_concurrency_comes_from_system_config(ctx: Any) -> None:
    with ctx.db.write() as conn:
        system_metadata.set(conn, "system-config", {"job": {Q_CONC: {"concurrency": 2}}})
    r = JobRunner(ctx, workers=4)
    r.start()
    try:
        for i in range(6):
            put(ctx, "TestSlow", {"i": i, "sleep": 0.1})
        assert r.wait_idle(2)
    finally:
        r.stop(5)
    assert len(calls["TestSlow"]) == 6
    assert control["max"] == 2


def test_concurrency_is_capped_by_workers_and_serial_queues(ctx: Any) -> None:
    r = JobRunner(ctx, workers=2)
    with ctx.db.write() as conn:
        system_metadata.set(conn, "system-config", {"job": {QueueName.THUMBNAIL_GENERATION: {"concurrency": 8}}})
    limits = r._queue_limits()
    assert limits[QueueName.THUMBNAIL_GENERATION] == 2
    assert limits[QueueName.VIDEO_CONVERSION] == 1
    assert limits[QueueName.FACIAL_RECOGNITION] == 1
    assert limits[QueueName.METADATA_EXTRACTION] == 2  # upstream default 5, capped


def test_a_serial_queue_runs_one_job_at_a_time_with_drain_beside_the_runner(ctx: Any, runner: JobRunner) -> None:
    # facial recognition must see each face's person before the next face looks: drain() (tests, restore)
    # claims jobs itself next to the runner's workers, and neither may start a second one of a serial queue
    for i in range(20):
        put(ctx, "TestSerial", {"i": i})
    jobs.drain(ctx, timeout=10)
    assert runner.wait_idle(2)
    assert sorted(d["i"] for d in names("TestSerial")) == list(range(20))
    assert control["serial_max"] == 1


def test_paused_queue_waits_until_resumed(ctx: Any, runner: JobRunner) -> None:
    with ctx.db.write() as conn:
        jobs.set_paused(conn, Q_PAUSE, True)
    put(ctx, "TestPaused", {"p": 1})
    assert runner.wait_idle(1)  # nothing due in an unpaused queue
    jobs.drain(ctx)             # drain leaves paused queues alone too
    time.sleep(0.1)
    assert names("TestPaused") == [] and rows(ctx)[0]["status"] == "waiting"
    with ctx.db.write() as conn:
        jobs.set_paused(conn, Q_PAUSE, False)
    assert _wait(lambda: names("TestPaused") == [{"p": 1}])


def test_delayed_job_runs_after_its_delay(ctx: Any, runner: JobRunner) -> None:
    start = time.monotonic()
    put(ctx, "TestChildC", {"late": True}, delay=0.3)
    assert _wait(lambda: names("TestChildC") == [{"late": True}])
    assert calls["TestChildC"][0][0] - start >= 0.3 * 0.9


def test_enqueue_wakes_the_dispatcher_without_polling(ctx: Any) -> None:
    r = JobRunner(ctx, workers=1, poll=30.0)  # the fallback poll would be far too slow
    r.start()
    try:
        time.sleep(0.05)
        put(ctx, "TestChildC", {"woken": True})
        assert _wait(lambda: names("TestChildC") == [{"woken": True}], 1.0)
    finally:
        r.stop(5)


def test_jobs_behind_a_busy_worker_start_when_it_frees_without_polling(ctx: Any) -> None:
    control["started"], control["release"] = threading.Event(), threading.Event()
    r = JobRunner(ctx, workers=1, poll=30.0)
    r.start()
    try:
        put(ctx, "TestBlocking", {"b": 1})
        assert control["started"].wait(2)
        put(ctx, "TestChildC", {"next": 1})  # woken for, but the one worker is busy
        time.sleep(0.1)
        assert names("TestChildC") == []
        control["release"].set()
        assert _wait(lambda: names("TestChildC") == [{"next": 1}], 2.0)
    finally:
        r.stop(5)


def test_resuming_a_queue_wakes_the_dispatcher_without_polling(ctx: Any) -> None:
    r = JobRunner(ctx, workers=1, poll=30.0)
    r.start()
    try:
        with ctx.db.write() as conn:
            jobs.set_paused(conn, Q_PAUSE, True)
        put(ctx, "TestPaused", {"p": 2})
        time.sleep(0.1)
        assert names("TestPaused") == []
        with ctx.db.write() as conn:
            jobs.set_paused(conn, Q_PAUSE, False)
        assert _wait(lambda: names("TestPaused") == [{"p": 2}], 2.0)
    finally:
        r.stop(5)


def test_jobs_queued_by_another_process_start_while_wake_ups_keep_coming(ctx: Any) -> None:
    import apsw  # noqa: PLC0415

    r = JobRunner(ctx, workers=2, poll=0.3)
    r.start()
    other = apsw.Connection(ctx.db.path)  # like `immich-lite import` next to a running server: no wake-up here
    try:
        now = time.time()
        other.execute("INSERT INTO job (queue, name, data, status, run_after, created_at, updated_at) "
                      "VALUES (?, 'TestChildC', '{\"outside\": 1}', 'waiting', ?, ?, ?)", (Q, now, now, now))
        deadline = time.monotonic() + 2.0
        i = 0
        while time.monotonic() < deadline and names("TestChildC") != [{"outside": 1}]:
            put(ctx, "TestPaused", {"tick": i})  # steady wake-ups for another queue: the wait never times out
            i += 1
            time.sleep(0.03)
        assert names("TestChildC") == [{"outside": 1}]
    finally:
        other.close()
        r.stop(5)


def test_requests_commit_with_a_wal_sync_and_jobs_without(ctx: Any, runner: JobRunner) -> None:
    full, normal = 2, 1  # PRAGMA synchronous values
    with ctx.db.write() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()["synchronous"] == full
    put(ctx, "TestSyncMode")
    assert _wait(lambda: names("TestSyncMode") == [{"synchronous": normal}])
    with ctx.db.write() as conn:  # and back for the next request
        assert conn.execute("PRAGMA synchronous").fetchone()["synchronous"] == full


def test_after_commit_runs_once_per_key_after_commit_and_never_after_rollback(ctx: Any) -> None:
    seen: list[Any] = []
    with ctx.db.write() as conn:
        db.after_commit(conn, lambda: seen.append(("first", conn.in_transaction)), key="k")
        db.after_commit(conn, lambda: seen.append("same key"), key="k")
        db.after_commit(conn, lambda: seen.append("no key"))
        conn.execute("INSERT INTO queue_state (queue, is_paused) VALUES ('x', 0)")
        assert seen == []
    assert seen == [("first", False), "no key"]
    with pytest.raises(RuntimeError, match="boom"):
        with ctx.db.write() as conn:
            db.after_commit(conn, lambda: seen.append("rolled back"))
            raise RuntimeError("boom")
    db.after_commit(ctx.db.reader(), lambda: seen.append("no transaction: at once"))
    assert seen == [("first", False), "no key", "no transaction: at once"]


def test_stop_waits_for_the_running_job(ctx: Any) -> None:
    control["started"], control["release"] = threading.Event(), threading.Event()
    r = JobRunner(ctx, workers=2)
    r.start()
    put(ctx, "TestBlocking", {"b": 1})
    assert control["started"].wait(2)
    put(ctx, "TestChildC", {"queued": True})  # may or may not start before stop; never lost
    threading.Timer(0.1, control["release"].set).start()
    assert r.stop(5) is True
    assert names("TestBlocking") == [{"b": 1}]
    assert all(row["name"] != "TestBlocking" for row in rows(ctx))
    assert all(row["status"] == "waiting" for row in rows(ctx))


def test_drain_next_to_a_running_runner_runs_each_job_once(ctx: Any, runner: JobRunner) -> None:
    for i in range(30):
        put(ctx, "TestSlow", {"i": i, "sleep": 0.005})
        put(ctx, "TestParent", {"i": i})
    jobs.drain(ctx, timeout=10)
    assert rows(ctx) == []
    assert sorted(d["i"] for d in names("TestSlow")) == list(range(30))
    for name in ("TestParent", "TestChildB", "TestChildC", "TestGrandchild"):
        assert sorted(d["i"] for d in names(name)) == list(range(30)), name


def test_app_lifespan_starts_and_stops_the_runner(app: Any) -> None:
    from starlette.testclient import TestClient  # noqa: PLC0415

    ctx = app.state.ctx
    assert isinstance(ctx.jobs, JobRunner) and not ctx.jobs.running
    with TestClient(app):
        assert ctx.jobs.running
        put(ctx, "TestChildC", {"via": "app"})
        assert _wait(lambda: names("TestChildC") == [{"via": "app"}])
    assert not ctx.jobs.running


def test_queue_and_job_enums_match_the_spec() -> None:
    from tests.conftest import spec_doc  # noqa: PLC0415

    schemas = spec_doc()["components"]["schemas"]
    assert [q.value for q in QueueName] == schemas["QueueName"]["enum"]
    assert [j.value for j in JobName] == schemas["JobName"]["enum"]
    assert {s.value for s in JobStatus} == {"success", "skipped", "failed"}
