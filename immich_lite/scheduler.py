"""Scheduled jobs: one thread that queues the nightly jobs at `nightlyTasks.startTime` (upstream nightlyTasks)
and the cron-driven ones (upstream CronRepository: backup.database, library.scan).

The work itself is ordinary durable jobs; this thread only decides *when*. Each schedule's last run is
remembered in system_metadata, so a server that was down at a fire time catches up once (never a burst) when it
comes back. Config is re-read every loop, so PUT /api/system-config changes apply without a restart.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from croniter import croniter

from immich_lite.ctx import Ctx
from immich_lite.repos import system_metadata

log = logging.getLogger("immich_lite.scheduler")
STATE_KEY = "nightly-tasks-state"

# (job name, config flag under nightlyTasks or None = always)
MODEL_TTL = 300.0  # seconds idle before the face models are freed (upstream's MACHINE_LEARNING_MODEL_TTL)

NIGHTLY = (
    ("AssetDeleteCheck", None),          # trash older than trash.days, users past their delete delay
    ("SessionCleanup", None),
    ("NotificationsCleanup", "databaseCleanup"),
    ("AuditTableCleanup", "databaseCleanup"),
    ("MemoryGenerate", "generateMemories"),
    ("UserSyncUsage", "syncQuotaUsage"),
)


class CronSchedule(NamedTuple):
    key: str            # system_metadata key suffix for the last run
    enabled: str        # dotted config path of the enabled flag
    expression: str     # dotted config path of the cron expression
    job: str
    data: dict[str, Any]


CRON_PREFIX = "cron-schedule-state:"
CRON_SCHEDULES = (
    CronSchedule("database-backup", "backup.database.enabled", "backup.database.cronExpression", "DatabaseBackup", {}),
    CronSchedule("library-scan", "library.scan.enabled", "library.scan.cronExpression", "LibraryScanQueueAll", {}),
)

# the `cron` package's aliases (node cron: 6 fields, seconds first)
_CRON_ALIASES = {"@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
                 "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@hourly": "0 0 * * * *",
                 "@minutely": "0 * * * * *", "@secondly": "* * * * * *", "@weekdays": "0 0 0 * * 1-5",
                 "@weekends": "0 0 0 * * 0,6"}


def _lookup(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def previous_fire(expression: str, now: datetime) -> datetime:
    """The latest fire time of `expression` at or before `now` (node-cron syntax: optional leading seconds)."""
    text = expression.strip().lower()
    text = _CRON_ALIASES.get(text, text)
    fields = text.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    it = croniter(" ".join(fields), now + timedelta(microseconds=1), second_at_beginning=True)
    return it.get_prev(datetime)


def cron_due(ctx: Ctx, now: datetime | None = None) -> list[CronSchedule]:
    """The cron schedules whose latest fire time has passed since their last run.

    A schedule seen for the first time, just enabled, or whose expression changed, starts counting from now
    (like upstream re-creating the CronJob): nothing to catch up on.
    """
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    now = now or datetime.now().astimezone()
    config = get_config(ctx)
    reader = ctx.db.reader()
    result, reset = [], []
    for sched in CRON_SCHEDULES:
        enabled = bool(_lookup(config, sched.enabled))
        expression = str(_lookup(config, sched.expression) or "")
        signature = expression if enabled else None
        state = system_metadata.get(reader, CRON_PREFIX + sched.key) or {}
        if state.get("lastRun") is None or state.get("signature") != signature:
            reset.append((sched.key, signature))
            continue
        if not enabled:
            continue
        try:
            fire = previous_fire(expression, now)
        except (ValueError, KeyError) as e:  # croniter's errors derive from ValueError
            log.warning("invalid cron expression %r for %s: %s", expression, sched.key, e)
            continue
        if datetime.fromisoformat(state["lastRun"]) < fire:
            result.append(sched)
    if reset:
        with ctx.db.write() as conn:
            for key, signature in reset:
                system_metadata.set(conn, CRON_PREFIX + key, {"lastRun": now.isoformat(), "signature": signature})
    return result


def run_cron(ctx: Ctx, schedules: list[CronSchedule], now: datetime | None = None) -> list[str]:
    """Queue each schedule's job (deduplicated) and record its run; returns the queued job names."""
    from immich_lite import jobs  # noqa: PLC0415
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    now = now or datetime.now().astimezone()
    config = get_config(ctx)
    queued = []
    with ctx.db.write() as conn:
        for sched in schedules:
            if jobs.is_registered(sched.job):
                jobs.enqueue(conn, sched.job, dict(sched.data), dedupe_key=f"cron:{sched.key}")
                queued.append(sched.job)
            else:
                log.warning("scheduled job %s is not registered", sched.job)
            system_metadata.set(conn, CRON_PREFIX + sched.key, {
                "lastRun": now.isoformat(), "signature": str(_lookup(config, sched.expression) or "")})
    if queued:
        log.info("cron jobs queued: %s", ", ".join(queued))
    return queued


def _start_time(config: dict[str, Any], now: datetime) -> datetime:
    hh, mm = (int(x) for x in str(config.get("nightlyTasks", {}).get("startTime", "00:00")).split(":"))
    return now.replace(hour=hh, minute=mm, second=0, microsecond=0)


def due(ctx: Ctx, now: datetime | None = None) -> bool:
    """True when the most recent scheduled start has passed and has not run yet."""
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    now = now or datetime.now().astimezone()
    start = _start_time(get_config(ctx), now)
    if start > now:
        start -= timedelta(days=1)
    last = (system_metadata.get(ctx.db.reader(), STATE_KEY) or {}).get("lastRun")
    if last is None:
        # a new install has nothing to catch up on: start counting from now, run at the next start time
        with ctx.db.write() as conn:
            system_metadata.set(conn, STATE_KEY, {"lastRun": now.isoformat()})
        return False
    return datetime.fromisoformat(last) < start


def run_nightly(ctx: Ctx, now: datetime | None = None) -> list[str]:
    """Queue every enabled nightly job (deduplicated) and record the run; returns the queued names."""
    from immich_lite import jobs  # noqa: PLC0415
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    now = now or datetime.now().astimezone()
    flags = get_config(ctx).get("nightlyTasks", {})
    queued = []
    with ctx.db.write() as conn:
        for name, flag in NIGHTLY:
            if (flag is None or flags.get(flag, True)) and jobs.is_registered(name):
                jobs.enqueue(conn, name, {}, dedupe_key=f"nightly:{name}")
                queued.append(name)
        system_metadata.set(conn, STATE_KEY, {"lastRun": now.isoformat()})
    log.info("nightly tasks queued: %s", ", ".join(queued) or "none")
    return queued


class Scheduler:
    def __init__(self, ctx: Ctx, interval: float = 60.0):
        self.ctx, self.interval = ctx, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="immich-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if due(self.ctx):
                    run_nightly(self.ctx)
            except Exception:  # noqa: BLE001 (the scheduler must outlive a bad config or a busy database)
                log.exception("nightly scheduling failed")
            try:
                schedules = cron_due(self.ctx)
                if schedules:
                    run_cron(self.ctx, schedules)
            except Exception:  # noqa: BLE001
                log.exception("cron scheduling failed")
            try:
                from immich_lite.ml import provider  # noqa: PLC0415

                for name in provider.router(self.ctx).local.unload_idle(MODEL_TTL):
                    log.info("%s models unloaded after %.0f s idle", name, MODEL_TTL)
                from immich_lite.search import vectors  # noqa: PLC0415

                vectors.unload_idle(MODEL_TTL)
            except Exception:  # noqa: BLE001
                log.exception("unloading idle models failed")
            self._stop.wait(self.interval)
