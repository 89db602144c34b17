"""Queues and jobs admin (upstream QueueService + JobService.create), over the `job` table.

Also the jobs that belong to the queue machinery itself: the *QueueAll jobs behind "start" (they queue one
job per asset that needs it) and the small database cleanups behind POST /jobs.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from immich_lite import ids, jobs
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.jobs import JobName, JobStatus, QueueName

log = logging.getLogger("immich_lite.queue")

STATUSES = ("active", "completed", "failed", "delayed", "waiting", "paused")
SEARCH_LIMIT = 1000  # upstream getJobs(status, 0, 1000)
BATCH = 1000         # upstream JOBS_ASSET_PAGINATION_SIZE

# queue → (job queued by "start", the per-asset job it fans out to, or None)
START_JOBS: dict[str, tuple[str, str | None]] = {
    QueueName.VIDEO_CONVERSION: (JobName.ASSET_ENCODE_VIDEO_QUEUE_ALL, JobName.ASSET_ENCODE_VIDEO),
    QueueName.STORAGE_TEMPLATE_MIGRATION: (JobName.STORAGE_TEMPLATE_MIGRATION, None),
    QueueName.MIGRATION: (JobName.FILE_MIGRATION_QUEUE_ALL, None),
    QueueName.SMART_SEARCH: (JobName.SMART_SEARCH_QUEUE_ALL, JobName.SMART_SEARCH),
    QueueName.DUPLICATE_DETECTION: (JobName.ASSET_DETECT_DUPLICATES_QUEUE_ALL, JobName.ASSET_DETECT_DUPLICATES),
    QueueName.METADATA_EXTRACTION: (JobName.ASSET_EXTRACT_METADATA_QUEUE_ALL, JobName.ASSET_EXTRACT_METADATA),
    QueueName.SIDECAR: (JobName.SIDECAR_QUEUE_ALL, JobName.SIDECAR_CHECK),
    QueueName.THUMBNAIL_GENERATION: (JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL, JobName.ASSET_GENERATE_THUMBNAILS),
    QueueName.FACE_DETECTION: (JobName.ASSET_DETECT_FACES_QUEUE_ALL, JobName.ASSET_DETECT_FACES),
    QueueName.FACIAL_RECOGNITION: (JobName.FACIAL_RECOGNITION_QUEUE_ALL, JobName.FACIAL_RECOGNITION),
    QueueName.LIBRARY: (JobName.LIBRARY_SCAN_QUEUE_ALL, None),
    QueueName.BACKUP_DATABASE: (JobName.DATABASE_BACKUP, None),
    QueueName.OCR: (JobName.OCR_QUEUE_ALL, JobName.OCR),
    QueueName.SEARCH: ("SearchIndexQueueAll", None),  # immich-lite's text index (services/search_index.py)
}
NO_FORCE = {QueueName.STORAGE_TEMPLATE_MIGRATION, QueueName.MIGRATION}  # upstream queues these without data

# ManualJobName → (job, data)   (upstream job.service.ts asJobItem)
MANUAL_JOBS: dict[str, tuple[JobName, dict[str, Any]]] = {
    "tag-cleanup": (JobName.TAG_CLEANUP, {}),
    "person-cleanup": (JobName.PERSON_CLEANUP, {}),
    "user-cleanup": (JobName.USER_DELETE_CHECK, {}),
    "memory-cleanup": (JobName.MEMORY_CLEANUP, {}),
    "memory-create": (JobName.MEMORY_GENERATE, {}),
    "backup-database": (JobName.DATABASE_BACKUP, {}),
    "integrity-missing-files": (JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL, {}),
    "integrity-untracked-files": (JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, {}),
    "integrity-checksum-mismatch": (JobName.INTEGRITY_CHECKSUM_FILES, {}),
    "integrity-missing-files-refresh": (JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL, {"refreshOnly": True}),
    "integrity-untracked-files-refresh": (JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, {"refreshOnly": True}),
    "integrity-checksum-mismatch-refresh": (JobName.INTEGRITY_CHECKSUM_FILES, {"refreshOnly": True}),
    "integrity-missing-files-delete-all": (JobName.INTEGRITY_DELETE_REPORT_TYPE, {"type": "missing_file"}),
    "integrity-untracked-files-delete-all": (JobName.INTEGRITY_DELETE_REPORT_TYPE, {"type": "untracked_file"}),
    "integrity-checksum-mismatch-delete-all": (JobName.INTEGRITY_DELETE_REPORT_TYPE, {"type": "checksum_mismatch"}),
}


# ---------------------------------------------------------------------------------------------------------
# Reading queues

def _statistics(conn: Any, queue: str | None = None) -> dict[str, dict[str, int]]:
    """{queue: QueueStatisticsDto} from one grouped count (index-only on job_pick_idx)."""
    now = time.time()
    paused = jobs.paused_queues(conn)
    sql = ("SELECT queue, status, run_after > ? AS later, COUNT(*) AS n FROM job "
           + ("WHERE queue = ? " if queue else "") + "GROUP BY queue, status, later")
    args: tuple[Any, ...] = (now, queue) if queue else (now,)
    out: dict[str, dict[str, int]] = {}
    for r in conn.execute(sql, args):
        stats = out.setdefault(r["queue"], dict.fromkeys(STATUSES, 0))
        status = r["status"]
        if status == "waiting":
            status = "delayed" if r["later"] else ("paused" if r["queue"] in paused else "waiting")
        if status in stats:
            stats[status] += r["n"]
    return out


def _response(name: str, stats: dict[str, int] | None, paused: set[str]) -> dict[str, Any]:
    return {"name": name, "isPaused": name in paused, "statistics": stats or dict.fromkeys(STATUSES, 0)}


def get_all(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as conn:
        stats = _statistics(conn)
        paused = jobs.paused_queues(conn)
    return [_response(q.value, stats.get(q.value), paused) for q in QueueName]


def get(ctx: Ctx, name: str) -> dict[str, Any]:
    with ctx.db.read() as conn:
        stats = _statistics(conn, name)
        paused = jobs.paused_queues(conn)
    return _response(name, stats.get(name), paused)


def _legacy(response: dict[str, Any]) -> dict[str, Any]:
    return {"jobCounts": response["statistics"],
            "queueStatus": {"isActive": response["statistics"]["active"] > 0, "isPaused": response["isPaused"]}}


def get_all_legacy(ctx: Ctx) -> dict[str, Any]:
    return {r["name"]: _legacy(r) for r in get_all(ctx)}


def search_jobs(ctx: Ctx, name: str, statuses: list[str] | None) -> list[dict[str, Any]]:
    """QueueJobResponseDto for the queue's jobs in the given states (all states by default), newest first."""
    wanted = set(statuses or STATUSES)
    now = time.time()
    out = []
    with ctx.db.read() as conn:
        paused = jobs.is_paused(conn, name)
        for r in conn.execute("SELECT id, name, data, status, run_after, created_at FROM job WHERE queue = ? "
                              "ORDER BY id DESC", (name,)):
            status = r["status"]
            if status == "waiting":
                status = "delayed" if r["run_after"] > now else ("paused" if paused else "waiting")
            if status not in wanted:
                continue
            out.append({"id": str(r["id"]), "name": r["name"], "data": _loads(r["data"]),
                        "timestamp": int(r["created_at"] * 1000)})
            if len(out) >= SEARCH_LIMIT:
                break
    return out


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {"value": value}


# ---------------------------------------------------------------------------------------------------------
# Commands

def update(ctx: Ctx, name: str, dto: dict[str, Any]) -> dict[str, Any]:
    if dto.get("isPaused") is True:
        if name == QueueName.BACKGROUND_TASK:
            raise BadRequest("The BackgroundTask queue cannot be paused")
        pause(ctx, name)
    if dto.get("isPaused") is False:
        resume(ctx, name)
    return get(ctx, name)


def pause(ctx: Ctx, name: str) -> None:
    with ctx.db.write() as conn:
        jobs.set_paused(conn, name, True)


def resume(ctx: Ctx, name: str) -> None:
    with ctx.db.write() as conn:
        jobs.set_paused(conn, name, False)


def empty(ctx: Ctx, name: str, *, failed: bool = False) -> int:
    """Upstream queue.drain(): waiting (and paused) jobs go; delayed, active and completed ones stay.
    With `failed`, failed jobs go too (upstream clean(…, 'failed')). Returns how many were removed."""
    with ctx.db.write() as conn:
        n = len(conn.execute("DELETE FROM job WHERE queue = ? AND status = 'waiting' AND run_after <= ? "
                             "RETURNING id", (name, time.time())).fetchall())
        if failed:
            n += clear_failed(ctx, name)
    return n


def clear_failed(ctx: Ctx, name: str) -> int:
    with ctx.db.write() as conn:
        return len(conn.execute("DELETE FROM job WHERE queue = ? AND status = 'failed' RETURNING id",
                                (name,)).fetchall())


def empty_queue(ctx: Ctx, name: str, dto: dict[str, Any]) -> None:
    empty(ctx, name, failed=bool(dto.get("failed")))


def run_command_legacy(ctx: Ctx, name: str, dto: dict[str, Any]) -> dict[str, Any]:
    command = dto["command"]
    if command == "start":
        start(ctx, name, dto.get("force"))
    elif command == "pause":
        pause(ctx, name)
    elif command == "resume":
        resume(ctx, name)
    elif command == "empty":
        empty(ctx, name)
    elif command == "clear-failed":
        clear_failed(ctx, name)
    return _legacy(get(ctx, name))


def start(ctx: Ctx, name: str, force: bool | None = None) -> None:
    """Queue the queue's "all" job (upstream QueueService.start)."""
    with ctx.db.write() as conn:
        if conn.execute("SELECT 1 FROM job WHERE queue = ? AND status = 'active' LIMIT 1", (name,)).fetchone():
            raise BadRequest("Job is already running")
        if name not in START_JOBS:
            raise BadRequest(f"Invalid job name: {name}")
        job, child = START_JOBS[name]
        if not jobs.is_registered(job) or (child is not None and not jobs.is_registered(child)):
            raise BadRequest(f"Queue {name} is not supported by immich-lite")
        data = {} if name in NO_FORCE or force is None else {"force": force}
        jobs.enqueue(conn, job, data)


def create_job(ctx: Ctx, dto: dict[str, Any]) -> None:
    """POST /jobs: queue one of the manual jobs (upstream JobService.create)."""
    item = MANUAL_JOBS.get(dto["name"])
    if item is None:
        raise BadRequest("Invalid job name")
    job, data = item
    if not jobs.is_registered(job):
        raise BadRequest(f"Job {dto['name']} is not supported")
    with ctx.db.write() as conn:
        jobs.enqueue(conn, job, dict(data))


# ---------------------------------------------------------------------------------------------------------
# *QueueAll jobs: one child job per asset that needs it (upstream media/metadata/sidecar services)

def fan_out(ctx: Ctx, sql: str, args: tuple[Any, ...], child: JobName,
            edited_child: JobName | None = None, force: bool = False) -> JobStatus:
    """One `child` job per row of `sql` (an `id` column; rows of edited assets, `is_edited`, only with `force` or
    to `edited_child`; other rows always), queued in batches of BATCH per transaction."""
    if not jobs.is_registered(child):
        return JobStatus.SKIPPED
    with ctx.db.read() as conn:
        rows = list(conn.execute(sql, args))
    for i in range(0, len(rows), BATCH):
        with ctx.db.write() as conn:
            for r in rows[i:i + BATCH]:
                edited = bool(r.get("is_edited"))
                if force or not edited:
                    jobs.enqueue(conn, child, {"id": r["id"]})
                if edited and edited_child is not None and jobs.is_registered(edited_child):
                    jobs.enqueue(conn, edited_child, {"id": r["id"]})
    return JobStatus.SUCCESS


@jobs.register(JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL, QueueName.THUMBNAIL_GENERATION)
def queue_generate_thumbnails(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    force = bool(data.get("force"))
    sql = "SELECT a.id, a.is_edited FROM asset a WHERE a.deleted_at IS NULL AND a.visibility != 'hidden'"
    if not force:
        # assets never through metadata extraction have no asset_job_status row and are not ready yet
        sql += """ AND EXISTS (SELECT 1 FROM asset_job_status s WHERE s.asset_id = a.id) AND (
            NOT EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'thumbnail')
            OR NOT EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview')
            OR (a.is_edited = 1 AND NOT EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id
                                                AND f.type = 'fullsize' AND f.is_edited = 1))
            OR a.thumbhash IS NULL)"""
    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.ASSET_GENERATE_THUMBNAILS,
                    JobName.ASSET_EDIT_THUMBNAIL_GENERATION, force)


@jobs.register(JobName.ASSET_EXTRACT_METADATA_QUEUE_ALL, QueueName.METADATA_EXTRACTION)
def queue_extract_metadata(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    sql = "SELECT a.id FROM asset a WHERE a.deleted_at IS NULL"
    if not data.get("force"):
        sql += (" AND NOT EXISTS (SELECT 1 FROM asset_job_status s WHERE s.asset_id = a.id "
                "AND s.metadata_extracted_at IS NOT NULL)")
    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.ASSET_EXTRACT_METADATA, force=True)


@jobs.register(JobName.ASSET_ENCODE_VIDEO_QUEUE_ALL, QueueName.VIDEO_CONVERSION)
def queue_encode_video(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    sql = "SELECT a.id FROM asset a WHERE a.type = 'VIDEO' AND a.deleted_at IS NULL"
    if not data.get("force"):
        sql += (" AND a.visibility != 'hidden' AND NOT EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id"
                " AND f.type = 'encoded_video')")
    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.ASSET_ENCODE_VIDEO, force=True)


@jobs.register(JobName.SIDECAR_QUEUE_ALL, QueueName.SIDECAR)
def queue_sidecar(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    sql = "SELECT a.id FROM asset a WHERE 1 = 1"
    if not data.get("force"):
        sql += " AND NOT EXISTS (SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'sidecar')"
    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.SIDECAR_CHECK, force=True)


# ---------------------------------------------------------------------------------------------------------
# Database cleanups behind POST /jobs (backgroundTask queue, as upstream)

@jobs.register(JobName.TAG_CLEANUP, QueueName.BACKGROUND_TASK)
def tag_cleanup(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Delete tags that neither they nor any descendant tag is on an asset (upstream deleteEmptyTags)."""
    with ctx.db.write() as conn:
        rows = conn.execute("""
            WITH RECURSIVE sub(ancestor, id) AS (
              SELECT id, id FROM tag
              UNION ALL SELECT sub.ancestor, t.id FROM tag t JOIN sub ON t.parent_id = sub.id)
            DELETE FROM tag WHERE id NOT IN (
              SELECT sub.ancestor FROM sub JOIN tag_asset ta ON ta.tag_id = sub.id)
            RETURNING id""").fetchall()
    if rows:
        log.info("deleted %d empty tags", len(rows))
    return JobStatus.SUCCESS


@jobs.register(JobName.PERSON_CLEANUP, QueueName.BACKGROUND_TASK)
def person_cleanup(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Delete people left without a visible face, and their thumbnails (upstream handlePersonCleanup)."""
    with ctx.db.write() as conn:
        rows = conn.execute("""
            DELETE FROM person WHERE NOT EXISTS (
              SELECT 1 FROM asset_face f WHERE f.person_id = person.id AND f.deleted_at IS NULL AND f.is_visible = 1)
            RETURNING id, thumbnail_path""").fetchall()
    ctx.storage.remove(r["thumbnail_path"] for r in rows)
    if rows:
        log.info("deleted %d people without faces", len(rows))
    return JobStatus.SUCCESS


@jobs.register(JobName.MEMORY_CLEANUP, QueueName.BACKGROUND_TASK)
def memory_cleanup(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Drop non-timeline assets from memories, then unsaved memories older than 30 days (upstream cleanup)."""
    cutoff = ids.iso(ids.utcnow() - timedelta(days=30))
    with ctx.db.write() as conn:
        conn.execute("DELETE FROM memory_asset WHERE asset_id IN (SELECT id FROM asset WHERE visibility != 'timeline')")
        conn.execute("DELETE FROM memory WHERE created_at < ? AND is_saved = 0", (cutoff,))
    return JobStatus.SUCCESS
