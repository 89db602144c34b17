"""The immich-lite command: parses flags and calls into the app; no logic here."""
from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from immich_lite import IMMICH_VERSION, __version__
from immich_lite.config import SETTINGS, Settings


def settings_options(fn: Any) -> Any:
    """One click option per SETTINGS row (flag, env var and help all come from the table)."""
    for s in reversed(SETTINGS):
        kind = click.BOOL if s.type.__name__ == "_bool" else (int if s.type is int else str)
        fn = click.option(s.flag, s.name, type=kind, default=None,
                          help=f"{s.help} [env {s.env}; default {s.default}]")(fn)
    return fn


@click.group()
@click.version_option(__version__, prog_name="immich-lite")
def cli() -> None:
    """immich-lite: a light, one-process server for the Immich apps."""


@cli.command()
@settings_options
def serve(**flags: Any) -> None:
    """Serve the Immich API (and the front page) with hypercorn."""
    settings = Settings.load(flags)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level.lower() != "debug":
        # libraries that log every internal step at INFO (libvips: each thumbnail's loader, shrink, threadpool)
        for noisy in ("pyvips", "exiftool", "engineio", "socketio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    from immich_lite.backup import Locked, lock_data_dir  # noqa: PLC0415

    settings.data_path.mkdir(parents=True, exist_ok=True)
    try:  # held for the server's lifetime: `restore` refuses while it is held
        lock = lock_data_dir(settings.data_path)
    except Locked as e:
        raise click.ClickException(str(e)) from None
    try:
        from immich_lite.serving import serve as run_server  # noqa: PLC0415

        asyncio.run(run_server(settings, click.echo))
    finally:
        lock.close()


@cli.command("ml-serve")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=3003, show_default=True, type=int, help="Port (upstream's machine-learning port).")
@click.option("--models-dir", default="./immich-data/models", show_default=True,
              help="CLIP models in upstream's layout (<dir>/<modelName>/visual/model.onnx ...).")
@click.option("--model-ttl", default=300, show_default=True, type=int,
              help="Seconds a model stays loaded without use (upstream's MACHINE_LEARNING_MODEL_TTL).")
@click.option("--log-level", default="info", show_default=True)
def ml_serve(host: str, port: int, models_dir: str, model_ttl: int, log_level: str) -> None:
    """Answer upstream Immich's machine-learning protocol (/ping, /predict) for other servers: CLIP (with the
    models in --models-dir), faces and OCR (their models ship in the packages)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from immich_lite.ml.server import serve_ml  # noqa: PLC0415

    asyncio.run(serve_ml(host, port, Path(models_dir).expanduser().resolve(), click.echo, model_ttl=model_ttl))


@cli.command()
def version() -> None:
    """Print the immich-lite version and the Immich API version it speaks."""
    click.echo(f"immich-lite {__version__} (Immich API {'.'.join(map(str, IMMICH_VERSION))})")


# --- backup / verify / restore (logic in immich_lite.backup) -----------------------------------------------

def _data_dir(value: str | None) -> Path:
    return Settings.load({"data_dir": value}).data_path


data_dir_option = click.option("--data-dir", "data_dir", default=None,
                               help="The data dir [env IMMICH_LITE_DATA_DIR; default ./immich-data]")


class _Progress:
    """A tqdm bar on a terminal; a few plain lines otherwise (cron, logs)."""

    def __init__(self, label: str, unit: str = "file"):
        self.label, self.unit, self.bar, self.done, self.total = label, unit, None, 0, 0
        self.tty = sys.stderr.isatty()

    def __call__(self, event: str, amount: int) -> None:
        if event == "total":
            self.total = amount
            if self.tty:
                from tqdm import tqdm  # noqa: PLC0415

                self.bar = tqdm(total=amount, desc=self.label, unit=self.unit, file=sys.stderr, leave=False)
            else:
                click.echo(f"{self.label}: {amount} {self.unit}s", err=True)
        elif event == "file":
            self.done += amount
            if self.bar is not None:
                self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run(fn: Callable[[], Any]) -> Any:
    from immich_lite.backup import BackupError  # noqa: PLC0415

    try:
        return fn()
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from None


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@data_dir_option
@click.option("--with-derived", is_flag=True, help="Also copy thumbnails, previews and encoded videos.")
def backup(dest: Path, data_dir: str | None, with_derived: bool) -> None:
    """Back up the database and every original, sidecar and profile image into DEST (safe while serving).

    Incremental: files unchanged since the previous backup in DEST are not copied again. Exit code 0 when the
    backup is complete, 1 on failure or when an original no longer matches its recorded checksum.
    """
    from immich_lite import backup as bk  # noqa: PLC0415

    progress = _Progress("backup")
    try:
        r = _run(lambda: bk.backup(_data_dir(data_dir), dest, with_derived=with_derived, progress=progress))
    finally:
        progress.close()
    click.echo(f"backup: {r.path} files={r.files} copied={r.copied} unchanged={r.skipped} "
               f"bytes_copied={r.bytes_copied} vanished={len(r.vanished)} mismatched={len(r.mismatched)}")
    for p in r.vanished:
        click.echo(f"  vanished before copy (deleted meanwhile?): {p}", err=True)
    for p in r.mismatched:
        click.echo(f"  original does not match its recorded checksum: {p}", err=True)
    if r.mismatched:
        sys.exit(1)


@cli.command()
@data_dir_option
@click.option("--no-checksums", is_flag=True, help="Only check that originals exist (skip reading them).")
def verify(data_dir: str | None, no_checksums: bool) -> None:
    """Check the data dir: integrity_check, originals vs recorded SHA-1, orphan files, the search index against the
    database; requeue missing thumbnails and a rebuild of a search index that disagrees.

    Prints one summary line (for cron). Exit code 0 when clean, 1 when there are problems.
    """
    from immich_lite import backup as bk  # noqa: PLC0415
    from immich_lite.app import build_ctx  # noqa: PLC0415

    data = _data_dir(data_dir)
    if not (data / bk.DB_NAME).is_file():
        raise click.ClickException(f"no database at {data / bk.DB_NAME}")
    ctx = build_ctx(Settings.load({"data_dir": str(data)}))
    progress = _Progress("verify")
    try:
        r = _run(lambda: bk.verify(ctx, checksums=not no_checksums, progress=progress))
    finally:
        progress.close()
        ctx.db.close()
    for label, items in (("integrity", r.integrity), ("missing original", r.missing),
                         ("checksum mismatch", r.mismatched), ("orphan file", r.orphans),
                         ("search index", r.search_index[:20])):
        for item in items:
            click.echo(f"  {label}: {item}", err=True)
    click.echo(r.summary())
    sys.exit(0 if r.ok else 1)


@cli.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@data_dir_option
@click.option("--keep-old/--discard-old", default=True,
              help="Keep the replaced data dir as <data-dir>.pre-restore-<time> (default: photos uploaded after the "
                   "backup are never deleted by a restore); --discard-old removes it.")
@click.option("--rebuild/--no-rebuild", default=False,
              help="Regenerate thumbnails now (with progress) instead of leaving them queued for the next serve.")
def restore(src: Path, data_dir: str | None, keep_old: bool, rebuild: bool) -> None:
    """Restore a backup (SRC: a backup destination, or one of its snapshots/<name>) over the data dir.

    Refuses while a server uses the data dir and when any file in the backup fails its SHA-1. Builds the new data
    dir beside the old one and swaps it in atomically; thumbnails are queued for regeneration.
    """
    from immich_lite import backup as bk  # noqa: PLC0415

    data = _data_dir(data_dir)
    checking, copying = _Progress("checking backup"), _Progress("restoring")
    try:
        r = _run(lambda: bk.restore(src, data, keep_old=keep_old, progress=copying, verify_progress=checking))
    finally:
        checking.close()
        copying.close()
    click.echo(f"restore: {r.snapshot.name} -> {data} files={r.files}" + (f" (old data kept in {r.old})" if r.old else ""))
    queued = _run(lambda: _queue_rebuild(data, rebuild))
    click.echo(f"restore: {queued} assets queued for thumbnail regeneration"
               + ("" if rebuild else " (they run when the server starts)"))


def _queue_rebuild(data: Path, run_now: bool) -> int:
    import importlib  # noqa: PLC0415

    from immich_lite import backup as bk  # noqa: PLC0415
    from immich_lite.app import JOB_MODULES, build_ctx  # noqa: PLC0415

    for name in JOB_MODULES:
        importlib.import_module(name)
    lock = bk.lock_data_dir(data)  # no server may start while we write into the restored dir
    ctx = build_ctx(Settings.load({"data_dir": str(data)}))
    try:
        queued = bk.requeue_missing_thumbnails(ctx)
        if run_now and queued:
            conn = ctx.db.reader()
            _run_jobs(ctx, "thumbnails", lambda: conn.execute(
                "SELECT count(*) AS n FROM job WHERE name = ? AND status IN ('waiting', 'active')",
                ("AssetGenerateThumbnails",)).fetchone()["n"])
        return int(queued)
    finally:
        ctx.db.close()
        lock.close()


# --- admin: upstream's immich-admin commands (logic in immich_lite.admin) -----------------------------------

def _admin(fn: Callable[..., Any], data_dir: str | None, *, create: bool = False) -> Any:
    """Run fn(db) on the data dir's database; AdminError (missing, locked, refused) -> message and exit 1."""
    from immich_lite import admin  # noqa: PLC0415

    try:
        with admin.open_db(_data_dir(data_dir), create=create) as db:
            return fn(db)
    except admin.AdminError as e:
        raise click.ClickException(str(e)) from None


@cli.group("admin")
def admin_group() -> None:
    """Administer a data dir (create the admin, reset passwords, maintenance mode, jobs); safe while serving."""


@admin_group.command("create-admin")
@click.option("--email", required=True, help="The admin's email (login name).")
@click.option("--name", required=True, help="The admin's display name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The admin's password (prompted for when omitted).")
@click.option("--force", is_flag=True, help="Create another admin even if one exists.")
@data_dir_option
def admin_create_admin(email: str, name: str, password: str, force: bool, data_dir: str | None) -> None:
    """Create the admin account (as the web's first sign-up); refuses if an admin exists unless --force."""
    from immich_lite import admin  # noqa: PLC0415

    user = _admin(lambda db: admin.create_admin(db, email, name, password, force=force), data_dir, create=True)
    click.echo(f"created admin {user['email']} (id {user['id']})")


@admin_group.command("reset-password")
@click.argument("email")
@click.option("--password", default=None, help="The new password; prompted for when omitted (blank: a random one).")
@click.option("--invalidate-sessions", is_flag=True, help="Also log the user out of every device.")
@data_dir_option
def admin_reset_password(email: str, password: str | None, invalidate_sessions: bool, data_dir: str | None) -> None:
    """Reset any user's password (upstream's reset-admin-password); a random one must be changed at next login."""
    from immich_lite import admin  # noqa: PLC0415

    if password is None:
        password = click.prompt("New password (blank for a random one)", default="", show_default=False,
                                hide_input=True)
    user, new, removed = _admin(lambda db: admin.reset_password(db, email, password or None,
                                                                invalidate_sessions=invalidate_sessions), data_dir)
    if password:
        click.echo(f"the password of {user['email']} has been updated")
    else:
        click.echo(f"the password of {user['email']} has been updated to: {new}")
    if invalidate_sessions:
        click.echo(f"{removed} session(s) logged out")


@admin_group.command("list-users")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@data_dir_option
def admin_list_users(as_json: bool, data_dir: str | None) -> None:
    """List every user (deleted ones too) with id, email, name, admin flag and status."""
    import json  # noqa: PLC0415

    from immich_lite import admin  # noqa: PLC0415

    users = _admin(admin.list_users, data_dir)
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    click.echo(f"{'id':36}  {'email':32}  {'name':20}  admin  status")
    for u in users:
        click.echo(f"{u['id']:36}  {u['email']:32}  {u['name'][:20]:20}  {'yes' if u['isAdmin'] else 'no':5}  "
                   f"{u['status']}")
    click.echo(f"{len(users)} user(s)")


@admin_group.command("maintenance")
@click.argument("action", type=click.Choice(["enable", "disable", "status"]))
@data_dir_option
def admin_maintenance(action: str, data_dir: str | None) -> None:
    """Enable or disable maintenance mode (the API answers 503 meanwhile), or show its status."""
    from immich_lite import admin  # noqa: PLC0415

    if action == "status":
        state = _admin(admin.maintenance_status, data_dir)
    else:
        state = _admin(lambda db: admin.set_maintenance(db, action == "enable"), data_dir)
    on = state.get("isMaintenanceMode")
    click.echo(f"maintenance mode is {'on' if on else 'off'}" + (f" (since {state['since']})" if on and
                                                                  state.get("since") else ""))


@admin_group.command("jobs")
@data_dir_option
def admin_jobs(data_dir: str | None) -> None:
    """Show the job queues: active, waiting, delayed, paused and failed counts."""
    from immich_lite import admin  # noqa: PLC0415

    rows = _admin(admin.job_counts, data_dir)
    cols = ("active", "waiting", "delayed", "paused", "failed")
    click.echo(f"{'queue':26}" + "".join(f"{c:>9}" for c in cols))
    for r in rows:
        click.echo(f"{r['queue'] + (' (paused)' if r['isPaused'] else ''):26}" + "".join(f"{r[c]:>9}" for c in cols))
    if not rows:
        click.echo("no jobs")


# --- import: local files into a user's library (logic in immich_lite.importer) -----------------------------

@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", "email", required=True, help="Email of the user who will own the imported assets.")
@data_dir_option
@click.option("--album-per-folder", is_flag=True, help="Add each file to an album named after its folder.")
@click.option("--jobs/--no-jobs", "run_jobs", default=True,
              help="Run metadata extraction and thumbnails now, with progress (default), or leave them queued for "
                   "the server. Always left to the server when one is running.")
def import_cmd(paths: tuple[Path, ...], email: str, data_dir: str | None, album_per_folder: bool,
               run_jobs: bool) -> None:
    """Import photos and videos from local files/folders into a user's library (as uploads: copied, deduped).

    Resumable: files already in the user's library (same SHA-1) are skipped. Safe while the server runs (its job
    runner then processes the new assets). Exit code 0 when every file was imported or skipped, 1 when some
    failed, 2 on a usage error (unknown user, missing path, no database).
    """
    import importlib  # noqa: PLC0415
    import time  # noqa: PLC0415

    from immich_lite import backup as bk  # noqa: PLC0415
    from immich_lite import importer  # noqa: PLC0415
    from immich_lite.app import JOB_MODULES, build_ctx  # noqa: PLC0415

    data = _data_dir(data_dir)
    if not (data / bk.DB_NAME).is_file():
        click.echo(f"Error: no database at {data / bk.DB_NAME} (start the server once, or run admin create-admin)",
                   err=True)
        sys.exit(2)
    for name in JOB_MODULES:
        importlib.import_module(name)
    try:  # no server: hold the lock so none starts mid-import, and run the jobs here
        lock = bk.lock_data_dir(data)
    except bk.Locked:
        lock = None
    ctx = build_ctx(Settings.load({"data_dir": str(data)}))
    progress = _Progress("import")
    started = time.monotonic()
    try:
        try:
            r = importer.run_import(ctx, email, list(paths), album_per_folder=album_per_folder, progress=progress)
        except importer.ImportError_ as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(2)
        finally:
            progress.close()
        took = max(time.monotonic() - started, 1e-6)
        click.echo(f"import: files={r.files} imported={r.imported} skipped={r.skipped} failed={len(r.failed)} "
                   f"albums_created={r.albums} bytes={r.bytes} in {took:.1f}s "
                   f"({r.files / took:.1f} files/s, {r.bytes / took / 1e6:.1f} MB/s)")
        for path, why in r.failed:
            click.echo(f"  failed: {path}: {why}", err=True)
        if lock is None:
            click.echo("import: a server is running on this data dir; it processes the queued jobs")
        elif run_jobs and r.imported:
            _import_run_jobs(ctx)
        elif r.imported:
            click.echo("import: metadata and thumbnail jobs are queued; they run when the server starts")
    finally:
        ctx.db.close()
        if lock is not None:
            lock.close()
    sys.exit(1 if r.failed else 0)


def _run_jobs(ctx: Any, label: str, pending: Callable[[], int]) -> None:
    """Run the job runner in this process until `pending()` reaches 0, with a progress bar over the jobs."""
    progress = _Progress(label, "job")
    high = pending()
    progress("total", high)
    ctx.jobs.start()
    try:
        while True:
            left = pending()
            high = max(high, left + progress.done)  # follow-ups (e.g. thumbnails after metadata) join the total
            if progress.bar is not None and progress.bar.total != high:
                progress.bar.total = high
                progress.bar.refresh()
            progress("file", max(0, high - left - progress.done))
            if not left:
                break
            ctx.jobs.wait_changed(0.2)
    finally:
        ctx.jobs.stop()
        progress.close()


def _import_run_jobs(ctx: Any) -> None:
    from immich_lite import importer  # noqa: PLC0415

    _run_jobs(ctx, "processing", lambda: importer.pending_jobs(ctx))
    failed = ctx.db.reader().execute("SELECT count(*) AS n FROM job WHERE status = 'failed'").fetchone()["n"]
    click.echo(f"import: metadata and thumbnail jobs done ({failed} failed job(s) in the queue)")


# --- web: the official Immich web app at / (logic in immich_lite.webinstall) --------------------------------

class _WebProgress:
    """tqdm bars (bytes downloaded, files copied) on a terminal only; elsewhere the summary line says it all."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.tty = sys.stderr.isatty()

    def __call__(self, event: str, amount: int) -> None:
        if not self.tty:
            return
        if event in ("download", "copy"):
            from tqdm import tqdm  # noqa: PLC0415

            self.close()
            unit = {"unit": "B", "unit_scale": True, "unit_divisor": 1024} if event == "download" else {"unit": "file"}
            self.bar = tqdm(total=amount, desc="downloading" if event == "download" else "copying",
                            file=sys.stderr, leave=False, **unit)
        elif self.bar is not None:
            self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@cli.group("web")
def web_group() -> None:
    """Manage the official Immich web app served at / (from <data-dir>/www)."""


@web_group.command("install")
@click.argument("source")
@data_dir_option
@click.option("--force", is_flag=True, help="Install even when the build's major.minor is not the Immich API's.")
def web_install(source: str, data_dir: str | None, force: bool) -> None:
    """Install the Immich web app into <data-dir>/www from SOURCE, swapping it in atomically (safe while serving).

    SOURCE is a directory holding a web build (index.html and _app/version.json), a tarball of one (.tar, .tar.gz,
    .tgz; .tar.zst with the zstandard module), or a container image whose /build/www is the build, pulled
    anonymously from its registry, e.g. ghcr.io/immich-app/immich-server:v3.1.0 (this downloads the whole image).
    """
    from immich_lite import webinstall  # noqa: PLC0415

    progress = _WebProgress()
    try:
        r = webinstall.install(source, _data_dir(data_dir), force=force, progress=progress)
    except webinstall.WebInstallError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from None
    finally:
        progress.close()
    click.echo(f"installed Immich web {r.version} ({r.files:,} files, {r.bytes / 1e6:.1f} MB) into {r.path}")
