"""Nightly tasks (upstream nightlyTasks): one thread that queues the nightly jobs at `nightlyTasks.startTime`.

The work itself is ordinary durable jobs; this thread only decides *when*. The last run is remembered in
system_metadata, so a server that was down at the start time catches up once when it comes back.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from immich_lite.ctx import Ctx
from immich_lite.repos import system_metadata

log = logging.getLogger("immich_lite.scheduler")
STATE_KEY = "nightly-tasks-state"

# (job name, config flag under nightlyTasks or None = always)
NIGHTLY = (
    ("AssetDeleteCheck", None),          # trash older than trash.days, users past their delete delay
    ("SessionCleanup", None),
    ("NotificationsCleanup", "databaseCleanup"),
    ("AuditTableCleanup", "databaseCleanup"),
    ("MemoryGenerate", "generateMemories"),
    ("UserSyncUsage", "syncQuotaUsage"),
    ("DatabaseBackup", None),            # the job itself honours backup.database.enabled and keepLastAmount
)


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
            self._stop.wait(self.interval)
