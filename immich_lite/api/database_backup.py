"""Database Backups (admin): SQLite snapshots in <data>/backups, plus the nightly DatabaseBackup job."""
from __future__ import annotations

import os
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from immich_lite import backup as bk
from immich_lite.api import multipart
from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, NotFound
from immich_lite.jobs import JobName, JobStatus, QueueName, register
from immich_lite.storage import commit_file


def _timezone() -> str:
    return os.environ.get("TZ") or time.tzname[0] or "UTC"


def _path(ctx: Ctx, name: str) -> Any:
    try:
        return bk.db_backup_path(ctx, name)
    except ValueError as e:
        raise BadRequest(str(e)) from None


def list_backups(ctx: Ctx) -> dict[str, Any]:
    tz = _timezone()
    return {"backups": [{**b, "timezone": tz} for b in bk.list_db_backups(ctx)]}


def delete_backups(ctx: Ctx, body: dict[str, Any]) -> None:
    paths = [_path(ctx, n) for n in body["backups"]]  # validate every name before deleting any
    for p in paths:
        p.unlink(missing_ok=True)


def download(ctx: Ctx, name: str) -> Response:
    p = _path(ctx, name)
    if not p.is_file():
        raise NotFound("Backup not found")
    return FileResponse(p, media_type="application/octet-stream", filename=name)


def _check_name(filename: str) -> None:
    if not filename.endswith(".db"):
        raise BadRequest("Invalid backup file: expected an immich-lite database (.db)")


async def _upload(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None
    names: list[str] = []

    def accept(filename: str) -> None:
        _check_name(filename)
        names.append(os.path.basename(filename))

    upload = await multipart.receive_file(call.request, "file", ctx.storage.tmp_path, accept)
    try:
        problems = await run_in_threadpool(bk.check_sqlite_file, upload.path)
        if problems:
            raise BadRequest(f"Invalid backup file: {problems[0]}")
        stem = "".join(c if c.isalnum() or c in "_-." else "_" for c in names[0][:-3]).strip(".") or "backup"
        dest = _path(ctx, f"uploaded-{stem}.db")
        await run_in_threadpool(commit_file, upload.path, dest)
    finally:
        await upload.abort()  # no-op once committed
    return Response(status_code=201)


def start_restore(ctx: Ctx) -> None:
    # Upstream switches to maintenance mode and restores in-process; SQLite cannot be swapped under a live
    # server safely (howtocorrupt 1.3/2.4), so restore is an offline command.
    raise BadRequest("Restoring the database needs the server stopped: run `immich-lite restore` instead")


@register(JobName.DATABASE_BACKUP, QueueName.BACKUP_DATABASE)
def database_backup_job(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    from immich_lite.services.system_config import get_config  # noqa: PLC0415

    cfg = get_config(ctx).get("backup", {}).get("database", {})
    if not cfg.get("enabled", True) and not data.get("force"):
        return JobStatus.SKIPPED
    bk.create_db_backup(ctx, keep_last=int(cfg.get("keepLastAmount", 14)))
    return JobStatus.SUCCESS


ROUTES = [
    route("listDatabaseBackups", lambda ctx, auth, c: list_backups(ctx)),
    route("deleteDatabaseBackup", lambda ctx, auth, c: delete_backups(ctx, c.body)),
    route("downloadDatabaseBackup", lambda ctx, auth, c: download(ctx, c.params["filename"])),
    route("uploadDatabaseBackup", _upload, raw=True),
    route("startDatabaseRestoreFlow", lambda ctx, auth, c: start_restore(ctx)),
]
