"""Nightly tasks: queued once per start time, and the trash purge they run."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from immich_lite import jobs, scheduler
from tests.conftest import CORPUS, Actor
from tests.helpers.upload import upload


def test_nightly_runs_once_per_start_time(ctx: Any, client: Any) -> None:
    now = datetime(2026, 1, 2, 3, 0, tzinfo=timezone.utc)
    ctx.extra["scheduler"].stop()  # drive it by hand with a fixed clock
    with ctx.db.write() as conn:  # last run long ago
        conn.execute("UPDATE system_metadata SET value = ? WHERE key = ?",
                     ('{"lastRun": "2025-12-30T00:00:00+00:00"}', scheduler.STATE_KEY))
    assert scheduler.due(ctx, now)
    assert "AssetDeleteCheck" in scheduler.run_nightly(ctx, now)
    assert not scheduler.due(ctx, now + timedelta(hours=1))
    assert scheduler.due(ctx, now + timedelta(days=1))


def test_a_new_install_waits_for_the_next_start_time(ctx: Any) -> None:
    with ctx.db.write() as conn:
        conn.execute("DELETE FROM system_metadata WHERE key = ?", (scheduler.STATE_KEY,))
    assert not scheduler.due(ctx)  # nothing to catch up on
    assert not scheduler.due(ctx)


def test_trash_older_than_trash_days_is_purged(admin: Actor, ctx: Any) -> None:
    old, fresh = (upload(admin, CORPUS / "jpeg" / n).json()["id"] for n in ("mongolia.jpeg", "DSCN0010.jpg"))
    jobs.drain(ctx)
    admin.delete("/api/assets", json={"ids": [old, fresh]})
    with ctx.db.write() as conn:
        conn.execute("UPDATE asset SET deleted_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (old,))
    scheduler.run_nightly(ctx)
    jobs.drain(ctx)
    assert admin.get(f"/api/assets/{old}").status_code == 400
    assert admin.get(f"/api/assets/{fresh}").json()["isTrashed"] is True
