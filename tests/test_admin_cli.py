"""`immich-lite admin ...` (upstream's immich-admin) on a tmp data dir, next to a running app where it matters."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import apsw
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from immich_lite import admin
from immich_lite.cli import cli
from tests.conftest import ADMIN, assert_error, login


def run(data: Path, *args: str, input: str | None = None) -> Any:  # noqa: A002
    return CliRunner().invoke(cli, ["admin", *args, "--data-dir", str(data)], input=input)


def create_admin(data: Path, *extra: str) -> Any:
    return run(data, "create-admin", "--email", ADMIN["email"], "--name", ADMIN["name"],
               "--password", ADMIN["password"], *extra)


def test_every_admin_command_has_help() -> None:
    group = cli.commands["admin"]
    assert group.help
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, name
        r = CliRunner().invoke(cli, ["admin", name, "--help"])
        assert r.exit_code == 0 and "--data-dir" in r.output, name


def test_create_admin_then_log_in(tmp_path: Path, settings: Any, app: Any) -> None:
    data = Path(settings.data_dir)
    r = create_admin(data)
    assert r.exit_code == 0, r.output
    assert "created admin admin@immich.cloud" in r.output
    with TestClient(app) as client:
        body = login(client, ADMIN["email"], ADMIN["password"])
        assert body["isAdmin"] is True
        assert client.get("/api/server/config").json()["isInitialized"] is True
        # the web's first sign-up is closed now
        assert client.post("/api/auth/admin-sign-up", json={**ADMIN, "email": "x@y.z"}).status_code == 400


def test_create_admin_refuses_a_second_admin_unless_forced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert create_admin(data).exit_code == 0
    r = create_admin(data)
    assert r.exit_code == 1 and "an admin already exists" in r.output
    r = run(data, "create-admin", "--email", "Second@Example.com", "--name", "Two", "--password", "pw2", "--force")
    assert r.exit_code == 0, r.output
    r = run(data, "create-admin", "--email", "second@example.com", "--name", "Two", "--password", "x", "--force")
    assert r.exit_code == 1 and "already exists" in r.output
    users = json.loads(run(data, "list-users", "--json").output)
    assert [(u["email"], u["isAdmin"]) for u in users] == [(ADMIN["email"], True), ("second@example.com", True)]


def test_create_admin_prompts_for_the_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run(data, "create-admin", "--email", "a@b.c", "--name", "A", input="s3cret\ns3cret\n")
    assert r.exit_code == 0, r.output
    with admin.open_db(data) as db, db.read() as conn:
        row = conn.execute('SELECT password FROM "user"').fetchone()
    from immich_lite.auth import check_password
    assert check_password("s3cret", row["password"])


def test_reset_password_while_serving_and_invalidate_sessions(settings: Any, app: Any) -> None:
    data = Path(settings.data_dir)
    with TestClient(app) as client:
        client.post("/api/auth/admin-sign-up", json=ADMIN)
        token = login(client, ADMIN["email"], ADMIN["password"])["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/users/me", headers=auth).status_code == 200

        r = run(data, "reset-password", ADMIN["email"], "--password", "new-password")
        assert r.exit_code == 0 and "has been updated" in r.output and "new-password" not in r.output
        assert client.get("/api/users/me", headers=auth).status_code == 200  # sessions kept by default
        assert client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]}
                           ).status_code == 401
        login(client, ADMIN["email"], "new-password")

        # blank at the prompt: a random password, printed once, to be changed at the next login
        r = run(data, "reset-password", ADMIN["email"].upper(), "--invalidate-sessions", input="\n")
        assert r.exit_code == 0, r.output
        new = r.output.split("updated to: ")[1].split()[0]
        assert "2 session(s) logged out" in r.output
        assert client.get("/api/users/me", headers=auth).status_code == 401
        body = login(client, ADMIN["email"], new)
        assert body["shouldChangePassword"] is True

    r = run(data, "reset-password", "nobody@example.com", "--password", "x")
    assert r.exit_code == 1 and "no user with the email" in r.output


def test_list_users_table(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_admin(data)
    r = run(data, "list-users")
    assert r.exit_code == 0
    assert ADMIN["email"] in r.output and "yes" in r.output and r.output.strip().endswith("1 user(s)")


def test_maintenance_enable_status_disable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_admin(data)
    assert "maintenance mode is off" in run(data, "maintenance", "status").output
    r = run(data, "maintenance", "enable")
    assert r.exit_code == 0 and "maintenance mode is on" in r.output
    with admin.open_db(data) as db:
        state = admin.maintenance_status(db)
    assert state["isMaintenanceMode"] is True and len(state["secret"]) == 64
    assert run(data, "maintenance", "enable").exit_code == 0  # idempotent: same secret
    with admin.open_db(data) as db:
        assert admin.maintenance_status(db)["secret"] == state["secret"]
    assert "maintenance mode is on" in run(data, "maintenance", "status").output
    assert "maintenance mode is off" in run(data, "maintenance", "disable").output
    assert "maintenance mode is off" in run(data, "maintenance", "status").output
    assert run(data, "maintenance", "reboot").exit_code == 2


def test_jobs_counts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_admin(data)
    assert "no jobs" in run(data, "jobs").output
    now = time.time()
    with admin.open_db(data) as db, db.write() as conn:
        for queue, status, run_after in (("thumbnailGeneration", "waiting", 0), ("thumbnailGeneration", "waiting", 0),
                                         ("thumbnailGeneration", "active", 0), ("metadataExtraction", "failed", 0),
                                         ("metadataExtraction", "waiting", now + 3600), ("library", "waiting", 0)):
            conn.execute("INSERT INTO job (queue, name, status, run_after, created_at, updated_at) "
                         "VALUES (?, 'X', ?, ?, ?, ?)", (queue, status, run_after, now, now))
        conn.execute("INSERT INTO queue_state (queue, is_paused) VALUES ('library', 1)")
    with admin.open_db(data) as db:
        rows = {r["queue"]: r for r in admin.job_counts(db)}
    assert rows["thumbnailGeneration"] | {} == {"queue": "thumbnailGeneration", "isPaused": False, "active": 1,
                                                "waiting": 2, "delayed": 0, "paused": 0, "failed": 0}
    assert (rows["metadataExtraction"]["failed"], rows["metadataExtraction"]["delayed"]) == (1, 1)
    assert rows["library"]["isPaused"] and rows["library"]["paused"] == 1
    r = run(data, "jobs")
    assert r.exit_code == 0
    line = next(x for x in r.output.splitlines() if x.startswith("thumbnailGeneration"))
    assert line.split()[1:] == ["1", "2", "0", "0", "0"]
    assert "library (paused)" in r.output


def test_missing_database_is_refused(tmp_path: Path) -> None:
    for args in (["list-users"], ["jobs"], ["maintenance", "status"], ["reset-password", "a@b.c", "--password", "x"]):
        r = run(tmp_path / "nowhere", *args)
        assert r.exit_code == 1 and "no immich-lite database" in r.output, args
    assert not (tmp_path / "nowhere").exists()


def test_locked_database_is_refused_politely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    create_admin(data)
    monkeypatch.setattr(admin, "BUSY_TIMEOUT_MS", 100)
    other = apsw.Connection(str(data / admin.DB_NAME))
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        for args in (["reset-password", ADMIN["email"], "--password", "x"], ["maintenance", "enable"]):
            t0 = time.monotonic()
            r = run(data, *args)
            assert r.exit_code == 1 and "is locked by another process" in r.output, r.output
            assert "Traceback" not in r.output and time.monotonic() - t0 < 5
        assert run(data, "list-users").exit_code == 0  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert run(data, "maintenance", "enable").exit_code == 0


def test_refused_while_a_restore_runs(tmp_path: Path) -> None:
    import fcntl

    data = tmp_path / "data"
    create_admin(data)
    with open(tmp_path / ".data.restore.lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run(data, "list-users")
        assert r.exit_code == 1 and "a restore into" in r.output
    assert run(data, "list-users").exit_code == 0


# --- the Maintenance (admin) API, sharing the flag with `admin maintenance` ----------------------------------

def test_maintenance_api_and_gate(settings: Any, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from immich_lite.api import maintenance
    from tests.conftest import assert_schema

    monkeypatch.setattr(maintenance, "CACHE_SECONDS", 0.0)
    data = Path(settings.data_dir)
    gated = maintenance.MaintenanceGate(app, app.state.ctx)  # what create_app should mount
    with TestClient(gated) as client:
        client.post("/api/auth/admin-sign-up", json=ADMIN)
        auth = {"Authorization": f"Bearer {login(client, ADMIN['email'], ADMIN['password'])['accessToken']}"}
        r = client.get("/api/admin/maintenance/status")  # public
        assert r.status_code == 200 and assert_schema(r, "getMaintenanceStatus") == {"active": False,
                                                                                      "action": "end"}
        assert client.post("/api/admin/maintenance", json={"action": "start"}).status_code == 401

        r = client.post("/api/admin/maintenance", json={"action": "start"}, headers=auth)
        assert r.status_code == 201, r.text
        token = r.cookies[maintenance.COOKIE]
        client.cookies.clear()
        assert client.get("/api/admin/maintenance/status").json() == {"active": True, "action": "start"}
        assert "maintenance mode is on" in run(data, "maintenance", "status").output
        r = client.get("/api/users/me", headers=auth)
        assert r.status_code == 503 and set(r.json()) == {"message"} and r.headers["x-correlation-id"]
        assert_error(r, 503, "Immich is in maintenance mode, please try again later")  # Immich's shape, with its id
        assert r.headers["retry-after"] == "30"
        assert client.get("/api/server/ping").status_code == 200
        assert client.get("/api/server/config").json()["maintenanceMode"] is True  # the web shows its page
        r = client.post("/api/admin/maintenance/login", json={"token": token})
        assert r.status_code == 201 and assert_schema(r, "maintenanceLogin") == {"username": ADMIN["name"]}
        assert client.post("/api/admin/maintenance/login", json={"token": token + "x"}).status_code == 401
        r = client.get("/api/admin/maintenance/detect-install", headers=auth)
        assert r.status_code == 200
        folders = {f["folder"]: f for f in assert_schema(r, "detectPriorInstall")["storage"]}
        assert set(folders) == set(maintenance.STORAGE_FOLDERS) and folders["upload"]["writable"]
        r = client.post("/api/admin/maintenance", json={"action": "restore_database"}, headers=auth)
        assert r.status_code == 400

        # the CLI turns it off from another "process"; the server sees it without a restart
        assert run(data, "maintenance", "disable").exit_code == 0
        assert client.get("/api/users/me", headers=auth).status_code == 200
        assert client.post("/api/admin/maintenance/login", json={"token": token}).status_code == 401
        assert run(data, "maintenance", "enable").exit_code == 0
        assert client.get("/api/users/me", headers=auth).status_code == 503
        assert client.post("/api/admin/maintenance", json={"action": "end"}, headers=auth).status_code == 201
        assert client.get("/api/users/me", headers=auth).status_code == 200
        assert client.get("/api/server/config").json()["maintenanceMode"] is False
        assert client.get("/api/admin/integrity/summary", headers=auth).status_code == 200
