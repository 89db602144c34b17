"""Queues and (legacy) Jobs API over HTTP: shapes from the spec, counts from the job table, commands."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from immich_lite import ids, jobs
from immich_lite.jobs import Job, JobName, JobStatus, QueueName
from tests.conftest import assert_error, assert_schema

THUMBS = QueueName.THUMBNAIL_GENERATION.value


@pytest.fixture
def ctx(client: Any, admin: Any) -> Any:
    """The live app's ctx, settled: the nightly scheduler (which queues its jobs at start) stopped and the jobs it
    queued run, so the counts below are only the test's own."""
    ctx = client.app.state.ctx
    scheduler = ctx.extra.get("scheduler")
    if scheduler is not None:
        scheduler.stop()
    jobs.drain(ctx)
    return ctx


@pytest.fixture
def quiet(ctx: Any) -> Iterator[Any]:
    """Stop the app's runner so rows stay where the test puts them (restarted for the lifespan's stop)."""
    ctx.jobs.stop(5)
    yield ctx
    ctx.jobs.start()


def add_job(ctx: Any, name: str, data: dict[str, Any] | None = None, *, status: str = "waiting",
            delay: float = 0, queue: str | None = None) -> int:
    now = time.time()
    with ctx.db.write() as conn:
        row = conn.execute(
            "INSERT INTO job (queue, name, data, status, run_after, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (queue or jobs.JOBS[name].queue, name, json.dumps(data or {}), status, now + delay, now, now)).fetchone()
    return int(row["id"])


def add_asset(ctx: Any, owner: str, *, type_: str = "IMAGE", extracted: bool = False,
              thumbs: bool = False) -> str:
    aid, now = str(uuid.uuid4()), ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute(
            "INSERT INTO asset (id, owner_id, type, original_path, original_file_name, checksum, file_created_at, "
            "file_modified_at, local_date_time, created_at, updated_at, thumbhash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (aid, owner, type_, f"upload/{aid}.jpg", f"{aid}.jpg", uuid.uuid4().bytes, now, now, now, now, now,
             b"hash" if thumbs else None))
        if extracted:
            conn.execute("INSERT INTO asset_job_status (asset_id, metadata_extracted_at) VALUES (?, ?)", (aid, now))
        if thumbs:
            for kind in ("thumbnail", "preview"):
                conn.execute("INSERT INTO asset_file (id, asset_id, type, path, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (str(uuid.uuid4()), aid, kind, f"thumbs/{aid}", now, now))
    return aid


# ---- reading ------------------------------------------------------------------------------------------

def test_get_queues_lists_every_queue_name(admin: Any) -> None:
    r = admin.get("/api/queues")
    body = assert_schema(r, "getQueues")
    assert [q["name"] for q in body] == [q.value for q in QueueName]
    assert all(q["isPaused"] is False for q in body)


def test_legacy_get_jobs_shape(admin: Any) -> None:
    body = assert_schema(admin.get("/api/jobs"), "getQueuesLegacy")
    assert set(body) == {q.value for q in QueueName}
    assert body[QueueName.SMART_SEARCH] == {"jobCounts": dict.fromkeys(  # nothing ever queues CLIP work here
        ["active", "completed", "failed", "delayed", "waiting", "paused"], 0),
        "queueStatus": {"isActive": False, "isPaused": False}}


def test_counts_come_from_the_job_table(admin: Any, quiet: Any) -> None:
    ctx = quiet
    q = QueueName.BACKGROUND_TASK.value
    add_job(ctx, JobName.TAG_CLEANUP)
    add_job(ctx, JobName.TAG_CLEANUP)
    add_job(ctx, JobName.TAG_CLEANUP, delay=3600)
    add_job(ctx, JobName.TAG_CLEANUP, status="active")
    add_job(ctx, JobName.TAG_CLEANUP, status="failed")
    body = assert_schema(admin.get(f"/api/queues/{q}"), "getQueue")
    assert body == {"name": q, "isPaused": False, "statistics": {
        "active": 1, "completed": 0, "failed": 1, "delayed": 1, "waiting": 2, "paused": 0}}
    legacy = assert_schema(admin.get("/api/jobs"), "getQueuesLegacy")[q]
    assert legacy["queueStatus"] == {"isActive": True, "isPaused": False}
    assert legacy["jobCounts"] == body["statistics"]


def test_waiting_jobs_of_a_paused_queue_count_as_paused(admin: Any, quiet: Any) -> None:
    add_job(quiet, JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL)
    r = admin.put(f"/api/queues/{THUMBS}", json={"isPaused": True})
    body = assert_schema(r, "updateQueue")
    assert body["isPaused"] is True
    assert body["statistics"]["paused"] == 1 and body["statistics"]["waiting"] == 0


def test_get_queue_jobs_filters_by_status(admin: Any, quiet: Any) -> None:
    ctx = quiet
    a = add_job(ctx, JobName.TAG_CLEANUP, {"n": 1})
    b = add_job(ctx, JobName.PERSON_CLEANUP, {"n": 2}, status="failed")
    add_job(ctx, JobName.MEMORY_CLEANUP, {"n": 3}, delay=3600)
    q = QueueName.BACKGROUND_TASK.value
    everything = assert_schema(admin.get(f"/api/queues/{q}/jobs"), "getQueueJobs")
    assert [j["data"]["n"] for j in everything] == [3, 2, 1]  # newest first
    job = everything[2]
    assert job["id"] == str(a) and job["name"] == "TagCleanup"
    assert abs(job["timestamp"] - time.time() * 1000) < 60_000
    failed = assert_schema(admin.get(f"/api/queues/{q}/jobs", params={"status": "failed"}), "getQueueJobs")
    assert [j["id"] for j in failed] == [str(b)]
    two = admin.get(f"/api/queues/{q}/jobs", params=[("status", "waiting"), ("status", "delayed")]).json()
    assert sorted(j["data"]["n"] for j in two) == [1, 3]
    assert admin.get(f"/api/queues/{q}/jobs", params={"status": "completed"}).json() == []
    assert_error(admin.get(f"/api/queues/{q}/jobs", params={"status": "nope"}), 400)


def test_unknown_queue_name_is_400(admin: Any) -> None:
    assert_error(admin.get("/api/queues/nope"), 400)
    assert_error(admin.put("/api/jobs/nope", json={"command": "pause"}), 400)


def test_non_admin_is_forbidden(user: Any) -> None:
    assert_error(user.get("/api/queues"), 403)
    assert_error(user.get("/api/jobs"), 403)
    assert_error(user.put(f"/api/queues/{THUMBS}", json={"isPaused": True}), 403)
    assert_error(user.post("/api/jobs", json={"name": "tag-cleanup"}), 403)


# ---- pause / resume / empty ---------------------------------------------------------------------------

def test_pause_and_resume_via_put_queue(admin: Any, ctx: Any) -> None:
    r = admin.put(f"/api/queues/{THUMBS}", json={"isPaused": True})
    assert assert_schema(r, "updateQueue")["isPaused"] is True
    assert admin.get("/api/jobs").json()[THUMBS]["queueStatus"]["isPaused"] is True
    assert jobs.is_paused(ctx.db.reader(), THUMBS)
    assert admin.put(f"/api/queues/{THUMBS}", json={}).json()["isPaused"] is True  # no change requested
    assert admin.put(f"/api/queues/{THUMBS}", json={"isPaused": False}).json()["isPaused"] is False


def test_background_task_queue_cannot_be_paused(admin: Any) -> None:
    assert_error(admin.put("/api/queues/backgroundTask", json={"isPaused": True}), 400,
                 "The BackgroundTask queue cannot be paused")


def test_paused_queue_does_not_run_until_resumed(admin: Any, ctx: Any) -> None:
    admin.put("/api/queues/backgroundTask", json={"isPaused": False})
    r = admin.put("/api/jobs/backgroundTask", json={"command": "pause"})  # the legacy command may pause it
    assert assert_schema(r, "runQueueCommandLegacy")["queueStatus"]["isPaused"] is True
    tag_id = _add_tag(ctx, admin.id, "empty")
    assert admin.post("/api/jobs", json={"name": "tag-cleanup"}).status_code == 204
    jobs.drain(ctx)
    assert _tags(ctx) == [tag_id]
    assert admin.get("/api/queues/backgroundTask").json()["statistics"]["paused"] == 1
    r = admin.put("/api/jobs/backgroundTask", json={"command": "resume"})
    assert r.json()["queueStatus"]["isPaused"] is False
    jobs.drain(ctx)
    assert _tags(ctx) == []


def test_empty_removes_waiting_and_optionally_failed(admin: Any, quiet: Any) -> None:
    ctx = quiet
    q = QueueName.BACKGROUND_TASK.value
    add_job(ctx, JobName.TAG_CLEANUP)
    add_job(ctx, JobName.TAG_CLEANUP, delay=3600)
    add_job(ctx, JobName.TAG_CLEANUP, status="failed")
    add_job(ctx, JobName.TAG_CLEANUP, status="active")
    r = admin.delete(f"/api/queues/{q}/jobs", json={})
    assert r.status_code == 204, r.text
    stats = admin.get(f"/api/queues/{q}").json()["statistics"]
    assert (stats["waiting"], stats["delayed"], stats["failed"], stats["active"]) == (0, 1, 1, 1)
    assert admin.delete(f"/api/queues/{q}/jobs", json={"failed": True}).status_code == 204
    stats = admin.get(f"/api/queues/{q}").json()["statistics"]
    assert (stats["waiting"], stats["delayed"], stats["failed"], stats["active"]) == (0, 1, 0, 1)


def test_legacy_empty_and_clear_failed(admin: Any, quiet: Any) -> None:
    ctx = quiet
    q = QueueName.BACKGROUND_TASK.value
    add_job(ctx, JobName.TAG_CLEANUP)
    add_job(ctx, JobName.TAG_CLEANUP, status="failed")
    body = assert_schema(admin.put(f"/api/jobs/{q}", json={"command": "empty"}), "runQueueCommandLegacy")
    assert (body["jobCounts"]["waiting"], body["jobCounts"]["failed"]) == (0, 1)
    body = admin.put(f"/api/jobs/{q}", json={"command": "clear-failed"}).json()
    assert body["jobCounts"]["failed"] == 0


# ---- start (queue-all) --------------------------------------------------------------------------------

def _fake(monkeypatch: Any, name: JobName, queue: QueueName) -> list[str]:
    seen: list[str] = []

    def handler(ctx: Any, data: dict[str, Any]) -> JobStatus:
        seen.append(data["id"])
        return JobStatus.SUCCESS

    monkeypatch.setitem(jobs.JOBS, name, Job(queue=queue, handler=handler))
    return seen


def test_start_metadata_extraction_queues_assets_not_yet_extracted(admin: Any, ctx: Any, monkeypatch: Any) -> None:
    seen = _fake(monkeypatch, JobName.ASSET_EXTRACT_METADATA, QueueName.METADATA_EXTRACTION)
    new = add_asset(ctx, admin.id)
    done = add_asset(ctx, admin.id, extracted=True)
    r = admin.put("/api/jobs/metadataExtraction", json={"command": "start"})
    assert_schema(r, "runQueueCommandLegacy")
    jobs.drain(ctx)
    assert seen == [new]
    seen.clear()
    assert admin.put("/api/jobs/metadataExtraction", json={"command": "start", "force": True}).status_code == 200
    jobs.drain(ctx)
    assert sorted(seen) == sorted([new, done])


def test_start_thumbnail_generation_queues_assets_missing_thumbnails(admin: Any, ctx: Any, monkeypatch: Any) -> None:
    seen = _fake(monkeypatch, JobName.ASSET_GENERATE_THUMBNAILS, QueueName.THUMBNAIL_GENERATION)
    missing = add_asset(ctx, admin.id, extracted=True)
    add_asset(ctx, admin.id, extracted=False)             # metadata first: not ready for thumbnails
    complete = add_asset(ctx, admin.id, extracted=True, thumbs=True)
    assert admin.put(f"/api/jobs/{THUMBS}", json={"command": "start"}).status_code == 200
    jobs.drain(ctx)
    assert seen == [missing]
    seen.clear()
    assert admin.put(f"/api/jobs/{THUMBS}", json={"command": "start", "force": True}).status_code == 200
    jobs.drain(ctx)
    assert len(seen) == 3 and complete in seen


def test_start_refuses_queues_immich_lite_does_not_run(admin: Any, monkeypatch: Any) -> None:
    # smart search, OCR and duplicates run here now (services/smart_search.py, services/ocr.py): they start
    for queue in ("smartSearch", "ocr", "duplicateDetection"):
        assert admin.put(f"/api/jobs/{queue}", json={"command": "start", "force": False}).status_code == 200, queue
    assert_error(admin.put("/api/jobs/backgroundTask", json={"command": "start"}), 400,
                 "Invalid job name: backgroundTask")
    monkeypatch.delitem(jobs.JOBS, JobName.ASSET_GENERATE_THUMBNAILS, raising=False)
    assert_error(admin.put(f"/api/jobs/{THUMBS}", json={"command": "start"}), 400,
                 f"Queue {THUMBS} is not supported by immich-lite")


def test_start_while_a_job_is_active_is_refused(admin: Any, quiet: Any) -> None:
    add_job(quiet, JobName.ASSET_EXTRACT_METADATA_QUEUE_ALL, status="active")
    assert_error(admin.put("/api/jobs/metadataExtraction", json={"command": "start"}), 400, "Job is already running")


def test_invalid_command_is_400(admin: Any) -> None:
    assert_error(admin.put(f"/api/jobs/{THUMBS}", json={"command": "explode"}), 400)
    assert_error(admin.put(f"/api/jobs/{THUMBS}", json={}), 400)


# ---- manual jobs --------------------------------------------------------------------------------------

def _add_tag(ctx: Any, user_id: str, value: str, parent: str | None = None) -> str:
    tid, now = str(uuid.uuid4()), ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO tag (id, user_id, value, parent_id, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (tid, user_id, value, parent, now, now))
    return tid


def _tags(ctx: Any) -> list[str]:
    return [r["id"] for r in ctx.db.reader().execute("SELECT id FROM tag ORDER BY value")]


def test_tag_cleanup_keeps_tags_in_use_and_their_ancestors(admin: Any, ctx: Any) -> None:
    used_parent = _add_tag(ctx, admin.id, "a")
    used = _add_tag(ctx, admin.id, "a/b", used_parent)
    _add_tag(ctx, admin.id, "a/empty", used_parent)
    empty_root = _add_tag(ctx, admin.id, "z")
    _add_tag(ctx, admin.id, "z/y", empty_root)
    asset = add_asset(ctx, admin.id)
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO tag_asset (tag_id, asset_id) VALUES (?, ?)", (used, asset))
    r = admin.post("/api/jobs", json={"name": "tag-cleanup"})
    assert r.status_code == 204 and r.content == b""
    jobs.drain(ctx)
    assert _tags(ctx) == [used_parent, used]


def test_person_cleanup_removes_people_without_faces(admin: Any, ctx: Any) -> None:
    now = ids.now_iso()
    asset = add_asset(ctx, admin.id)
    thumb = ctx.storage.person_thumb_path(admin.id, "p-empty")
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"jpeg")
    with ctx.db.write() as conn:
        for pid, path in (("p-face", ""), ("p-empty", ctx.storage.relative(thumb)), ("p-hidden-face", "")):
            conn.execute("INSERT INTO person (id, owner_id, thumbnail_path, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (pid, admin.id, path, now, now))
        for fid, pid, visible in (("f1", "p-face", 1), ("f2", "p-hidden-face", 0)):
            conn.execute("INSERT INTO asset_face (id, asset_id, person_id, image_width, image_height, "
                         "bounding_box_x1, bounding_box_y1, bounding_box_x2, bounding_box_y2, is_visible) "
                         "VALUES (?, ?, ?, 10, 10, 0, 0, 5, 5, ?)", (fid, asset, pid, visible))
    assert admin.post("/api/jobs", json={"name": "person-cleanup"}).status_code == 204
    jobs.drain(ctx)
    assert [r["id"] for r in ctx.db.reader().execute("SELECT id FROM person")] == ["p-face"]
    assert not thumb.exists()


def test_memory_cleanup_drops_old_unsaved_memories(admin: Any, ctx: Any) -> None:
    old = ids.iso(ids.utcnow() - timedelta(days=31))
    now = ids.now_iso()
    with ctx.db.write() as conn:
        for mid, created, saved in (("old", old, 0), ("old-saved", old, 1), ("new", now, 0)):
            conn.execute("INSERT INTO memory (id, owner_id, type, data, is_saved, memory_at, created_at, updated_at) "
                         "VALUES (?, ?, 'on_this_day', '{}', ?, ?, ?, ?)", (mid, admin.id, saved, now, created, now))
    assert admin.post("/api/jobs", json={"name": "memory-cleanup"}).status_code == 204
    jobs.drain(ctx)
    assert sorted(r["id"] for r in ctx.db.reader().execute("SELECT id FROM memory")) == ["new", "old-saved"]


def test_manual_jobs_without_a_handler_are_400(admin: Any, monkeypatch: Any) -> None:
    monkeypatch.delitem(jobs.JOBS, JobName.MEMORY_GENERATE, raising=False)
    assert_error(admin.post("/api/jobs", json={"name": "memory-create"}), 400, "Job memory-create is not supported")
    monkeypatch.delitem(jobs.JOBS, JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL, raising=False)
    assert_error(admin.post("/api/jobs", json={"name": "integrity-missing-files"}), 400,
                 "Job integrity-missing-files is not supported")
    assert_error(admin.post("/api/jobs", json={"name": "not-a-job"}), 400)
