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


def test_nightly_quota_recount_corrects_drift(admin: Actor, ctx: Any) -> None:
    upload(admin, CORPUS / "jpeg" / "mongolia.jpeg")
    jobs.drain(ctx, timeout=120)
    right = admin.get("/api/users/me").json()["quotaUsageInBytes"]
    assert right == (CORPUS / "jpeg" / "mongolia.jpeg").stat().st_size
    with ctx.db.write() as conn:  # drift, e.g. from a file edited behind the server's back
        conn.execute('UPDATE "user" SET quota_usage_in_bytes = 5 WHERE id = ?', (admin.id,))
    ctx.extra["scheduler"].stop()
    assert "UserSyncUsage" in scheduler.run_nightly(ctx)
    jobs.drain(ctx, timeout=60)
    assert admin.get("/api/users/me").json()["quotaUsageInBytes"] == right
    config = admin.get("/api/system-config").json()
    config["nightlyTasks"]["syncQuotaUsage"] = False
    assert admin.put("/api/system-config", json=config).status_code == 200
    assert "UserSyncUsage" not in scheduler.run_nightly(ctx)


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


# --- cron schedules (backup.database, library.scan) ------------------------------------------------------

def _set_config(admin: Actor, change: Any) -> None:
    config = admin.get("/api/system-config").json()
    change(config)
    assert admin.put("/api/system-config", json=config).status_code == 200


def _baseline(ctx: Any, when: datetime) -> None:
    """Start every cron schedule counting from `when` (as the scheduler does the first time it sees one)."""
    with ctx.db.write() as conn:
        conn.execute("DELETE FROM system_metadata WHERE key LIKE ?", (scheduler.CRON_PREFIX + "%",))
    assert scheduler.cron_due(ctx, when) == []


def _due(ctx: Any, when: datetime) -> list[str]:
    return sorted(s.key for s in scheduler.cron_due(ctx, when))


def test_cron_schedules_fire_per_expression_and_catch_up_once(ctx: Any, admin: Actor) -> None:
    ctx.extra["scheduler"].stop()
    ctx.jobs.stop()  # the queued jobs are counted as waiting below: the app's runner must not start them
    day = datetime(2026, 1, 2, tzinfo=timezone.utc)
    _set_config(admin, lambda c: (c["backup"]["database"].update(cronExpression="0 2 * * *"),
                                  c["library"]["scan"].update(cronExpression="30 1 * * *")))
    assert "DatabaseBackup" not in [name for name, _ in scheduler.NIGHTLY]
    _baseline(ctx, day)                                           # 00:00
    assert _due(ctx, day + timedelta(hours=1)) == []              # 01:00: nothing yet
    assert _due(ctx, day + timedelta(hours=1, minutes=30)) == ["library-scan"]
    assert _due(ctx, day + timedelta(hours=2)) == ["database-backup", "library-scan"]
    queued = scheduler.run_cron(ctx, scheduler.cron_due(ctx, day + timedelta(hours=2)), day + timedelta(hours=2))
    assert sorted(queued) == ["DatabaseBackup", "LibraryScanQueueAll"]
    assert _due(ctx, day + timedelta(hours=3)) == []
    # five days of downtime: one catch-up each, not five
    later = day + timedelta(days=5, hours=12)
    schedules = scheduler.cron_due(ctx, later)
    assert len(schedules) == 2
    scheduler.run_cron(ctx, schedules, later)
    scheduler.run_cron(ctx, schedules, later)                     # even twice: the dedupe key holds one job
    waiting = ctx.db.reader().execute(
        "SELECT name, count(*) AS n FROM job WHERE status = 'waiting' AND dedupe_key LIKE 'cron:%' GROUP BY name")
    assert {r["name"]: r["n"] for r in waiting} == {"DatabaseBackup": 1, "LibraryScanQueueAll": 1}
    assert _due(ctx, later + timedelta(minutes=1)) == []


def test_cron_respects_enabled_flag_and_config_changes(ctx: Any, admin: Actor) -> None:
    ctx.extra["scheduler"].stop()
    day = datetime(2026, 1, 2, tzinfo=timezone.utc)
    _set_config(admin, lambda c: (c["backup"]["database"].update(enabled=False, cronExpression="0 2 * * *"),
                                  c["library"]["scan"].update(enabled=True, cronExpression="0 2 * * *")))
    _baseline(ctx, day)
    assert _due(ctx, day + timedelta(hours=3)) == ["library-scan"]   # backup disabled
    # re-enabling (or changing the expression) starts counting from then: no catch-up of missed fires
    _set_config(admin, lambda c: (c["backup"]["database"].update(enabled=True),
                                  c["library"]["scan"].update(cronExpression="0 4 * * *")))
    assert _due(ctx, day + timedelta(hours=5)) == []
    assert _due(ctx, day + timedelta(hours=6)) == []
    assert _due(ctx, day + timedelta(days=1, hours=4)) == ["database-backup", "library-scan"]
    # the node `cron` syntax: seconds first with 6 fields, and aliases
    _set_config(admin, lambda c: c["library"]["scan"].update(cronExpression="0 0 */6 * * *"))
    assert scheduler.previous_fire("0 0 */6 * * *", day + timedelta(hours=7)) == day + timedelta(hours=6)
    assert scheduler.previous_fire("@daily", day + timedelta(hours=7)) == day


def test_scheduled_library_scan_scans_every_library(tmp_path: Any, ctx: Any, admin: Actor) -> None:
    import shutil  # noqa: PLC0415

    ctx.extra["scheduler"].stop()
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        shutil.copy2(CORPUS / "jpeg" / "DSCN0010.jpg", root / f"{name}.jpg")
        roots.append(root)
    libs = [admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(r)]}).json() for r in roots]
    gone = admin.post("/api/libraries", json={"ownerId": admin.id, "importPaths": [str(roots[0])]}).json()
    assert admin.delete(f"/api/libraries/{gone['id']}").status_code == 204
    jobs.drain(ctx)
    day = datetime(2026, 1, 2, tzinfo=timezone.utc)
    _baseline(ctx, day)
    assert scheduler.run_cron(ctx, scheduler.cron_due(ctx, day + timedelta(days=1)), day + timedelta(days=1))
    jobs.drain(ctx)
    for lib in libs:
        assert admin.get(f"/api/libraries/{lib['id']}/statistics").json()["total"] == 1
    rows = ctx.db.reader().execute("SELECT count(*) AS n FROM asset WHERE library_id = ?", (gone["id"],)).fetchone()
    assert rows["n"] == 0
