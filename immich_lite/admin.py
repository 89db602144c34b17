"""Admin commands (upstream's immich-admin) on a data dir's database, safe next to a running server.

The CLI (`immich-lite admin ...`) is a thin wrapper: every function here takes an open `Database` and returns data
or raises `AdminError`, whose message the CLI prints before exiting 1. The server reads users, sessions and the
maintenance flag from SQL, so what these commands write takes effect without a restart.
"""
from __future__ import annotations

import fcntl
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.backup import DB_NAME, restore_lock_path
from immich_lite.db import Database
from immich_lite.repos import session as session_repo
from immich_lite.repos import system_metadata
from immich_lite.repos import user as user_repo

MAINTENANCE_KEY = "maintenance-mode"  # upstream SystemMetadataKey.MaintenanceMode
BUSY_TIMEOUT_MS = 5_000  # how long a command waits for a writer (server, backup, restore) before giving up


class AdminError(Exception):
    """A refusal with a message for the operator (the CLI exits 1)."""


@contextmanager
def open_db(data_dir: str | Path, *, create: bool = False) -> Iterator[Database]:
    """The data dir's database; refuses politely when it is missing (unless `create`) or locked."""
    root = Path(data_dir).expanduser().resolve()
    path = root / DB_NAME
    _refuse_during_restore(root)
    if not path.exists() and not create:
        raise AdminError(f"no immich-lite database at {path} (wrong --data-dir?)")
    if create:
        from immich_lite.storage import Storage  # noqa: PLC0415

        root.mkdir(parents=True, exist_ok=True)
        Storage(root)  # the data-dir layout, as on a first `serve`
    try:
        db = Database(path)
    except (apsw.BusyError, apsw.LockedError) as e:
        raise AdminError(_locked(path)) from e
    try:
        for conn in (db._writer, db.reader()):
            conn.setbusytimeout(BUSY_TIMEOUT_MS)
        yield db
    except (apsw.BusyError, apsw.LockedError) as e:
        raise AdminError(_locked(path)) from e
    finally:
        db.close()


def _refuse_during_restore(root: Path) -> None:
    """`immich-lite restore` holds an flock on <parent>/.<name>.restore.lock while it swaps the data dir."""
    lock = restore_lock_path(root)
    if not lock.exists():
        return
    with open(lock, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            raise AdminError(f"a restore into {root} is running; try again when it has finished") from None
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _locked(path: Path) -> str:
    return (f"the database {path} is locked by another process (a backup, restore or long write?); "
            f"nothing was changed, try again in a moment")


def _user_summary(u: dict[str, Any]) -> dict[str, Any]:
    return {"id": u["id"], "email": u["email"], "name": u["name"], "isAdmin": bool(u["is_admin"]),
            "status": u["status"], "shouldChangePassword": bool(u["should_change_password"]),
            "createdAt": u["created_at"], "deletedAt": u["deleted_at"]}


# --- users -------------------------------------------------------------------------------------------------

def create_admin(db: Database, email: str, name: str, password: str, *, force: bool = False) -> dict[str, Any]:
    """The first admin, as the web's admin sign-up does; with `force`, another admin next to an existing one."""
    email = email.strip().lower()
    if "@" not in email:
        raise AdminError(f"not an email address: {email!r}")
    if not password:
        raise AdminError("the password must not be empty")
    with db.write() as conn:
        admin = user_repo.get_admin(conn)
        if admin and not force:
            raise AdminError(f"an admin already exists ({admin['email']}); use reset-password, "
                             f"or --force to add another admin")
        if user_repo.get_by_email(conn, email, with_deleted=True):
            raise AdminError(f"a user with the email {email} already exists")
        label_taken = conn.execute("""SELECT 1 FROM "user" WHERE storage_label = 'admin'""").fetchone()
        user = user_repo.insert(conn, email=email, name=name, password=authn.hash_password(password), is_admin=1,
                                storage_label=None if label_taken else "admin", should_change_password=0)
    return _user_summary(user)


def reset_password(db: Database, email: str, password: str | None = None, *,
                   invalidate_sessions: bool = False) -> tuple[dict[str, Any], str, int]:
    """Set a user's password (a random one when none is given, as upstream's reset-admin-password).

    Returns (user, the password, sessions removed). A generated password must be changed at the next login.
    """
    generated = not password
    password = password or secrets.token_urlsafe(18)
    with db.write() as conn:
        user = user_repo.get_by_email(conn, email.strip())
        if user is None:
            raise AdminError(f"no user with the email {email}")
        user = user_repo.update(conn, user["id"], password=authn.hash_password(password),
                                should_change_password=int(generated))
        removed = len(session_repo.delete_all_for_user(conn, user["id"])) if invalidate_sessions else 0
    return _user_summary(user), password, removed


def list_users(db: Database, *, with_deleted: bool = True) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [_user_summary(u) for u in user_repo.list_all(conn, with_deleted=with_deleted)]


# --- maintenance mode (system_metadata "maintenance-mode", as upstream) -------------------------------------

def maintenance_state(conn: Any) -> dict[str, Any]:
    value = system_metadata.get(conn, MAINTENANCE_KEY)
    return value if isinstance(value, dict) else {"isMaintenanceMode": False}


def maintenance_status(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return maintenance_state(conn)


def set_maintenance(db: Database, enabled: bool) -> dict[str, Any]:
    """Turn maintenance mode on (a fresh secret for maintenance login) or off. Idempotent."""
    with db.write() as conn:
        current = maintenance_state(conn)
        if enabled:
            if current.get("isMaintenanceMode"):
                return current
            value = {"isMaintenanceMode": True, "secret": secrets.token_hex(32), "since": ids.now_iso()}
            system_metadata.set(conn, MAINTENANCE_KEY, value)
            return value
        system_metadata.set(conn, MAINTENANCE_KEY, {"isMaintenanceMode": False})
        return {"isMaintenanceMode": False}


# --- jobs --------------------------------------------------------------------------------------------------

STATUSES = ("active", "waiting", "delayed", "paused", "failed")


def job_counts(db: Database) -> list[dict[str, Any]]:
    """One row per queue that has jobs or is paused: {queue, isPaused, active, waiting, delayed, paused, failed}."""
    now = time.time()
    with db.read() as conn:
        paused = {r["queue"] for r in conn.execute("SELECT queue FROM queue_state WHERE is_paused = 1")}
        rows = conn.execute("SELECT queue, status, run_after > ? AS later, COUNT(*) AS n FROM job "
                            "GROUP BY queue, status, later", (now,)).fetchall()
    out: dict[str, dict[str, Any]] = {q: {"queue": q, "isPaused": True, **dict.fromkeys(STATUSES, 0)}
                                      for q in paused}
    for r in rows:
        q = r["queue"]
        stats = out.setdefault(q, {"queue": q, "isPaused": q in paused, **dict.fromkeys(STATUSES, 0)})
        status = r["status"]
        if status == "waiting":
            status = "delayed" if r["later"] else ("paused" if q in paused else "waiting")
        if status in stats:
            stats[status] += r["n"]
    return sorted(out.values(), key=lambda s: s["queue"])
