"""Durable background jobs: Immich's BullMQ queues as one SQLite table and a thread pool.

Domain modules declare handlers with `@register(JobName.X, QueueName.Y, then=(JobName.Z,))`; a handler is
`(ctx, data) -> JobStatus` and opens its own `ctx.db.write()` blocks. Follow-ups (`then`, upstream's
`JobService.onDone`) are enqueued in the same transaction that retires the parent, so a crash between the two
cannot lose or duplicate them. Callers enqueue with `enqueue(conn, name, data)` inside the write transaction
that created the rows the job needs.

Life of a row (table `job`): waiting → active (claimed by one atomic UPDATE under the writer lock) → deleted on
success, or back to waiting with `run_after` in the future (retry backoff), or failed with the error text.
`drain(ctx)` runs pending jobs in the calling thread with the same claim, so it can run next to the runner.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from immich_lite import children, db

log = logging.getLogger("immich_lite.jobs")


class QueueName(StrEnum):
    """Upstream `QueueName` (server/src/enum.ts); the Queues API lists every member."""
    THUMBNAIL_GENERATION = "thumbnailGeneration"
    METADATA_EXTRACTION = "metadataExtraction"
    VIDEO_CONVERSION = "videoConversion"
    FACE_DETECTION = "faceDetection"
    FACIAL_RECOGNITION = "facialRecognition"
    SMART_SEARCH = "smartSearch"
    DUPLICATE_DETECTION = "duplicateDetection"
    BACKGROUND_TASK = "backgroundTask"
    STORAGE_TEMPLATE_MIGRATION = "storageTemplateMigration"
    MIGRATION = "migration"
    SEARCH = "search"
    SIDECAR = "sidecar"
    LIBRARY = "library"
    NOTIFICATIONS = "notifications"
    BACKUP_DATABASE = "backupDatabase"
    OCR = "ocr"
    WORKFLOW = "workflow"
    INTEGRITY_CHECK = "integrityCheck"
    EDITOR = "editor"


class JobName(StrEnum):
    """Upstream `JobName` values (the spec's JobName enum). Only registered names can be enqueued."""
    ASSET_DELETE = "AssetDelete"
    ASSET_DELETE_CHECK = "AssetDeleteCheck"
    ASSET_DETECT_FACES_QUEUE_ALL = "AssetDetectFacesQueueAll"
    ASSET_DETECT_FACES = "AssetDetectFaces"
    ASSET_DETECT_DUPLICATES_QUEUE_ALL = "AssetDetectDuplicatesQueueAll"
    ASSET_DETECT_DUPLICATES = "AssetDetectDuplicates"
    ASSET_EDIT_THUMBNAIL_GENERATION = "AssetEditThumbnailGeneration"
    ASSET_ENCODE_VIDEO_QUEUE_ALL = "AssetEncodeVideoQueueAll"
    ASSET_ENCODE_VIDEO = "AssetEncodeVideo"
    ASSET_EMPTY_TRASH = "AssetEmptyTrash"
    ASSET_EXTRACT_METADATA_QUEUE_ALL = "AssetExtractMetadataQueueAll"
    ASSET_EXTRACT_METADATA = "AssetExtractMetadata"
    ASSET_FILE_MIGRATION = "AssetFileMigration"
    ASSET_GENERATE_THUMBNAILS_QUEUE_ALL = "AssetGenerateThumbnailsQueueAll"
    ASSET_GENERATE_THUMBNAILS = "AssetGenerateThumbnails"
    AUDIT_TABLE_CLEANUP = "AuditTableCleanup"
    DATABASE_BACKUP = "DatabaseBackup"
    FACIAL_RECOGNITION_QUEUE_ALL = "FacialRecognitionQueueAll"
    FACIAL_RECOGNITION = "FacialRecognition"
    FILE_DELETE = "FileDelete"
    FILE_MIGRATION_QUEUE_ALL = "FileMigrationQueueAll"
    LIBRARY_DELETE_CHECK = "LibraryDeleteCheck"
    LIBRARY_DELETE = "LibraryDelete"
    LIBRARY_REMOVE_ASSET = "LibraryRemoveAsset"
    LIBRARY_SCAN_ASSETS_QUEUE_ALL = "LibraryScanAssetsQueueAll"
    LIBRARY_SYNC_ASSETS = "LibrarySyncAssets"
    LIBRARY_SYNC_FILES_QUEUE_ALL = "LibrarySyncFilesQueueAll"
    LIBRARY_SYNC_FILES = "LibrarySyncFiles"
    LIBRARY_SCAN_QUEUE_ALL = "LibraryScanQueueAll"
    HLS_SESSION_CLEANUP = "HlsSessionCleanup"
    MEMORY_CLEANUP = "MemoryCleanup"
    MEMORY_GENERATE = "MemoryGenerate"
    NOTIFICATIONS_CLEANUP = "NotificationsCleanup"
    NOTIFY_USER_SIGNUP = "NotifyUserSignup"
    NOTIFY_ALBUM_INVITE = "NotifyAlbumInvite"
    NOTIFY_ALBUM_UPDATE = "NotifyAlbumUpdate"
    USER_DELETE = "UserDelete"
    USER_DELETE_CHECK = "UserDeleteCheck"
    USER_SYNC_USAGE = "UserSyncUsage"
    PERSON_CLEANUP = "PersonCleanup"
    PERSON_FILE_MIGRATION = "PersonFileMigration"
    PERSON_GENERATE_THUMBNAIL = "PersonGenerateThumbnail"
    SESSION_CLEANUP = "SessionCleanup"
    SEND_MAIL = "SendMail"
    SIDECAR_QUEUE_ALL = "SidecarQueueAll"
    SIDECAR_CHECK = "SidecarCheck"
    SIDECAR_WRITE = "SidecarWrite"
    SMART_SEARCH_QUEUE_ALL = "SmartSearchQueueAll"
    SMART_SEARCH = "SmartSearch"
    STORAGE_TEMPLATE_MIGRATION = "StorageTemplateMigration"
    STORAGE_TEMPLATE_MIGRATION_SINGLE = "StorageTemplateMigrationSingle"
    TAG_CLEANUP = "TagCleanup"
    VERSION_CHECK = "VersionCheck"
    OCR_QUEUE_ALL = "OcrQueueAll"
    OCR = "Ocr"
    WORKFLOW_ASSET_TRIGGER = "WorkflowAssetTrigger"
    INTEGRITY_UNTRACKED_FILES_QUEUE_ALL = "IntegrityUntrackedFilesQueueAll"
    INTEGRITY_UNTRACKED_FILES = "IntegrityUntrackedFiles"
    INTEGRITY_UNTRACKED_REFRESH = "IntegrityUntrackedRefresh"
    INTEGRITY_MISSING_FILES_QUEUE_ALL = "IntegrityMissingFilesQueueAll"
    INTEGRITY_MISSING_FILES = "IntegrityMissingFiles"
    INTEGRITY_MISSING_FILES_REFRESH = "IntegrityMissingFilesRefresh"
    INTEGRITY_CHECKSUM_FILES = "IntegrityChecksumFiles"
    INTEGRITY_CHECKSUM_FILES_REFRESH = "IntegrityChecksumFilesRefresh"
    INTEGRITY_DELETE_REPORT_TYPE = "IntegrityDeleteReportType"
    INTEGRITY_DELETE_REPORTS = "IntegrityDeleteReports"


class JobStatus(StrEnum):
    """What a handler returns. SUCCESS and SKIPPED run the follow-ups (upstream onDone); FAILED does not and is
    final (no retry). A handler that raises is retried with backoff. Returning None counts as SUCCESS."""
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"


# upstream server/src/config.ts `job` defaults; queues missing there run one at a time
DEFAULT_CONCURRENCY: dict[str, int] = {
    QueueName.BACKGROUND_TASK: 5, QueueName.SMART_SEARCH: 2, QueueName.METADATA_EXTRACTION: 5,
    QueueName.FACE_DETECTION: 2, QueueName.SEARCH: 5, QueueName.SIDECAR: 5, QueueName.LIBRARY: 5,
    QueueName.MIGRATION: 5, QueueName.THUMBNAIL_GENERATION: 3, QueueName.VIDEO_CONVERSION: 1,
    QueueName.NOTIFICATIONS: 5, QueueName.OCR: 1, QueueName.WORKFLOW: 5, QueueName.INTEGRITY_CHECK: 1,
    QueueName.EDITOR: 2,
}
# upstream QueueService.isConcurrentQueue: always one at a time whatever the config says
SERIAL_QUEUES = frozenset({QueueName.FACIAL_RECOGNITION, QueueName.STORAGE_TEMPLATE_MIGRATION,
                           QueueName.DUPLICATE_DETECTION, QueueName.BACKUP_DATABASE})

DEFAULT_MAX_ATTEMPTS = 3
BACKOFF_BASE = 5.0       # seconds before the first retry; doubles per attempt
BACKOFF_MAX = 3600.0
POLL_INTERVAL = 1.0      # fallback wake-up of the dispatcher (delayed jobs, missed notifications)
CONFIG_TTL = 1.0         # how long the dispatcher reuses the per-queue concurrency it read

Handler = Callable[[Any, dict[str, Any]], "JobStatus | None"]
# follow(ctx, conn, data) -> children to enqueue: names (same data) or (name, data); each must be in `then`
FollowUps = Callable[[Any, Any, dict[str, Any]], Iterable["str | tuple[str, dict[str, Any]]"]]


@dataclass(frozen=True)
class Job:
    queue: str
    handler: Handler
    then: tuple[str, ...] = ()
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    follow: FollowUps | None = None


JOBS: dict[str, Job] = {}


def register(name: str, queue: str, *, then: Iterable[str] = (), max_attempts: int = DEFAULT_MAX_ATTEMPTS,
             follow: FollowUps | None = None) -> Callable[[Handler], Handler]:
    """Decorator: declare the handler of job `name`, its queue and its follow-up jobs.

    `then` lists the jobs queued (with the parent's data) when the handler returns SUCCESS or SKIPPED.
    `follow`, if given, picks which of `then` to queue and with what data (upstream's conditional onDone).
    One handler per job name, as upstream's JobRepository.setup.
    """
    def deco(fn: Handler) -> Handler:
        existing = JOBS.get(name)
        if existing is not None and _label(existing.handler) != _label(fn):
            raise ValueError(f"Job {name} is already handled by {_label(existing.handler)}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        JOBS[name] = Job(queue=queue, handler=fn, then=tuple(then), max_attempts=max_attempts, follow=follow)
        return fn
    return deco


def _label(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def is_registered(name: str) -> bool:
    return name in JOBS


def validate_graph(registry: dict[str, Job] | None = None) -> list[str]:
    """Problems in the follow-up graph: cycles and follow-ups without a handler. Empty means a sound DAG."""
    reg = JOBS if registry is None else registry
    problems = [f"{name} → {child}: no handler registered"
                for name, job in reg.items() for child in job.then if child not in reg]
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for child in reg[name].then if name in reg else ():
            if state.get(child) == 1:
                problems.append("cycle: " + " → ".join([*path[path.index(child):], child]))
            elif child not in state:
                visit(child, [*path, child])
        state[name] = 2

    for name in sorted(reg):
        if name not in state:
            visit(name, [name])
    return problems


# ---------------------------------------------------------------------------------------------------------
# Enqueue (inside the caller's write transaction)

_RUNNERS: "weakref.WeakSet[JobRunner]" = weakref.WeakSet()
_RUNNERS_LOCK = threading.Lock()


def _wake_all(queue: str | None = None) -> None:
    """Tell the runners that `queue` (None: any queue) may have jobs to start."""
    with _RUNNERS_LOCK:
        runners = list(_RUNNERS)
    for r in runners:
        r.wake(queue)


def _wake_after_commit(conn: Any, queue: str | None = None) -> None:
    # after COMMIT, so the dispatcher's look (on its own read connection, without the writer lock) sees the rows
    db.after_commit(conn, functools.partial(_wake_all, queue), key=("jobs.wake", queue))


db.WAKE_HOOK = _wake_after_commit  # jobs queued by triggers (search_dirty) wake the runner too


def enqueue(conn: Any, name: str, data: dict[str, Any] | None = None, *, dedupe_key: str | None = None,
            delay: float = 0) -> int | None:
    """Queue job `name` on the caller's write connection, inside its open transaction.

    The row commits (or rolls back) with the caller's rows. With `dedupe_key`, nothing is added while a job
    with the same key is still waiting (returns None). `delay` seconds postpone the first run.
    Returns the job id.
    """
    job = JOBS.get(name)
    if job is None:
        raise LookupError(f"No handler registered for job {name}")
    if not conn.in_transaction:
        raise RuntimeError("enqueue() must run inside the caller's ctx.db.write() transaction")
    now = time.time()
    payload = json.dumps(data or {})
    rows = list(conn.execute(
        "INSERT OR IGNORE INTO job (queue, name, data, status, run_after, dedupe_key, created_at, updated_at) "
        "VALUES (?, ?, ?, 'waiting', ?, ?, ?, ?) RETURNING id",
        (str(job.queue), str(name), payload, now + max(0.0, delay), dedupe_key, now, now)))
    _wake_after_commit(conn, str(job.queue))
    return rows[0]["id"] if rows else None


# ---------------------------------------------------------------------------------------------------------
# Pause state (upstream queue.pause()/resume(): running jobs finish, nothing new starts)

def is_paused(conn: Any, queue: str) -> bool:
    row = conn.execute("SELECT is_paused FROM queue_state WHERE queue = ?", (str(queue),)).fetchone()
    return bool(row and row["is_paused"])


def paused_queues(conn: Any) -> set[str]:
    return {r["queue"] for r in conn.execute("SELECT queue FROM queue_state WHERE is_paused = 1")}


def set_paused(conn: Any, queue: str, paused: bool) -> None:
    conn.execute("INSERT INTO queue_state (queue, is_paused) VALUES (?, ?) "
                 "ON CONFLICT (queue) DO UPDATE SET is_paused = excluded.is_paused", (str(queue), int(paused)))
    _wake_after_commit(conn, str(queue))


# ---------------------------------------------------------------------------------------------------------
# Claim, run, retire: shared by the runner and drain()

# Ids of the jobs this process is running, per Database: crash recovery must not touch them.
_OWNED: "weakref.WeakKeyDictionary[Any, set[int]]" = weakref.WeakKeyDictionary()
_OWNED_LOCK = threading.Lock()


def _own(db: Any, job_id: int) -> None:
    with _OWNED_LOCK:
        _OWNED.setdefault(db, set()).add(job_id)


def _disown(db: Any, job_id: int) -> None:
    with _OWNED_LOCK:
        _OWNED.get(db, set()).discard(job_id)


def _owned(db: Any) -> set[int]:
    with _OWNED_LOCK:
        return set(_OWNED.get(db, set()))


_COLUMNS = "id, queue, name, data, attempts, dedupe_key"


def _claim(conn: Any, queue: str | None, limit: int, now: float | None, skip: set[str]) -> list[dict[str, Any]]:
    """waiting → active for up to `limit` due jobs (of `queue`, or of any queue not in `skip`), oldest first.

    One UPDATE under the process-wide writer lock: two claimers can never take the same row.
    `now=None` ignores run_after (drain runs delayed jobs too).
    """
    where, args = ["status = 'waiting'"], []
    if queue is not None:
        where.append("queue = ?")
        args.append(str(queue))
    elif skip:
        where.append(f"queue NOT IN ({','.join('?' * len(skip))})")
        args.extend(sorted(skip))
    if now is not None:
        where.append("run_after <= ?")
        args.append(now)
    rows = list(conn.execute(
        f"UPDATE job SET status = 'active', attempts = attempts + 1, updated_at = ? WHERE id IN "
        f"(SELECT id FROM job WHERE {' AND '.join(where)} ORDER BY run_after, id LIMIT ?) RETURNING {_COLUMNS}",
        (time.time(), *args, limit)))
    return sorted(rows, key=lambda r: r["id"])


@dataclass
class _Outcome:
    ok: bool
    error: str | None = None
    retry: bool = False
    interrupted: bool = False  # cut short by a stopping server: run again, the attempt not counted


def _execute(ctx: Any, row: dict[str, Any]) -> _Outcome:
    """Run one handler; never raises (except BaseExceptions such as KeyboardInterrupt)."""
    job = JOBS.get(row["name"])
    if job is None:
        return _Outcome(False, f"No handler registered for job {row['name']}")
    try:
        data = json.loads(row["data"] or "{}")
        result = job.handler(ctx, data)
    except children.Interrupted as e:
        return _Outcome(False, str(e), interrupted=True)
    except Exception as e:  # noqa: BLE001 (a handler must never take the worker down)
        log.warning("job %s #%s attempt %s failed: %s", row["name"], row["id"], row["attempts"], _error_text(e),
                    exc_info=True)
        return _Outcome(False, _error_text(e), retry=True)
    if result == JobStatus.FAILED:
        return _Outcome(False, "Job returned status failed")
    return _Outcome(True)


def _error_text(e: BaseException) -> str:
    text = "".join(traceback.format_exception_only(e)).strip()
    return text[:4000]


def _children(ctx: Any, conn: Any, job: Job, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if job.follow is None:
        picked: Iterable[Any] = job.then
    else:
        picked = job.follow(ctx, conn, data) or ()
    out = []
    for item in picked:
        name, child_data = (item, data) if isinstance(item, str) else item
        if name not in job.then:
            raise ValueError(f"follow-up {name} is not declared in `then`")
        out.append((name, child_data))
    return out


def _retire(ctx: Any, row: dict[str, Any], outcome: _Outcome, backoff: float) -> str:
    """Record the outcome in one write transaction; returns 'completed', 'retried' or 'failed'."""
    job = JOBS.get(row["name"])
    now = time.time()
    with ctx.db.write() as conn:
        if outcome.interrupted:
            conn.execute("UPDATE job SET status = 'waiting', attempts = max(0, attempts - 1), run_after = ?, "
                         "updated_at = ? WHERE id = ?", (now, now, row["id"]))
            return "retried"
        if outcome.ok and job is not None:
            conn.execute("DELETE FROM job WHERE id = ?", (row["id"],))
            for name, data in _children(ctx, conn, job, json.loads(row["data"] or "{}")):
                if name in JOBS:
                    enqueue(conn, name, data)
                else:
                    log.warning("follow-up %s of %s has no handler; not queued", name, row["name"])
            return "completed"
        max_attempts = job.max_attempts if job is not None else 1
        if outcome.retry and row["attempts"] < max_attempts:
            if row["dedupe_key"] and conn.execute(
                    "SELECT 1 FROM job WHERE dedupe_key = ? AND status = 'waiting'", (row["dedupe_key"],)).fetchone():
                conn.execute("DELETE FROM job WHERE id = ?", (row["id"],))  # a newer twin will do the work
                return "retried"
            delay = min(backoff * 2 ** (row["attempts"] - 1), BACKOFF_MAX)
            conn.execute("UPDATE job SET status = 'waiting', run_after = ?, error = ?, updated_at = ? WHERE id = ?",
                         (now + delay, outcome.error, now, row["id"]))
            _wake_after_commit(conn, row["queue"])
            return "retried"
        conn.execute("UPDATE job SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                     (outcome.error, now, row["id"]))
        return "failed"


def _run_and_retire(ctx: Any, row: dict[str, Any], backoff: float) -> str:
    outcome = _execute(ctx, row)
    try:
        return _retire(ctx, row, outcome, backoff)
    except Exception as e:  # noqa: BLE001 (e.g. a follow() hook that raised: the job fails, nothing is queued)
        log.exception("job %s #%s: could not record its outcome", row["name"], row["id"])
        try:
            with ctx.db.write() as conn:
                conn.execute("UPDATE job SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                             (f"Could not complete: {_error_text(e)}", time.time(), row["id"]))
        except Exception:  # noqa: BLE001 (database gone: recovery on next start puts it back)
            log.exception("job %s #%s left active", row["name"], row["id"])
        return "failed"


def recover(ctx: Any) -> int:
    """Jobs left 'active' by a crash go back to 'waiting' (or to 'failed' once out of attempts)."""
    owned = _owned(ctx.db)
    now = time.time()
    changed = 0
    with ctx.db.write() as conn:
        for row in list(conn.execute(f"SELECT {_COLUMNS} FROM job WHERE status = 'active'")):
            if row["id"] in owned:
                continue
            job = JOBS.get(row["name"])
            max_attempts = job.max_attempts if job is not None else DEFAULT_MAX_ATTEMPTS
            twin = row["dedupe_key"] and conn.execute(
                "SELECT 1 FROM job WHERE dedupe_key = ? AND status = 'waiting'", (row["dedupe_key"],)).fetchone()
            if twin:
                conn.execute("DELETE FROM job WHERE id = ?", (row["id"],))
            elif row["attempts"] >= max_attempts:
                conn.execute("UPDATE job SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                             ("Interrupted: the server stopped while the job was running", now, row["id"]))
            else:
                conn.execute("UPDATE job SET status = 'waiting', updated_at = ? WHERE id = ?", (now, row["id"]))
            changed += 1
    if changed:
        log.info("recovered %d interrupted job(s)", changed)
    return changed


# ---------------------------------------------------------------------------------------------------------
# The runner

class JobRunner:
    """A dispatcher thread that claims due jobs and a ThreadPoolExecutor that runs them.

    Per-queue concurrency comes from system config `job.<queue>.concurrency` (upstream defaults otherwise),
    capped by the worker count; paused queues are skipped.
    """

    def __init__(self, ctx: Any, workers: int | None = None, *, backoff: float = BACKOFF_BASE,
                 poll: float = POLL_INTERVAL):
        self.ctx = ctx
        self.workers = max(1, int(workers if workers is not None else ctx.settings.workers))
        self.backoff = backoff
        self.poll = poll
        self._cv = threading.Condition()
        self._dirty = True
        self._stopping = False
        # set once stop() begins: a long handler (a transcode) may poll it and give up early; its job is retried
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[int, tuple[str, Future[Any] | None]] = {}
        self._limits: tuple[float, dict[str, int]] = (0.0, {})
        self._rotation = 0
        # what the dispatcher looks at next (None: every queue), and the queues that had waiting jobs at its last
        # look (looked at every time: a finished job frees a worker for them)
        self._check: set[str] | None = None
        self._waiting: set[str] = set()
        self._full_look_at = 0.0

    # -- lifecycle --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        recover(self.ctx)
        self._stopping = False
        self.stopping.clear()
        self._dirty = True
        self._check = None
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="immich-job")
        self._thread = threading.Thread(target=self._loop, name="immich-job-dispatch", daemon=True)
        with _RUNNERS_LOCK:
            _RUNNERS.add(self)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop claiming; cut short the tools jobs are running (ffmpeg: their jobs wait again, see children.py);
        let the rest finish (up to `timeout`). True when nothing was left running.

        A job still running after `timeout` keeps its thread (the interpreter joins pool threads at exit), and if
        the process is killed first its row is 'active' and resumes on the next start.
        """
        deadline = time.monotonic() + timeout
        self.stopping.set()
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        children.interrupt(self.stopping)  # a transcode does not hold up the exit: its job runs again next start
        with _RUNNERS_LOCK:
            _RUNNERS.discard(self)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cv:
            futures = [f for _, f in self._inflight.values() if f is not None]
        if futures:
            wait_futures(futures, timeout=max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        with self._cv:
            left = len(self._inflight)
        if left:
            log.warning("%d job(s) still running at shutdown; they resume on the next start", left)
        self._thread = None
        self._pool = None
        return left == 0

    def wake(self, queue: str | None = None) -> None:
        """Something changed: for `queue` (new or retried jobs), or for any queue (None)."""
        with self._cv:
            self._dirty = True
            if queue is None:
                self._check = None
            elif self._check is not None:
                self._check.add(queue)
            self._cv.notify_all()

    # -- introspection (tests, drain) -------------------------------------------------------------------
    def busy(self) -> bool:
        with self._cv:
            return bool(self._inflight)

    def wait_changed(self, timeout: float) -> None:
        """Block until a job finishes or is claimed, or `timeout` passes."""
        with self._cv:
            self._cv.wait(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job is running and none is due in an unpaused queue. True if reached in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy() and not _has_due(self.ctx):
                return True
            self.wait_changed(min(0.05, max(0.0, deadline - time.monotonic())))
        return False

    # -- dispatch ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        wait = 0.0
        while True:
            with self._cv:
                timed_out = not self._dirty and not self._stopping and not self._cv.wait(wait)
                if self._stopping:
                    return
                # a timed-out wait (POLL_INTERVAL, or a delayed job's time) looks at every queue, and so does the
                # first look after `poll` seconds of steady wake-ups: that finds jobs queued by another process
                # (`immich-lite import`) also while uploads keep the dispatcher busy
                full = timed_out or time.monotonic() - self._full_look_at >= self.poll
                check, self._check = (None if full else self._check), set()
                self._dirty = False
            if check is None:
                self._full_look_at = time.monotonic()
            try:
                with self.ctx.db.relaxed_commits():  # claims: a lost one leaves the job waiting
                    wait = self._dispatch(check)
            except Exception:  # noqa: BLE001 (keep dispatching; e.g. a transient database error)
                log.exception("job dispatcher error")
                wait = self.poll

    def _queue_limits(self) -> dict[str, int]:
        at, limits = self._limits
        if time.monotonic() - at < CONFIG_TTL and limits:
            return limits
        try:
            from immich_lite.services.system_config import get_config  # noqa: PLC0415 (import cycle)
            job_cfg = get_config(self.ctx).get("job") or {}
        except Exception:  # noqa: BLE001
            log.exception("could not read job concurrency; using defaults")
            job_cfg = {}
        limits = {}
        for queue in _known_queues():
            value = (job_cfg.get(queue) or {}).get("concurrency") if isinstance(job_cfg.get(queue), dict) else None
            n = 1 if queue in SERIAL_QUEUES else int(value or DEFAULT_CONCURRENCY.get(queue, 1))
            limits[queue] = max(1, min(n, self.workers))
        self._limits = (time.monotonic(), limits)
        return limits

    def _dispatch(self, check: set[str] | None = None) -> float:
        """Claim what may start now and submit it; returns how long the loop may sleep.

        Looks at the queues in `check` (woken for) and those that had waiting jobs at the last look (None: all):
        an upload wakes one queue, so it costs one index seek here, not one per queue."""
        with self._cv:
            free = self.workers - len(self._inflight)
            running: dict[str, int] = {}
            for queue, _ in self._inflight.values():
                running[queue] = running.get(queue, 0) + 1
        limits = self._queue_limits()
        queues = list(limits)
        self._rotation = (self._rotation + 1) % len(queues)
        queues = queues[self._rotation:] + queues[:self._rotation]
        if check is not None:
            queues = [q for q in queues if q in check or q in self._waiting]
        # Look first on this thread's read connection (index seeks), so an idle poll opens no write transaction.
        # No writer lock: every wake-up for new rows comes after their COMMIT (db.after_commit), and a wake-up
        # during this look makes the loop look again.
        now = time.time()
        reader = self.ctx.db.reader()
        due: list[str] = []
        next_due: float | None = None
        paused = paused_queues(reader)
        for queue in queues:
            if queue in paused:
                continue  # stays in _waiting if it was: looked at again after a resume's wake-up or a poll
            m = reader.execute("SELECT MIN(run_after) AS m FROM job WHERE queue = ? AND status = 'waiting'",
                               (queue,)).fetchone()["m"]
            if m is None:
                self._waiting.discard(queue)
                continue
            self._waiting.add(queue)
            if m <= now:
                if running.get(queue, 0) < limits[queue]:
                    due.append(queue)
            else:
                next_due = m if next_due is None else min(next_due, m)
        claimed: list[dict[str, Any]] = []
        if due and free > 0:
            try:
                with self.ctx.db.write() as conn:
                    paused = paused_queues(conn)  # a pause that landed since the look above
                    due = [q for q in due if q not in paused]
                    progress = True
                    while free > 0 and progress:  # round robin: one job per queue per pass
                        progress = False
                        for queue in due:
                            if free <= 0 or running.get(queue, 0) >= limits[queue]:
                                continue
                            if queue in SERIAL_QUEUES and conn.execute(  # one at a time, drain() included
                                    "SELECT 1 FROM job WHERE queue = ? AND status = 'active' LIMIT 1",
                                    (queue,)).fetchone() is not None:
                                continue
                            rows = _claim(conn, queue, 1, now, set())
                            if not rows:
                                continue
                            row = rows[0]
                            claimed.append(row)
                            running[queue] = running.get(queue, 0) + 1
                            free -= 1
                            progress = True
                            # registered before COMMIT: drain() never sees the row neither waiting nor in flight
                            with self._cv:
                                self._inflight[row["id"]] = (queue, None)
                            _own(self.ctx.db, row["id"])
            except BaseException:
                for row in claimed:  # rolled back: the rows are waiting again
                    self._release(row)
                raise
        for row in claimed:
            self._submit(row)
        if next_due is None:
            return self.poll
        return min(self.poll, max(0.005, next_due - time.time()))

    def _submit(self, row: dict[str, Any]) -> None:
        try:
            if self._pool is None:
                raise RuntimeError("stopped")
            fut = self._pool.submit(self._work, row)
        except RuntimeError:  # stopped under us: hand the job back
            try:
                with self.ctx.db.write() as conn:
                    conn.execute("UPDATE job SET status = 'waiting', attempts = attempts - 1 WHERE id = ? "
                                 "AND status = 'active'", (row["id"],))
            finally:
                self._release(row)
            return
        with self._cv:
            if row["id"] in self._inflight:
                self._inflight[row["id"]] = (row["queue"], fut)

    def _work(self, row: dict[str, Any]) -> None:
        try:
            # a job cut short by a power loss runs again; its tools stop when the runner does
            with self.ctx.db.relaxed_commits(), children.bound(self.stopping):
                _run_and_retire(self.ctx, row, self.backoff)
        finally:
            self._release(row)

    def _release(self, row: dict[str, Any]) -> None:
        _disown(self.ctx.db, row["id"])
        with self._cv:
            self._inflight.pop(row["id"], None)
            self._dirty = True
            self._cv.notify_all()


def _known_queues() -> list[str]:
    seen = [str(q) for q in QueueName]
    for job in list(JOBS.values()):
        if str(job.queue) not in seen:
            seen.append(str(job.queue))
    return seen


def _has_due(ctx: Any, *, ignore_delay: bool = False) -> bool:
    conn = ctx.db.reader()
    paused = paused_queues(conn)
    sql = "SELECT queue FROM job WHERE status = 'waiting'" + ("" if ignore_delay else " AND run_after <= ?")
    args = () if ignore_delay else (time.time(),)
    return any(r["queue"] not in paused for r in conn.execute(sql, args))


# ---------------------------------------------------------------------------------------------------------
# drain: everything pending, now, in this thread

def drain(ctx: Any, timeout: float = 60.0, *, include_paused: bool = False,
          ignore_delay: bool = True) -> dict[str, int]:
    """Run pending jobs synchronously until none is left, follow-ups included (tests, restore).

    Safe next to a running JobRunner: both claim rows with the same atomic UPDATE, and drain also waits for
    the runner's in-flight jobs (which may queue follow-ups). Delayed jobs and retries run at once unless
    `ignore_delay=False`; paused queues are left alone unless `include_paused`.
    Returns {"completed", "retried", "failed"} counts of the jobs run here; TimeoutError after `timeout`.
    """
    counts = {"completed": 0, "retried": 0, "failed": 0}
    runner: JobRunner | None = ctx.jobs if isinstance(getattr(ctx, "jobs", None), JobRunner) else None
    if runner is None or not runner.running:
        runner = None
        recover(ctx)
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs.drain: still busy after {timeout}s ({counts})")
        with ctx.db.write() as conn:
            skip = set() if include_paused else paused_queues(conn)
            # a serial queue (e.g. facialRecognition) runs one job at a time here too, beside the runner
            skip |= {r["queue"] for r in conn.execute(
                f"SELECT DISTINCT queue FROM job WHERE status = 'active' AND queue IN "
                f"({','.join('?' * len(SERIAL_QUEUES))})", sorted(SERIAL_QUEUES))}
            rows = _claim(conn, None, 1, None if ignore_delay else time.time(), skip)
            for row in rows:
                _own(ctx.db, row["id"])
        if rows:
            row = rows[0]
            try:
                counts[_run_and_retire(ctx, row, 0.0 if ignore_delay else BACKOFF_BASE)] += 1
            finally:
                _disown(ctx.db, row["id"])
            continue
        if runner is not None and runner.busy():
            runner.wait_changed(0.05)
            continue
        if not ignore_delay and _has_due(ctx):
            continue
        if not ignore_delay and _next_delayed(ctx, include_paused) is not None:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            continue
        return counts


def _next_delayed(ctx: Any, include_paused: bool) -> float | None:
    conn = ctx.db.reader()
    paused = set() if include_paused else paused_queues(conn)
    due = [r["run_after"] for r in conn.execute("SELECT queue, run_after FROM job WHERE status = 'waiting'")
           if r["queue"] not in paused]
    return min(due) if due else None
