"""backup / verify / restore: real data dirs, real files, a real server subprocess where the scenario needs one."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
from click.testing import CliRunner

from immich_lite import backup as bk
from immich_lite.cli import cli
from tests.helpers.live import REPO, LiveServer, live_server, wait_for  # noqa: F401
from tests.helpers.upload import upload


def jpeg(i: int) -> bytes:
    """A distinct small JPEG per i (distinct SHA-1s, so each upload is a new asset)."""
    return bytes((pyvips.Image.black(16 + i % 97, 16 + i // 97) + (i % 200)).jpegsave_buffer())


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324


def rows(data: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{data / 'immich-lite.db'}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_originals_match(data: Path) -> dict[str, str]:
    """Every asset row's original exists under `data` with its recorded SHA-1; returns {checksum: id}."""
    out = {}
    for r in rows(data, "SELECT id, original_path, checksum FROM asset"):
        path = data / r["original_path"]
        assert path.is_file(), r["original_path"]
        assert sha1(path.read_bytes()) == bytes(r["checksum"]).hex(), r["original_path"]
        out[bytes(r["checksum"]).hex()] = r["id"]
    return out


def snapshot_of(dest: Path) -> Path:
    snap, _ = bk.resolve_snapshot(dest)
    return snap


@pytest.fixture
def library(client: Any, admin: Any, settings: Any) -> Iterator[tuple[Path, Any]]:
    """An in-process data dir with three uploaded photos (one with a sidecar) and their thumbnails."""
    from immich_lite import jobs

    for i in range(3):
        r = upload(admin, data=jpeg(i), filename=f"p{i}.jpg",
                   sidecar=b'<?xml version="1.0"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>' if i == 0 else None)
        assert r.status_code == 201, r.text
    jobs.drain(client.app.state.ctx)
    yield settings.data_path, admin


# --- round trip --------------------------------------------------------------------------------------------

def test_backup_then_restore_into_fresh_dir_round_trips(library: Any, tmp_path: Path) -> None:
    data, _ = library
    dest, fresh = tmp_path / "bk", tmp_path / "restored"
    r = run("backup", dest, "--data-dir", data)
    assert r.exit_code == 0, r.output
    assert "files=4" in r.output  # 3 originals + 1 sidecar; thumbnails skipped
    r = run("restore", dest, "--data-dir", fresh)
    assert r.exit_code == 0, r.output
    assert assert_originals_match(fresh) == assert_originals_match(data)
    assert not list((fresh / "thumbs").rglob("*.*"))  # derived files are rebuilt, not restored
    assert "3 assets queued for thumbnail regeneration" in r.output
    v = run("verify", "--data-dir", fresh)
    assert v.exit_code == 0, v.output
    assert "verify: OK" in v.output


def test_restore_rebuild_regenerates_thumbnails(library: Any, tmp_path: Path) -> None:
    data, _ = library
    dest, fresh = tmp_path / "bk", tmp_path / "restored"
    assert run("backup", dest, "--data-dir", data).exit_code == 0
    r = run("restore", dest, "--data-dir", fresh, "--rebuild")
    assert r.exit_code == 0, r.output
    thumbs = [p for p in (fresh / "thumbs").rglob("*") if p.is_file()]
    assert len(thumbs) >= 6  # thumbnail + preview per photo


def test_incremental_backup_copies_nothing_for_unchanged_originals(library: Any, tmp_path: Path) -> None:
    data, admin = library
    dest = tmp_path / "bk"
    first = run("backup", dest, "--data-dir", data)
    assert "copied=4" in first.output, first.output
    second = run("backup", dest, "--data-dir", data)
    assert second.exit_code == 0
    assert "copied=0 unchanged=4" in second.output, second.output
    assert upload(admin, data=jpeg(50), filename="new.jpg").status_code == 201
    third = run("backup", dest, "--data-dir", data)
    assert "copied=1 unchanged=4" in third.output, third.output
    assert len(list((dest / "snapshots").iterdir())) == 3


def test_backup_with_derived_includes_thumbnails(library: Any, tmp_path: Path) -> None:
    data, _ = library
    r = run("backup", tmp_path / "bk", "--data-dir", data, "--with-derived")
    manifest = json.loads((snapshot_of(tmp_path / "bk") / "manifest.json").read_text())
    assert {f["kind"] for f in manifest["files"]} >= {"original", "sidecar", "thumbnail", "preview"}, r.output


def test_backup_refuses_while_another_backup_runs(library: Any, tmp_path: Path) -> None:
    data, _ = library
    dest = tmp_path / "bk"
    with bk.hold_lock(dest / ".backup.lock", "test"):
        r = run("backup", dest, "--data-dir", data)
    assert r.exit_code == 1
    assert "another backup" in r.output


def test_backup_usage_error_exits_2(tmp_path: Path) -> None:
    assert run("backup").exit_code == 2


# --- verify ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage, expect", [
    ("missing", "missing original"),
    ("truncated", "checksum mismatch"),
    ("orphan", "orphan file"),
])
def test_verify_detects_damage(library: Any, damage: str, expect: str) -> None:
    data, _ = library
    original = data / rows(data, "SELECT original_path FROM asset LIMIT 1")[0]["original_path"]
    if damage == "missing":
        original.unlink()
    elif damage == "truncated":
        original.write_bytes(original.read_bytes()[:100])
    else:
        (original.parent / "stray.jpg").write_bytes(b"not tracked")
    r = run("verify", "--data-dir", data)
    assert r.exit_code == 1, r.output
    assert expect in r.output
    assert "verify: PROBLEMS" in r.output


def test_verify_requeues_missing_thumbnails(library: Any, client: Any) -> None:
    data, _ = library
    thumb = data / rows(data, "SELECT path FROM asset_file WHERE type = 'thumbnail' LIMIT 1")[0]["path"]
    thumb.unlink()
    r = run("verify", "--data-dir", data)
    assert r.exit_code == 0, r.output
    assert "thumbnails_requeued=1" in r.output
    from immich_lite import jobs

    jobs.drain(client.app.state.ctx)
    assert thumb.is_file()


# --- restore refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["original", "db"])
def test_restore_refuses_corrupted_backup(library: Any, tmp_path: Path, target: str) -> None:
    data, _ = library
    dest, fresh = tmp_path / "bk", tmp_path / "restored"
    assert run("backup", dest, "--data-dir", data).exit_code == 0
    snap = snapshot_of(dest)
    manifest = json.loads((snap / "manifest.json").read_text())
    if target == "db":
        victim, name = snap / "immich-lite.db", "immich-lite.db"
    else:
        f = next(f for f in manifest["files"] if f["kind"] == "original")
        victim, name = dest / "store" / f["sha1"][:2] / f["sha1"], f["path"]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    r = run("restore", dest, "--data-dir", fresh)
    assert r.exit_code == 1, r.output
    assert "refusing to restore a corrupted backup" in r.output
    assert name in r.output
    assert not fresh.exists()


def test_restore_replaces_existing_dir_without_stale_wal(library: Any, tmp_path: Path) -> None:
    data, admin = library
    dest, target = tmp_path / "bk", tmp_path / "target"
    assert run("backup", dest, "--data-dir", data).exit_code == 0
    assert run("restore", dest, "--data-dir", target).exit_code == 0
    before = assert_originals_match(target)
    # the target gets a later upload and a stray -wal that must not be paired with the restored DB
    (target / "immich-lite.db-wal").write_bytes(b"stale wal bytes")
    (target / "upload" / "later.jpg").write_bytes(b"x")
    r = run("restore", dest, "--data-dir", target)
    assert r.exit_code == 0, r.output
    assert not (target / "immich-lite.db-wal").exists()
    assert not (target / "upload" / "later.jpg").exists()
    assert assert_originals_match(target) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".target.")
                and not p.name.endswith(".restore.lock")]


# --- with a real server ------------------------------------------------------------------------------------

def cli_proc(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "immich_lite", *map(str, args)], cwd=REPO,  # noqa: S603
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_backup_while_uploading_then_restore(live_server: LiveServer, tmp_path: Path) -> None:
    admin = live_server.sign_up_admin()
    acked: dict[str, str] = {}  # sha1 -> asset id, for every 2xx
    lock = threading.Lock()
    stop = threading.Event()
    before_backup: set[str] = set()

    def uploader(worker: int) -> None:
        i = 0
        with live_server.client() as c:
            while not stop.is_set() and i < 40:
                data = jpeg(1000 + worker * 100 + i)
                resp = admin.upload(data, f"w{worker}-{i}.jpg", client=c)
                assert resp.status_code == 201, resp.text
                with lock:
                    acked[sha1(data)] = resp.json()["id"]
                i += 1

    threads = [threading.Thread(target=uploader, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 12, 20, message="first uploads")
    with lock:
        before_backup = set(acked)
    dest = tmp_path / "bk"
    proc = cli_proc("backup", dest, "--data-dir", live_server.data)
    out = proc.communicate(timeout=30)[0].decode()
    with lock:
        after_backup = len(acked)
    stop.set()
    for t in threads:
        t.join(30)
    assert proc.returncode == 0, out
    assert after_backup > len(before_backup), "uploads kept being acknowledged while the backup ran"
    during = snapshot_of(dest)

    # the snapshot taken mid-upload: consistent, holds everything acknowledged before it started
    fresh = tmp_path / "fresh-1"
    r = run("restore", during, "--data-dir", fresh)
    assert r.exit_code == 0, r.output
    restored = assert_originals_match(fresh)
    assert before_backup <= set(restored)
    assert all(acked[s] == restored[s] for s in before_backup)
    assert run("verify", "--data-dir", fresh).exit_code == 0

    # a second (incremental) backup after the uploads: every acknowledged asset
    r = run("backup", dest, "--data-dir", live_server.data)
    assert r.exit_code == 0, r.output
    fresh2 = tmp_path / "fresh-2"
    assert run("restore", dest, "--data-dir", fresh2).exit_code == 0
    restored = assert_originals_match(fresh2)
    assert {s: restored.get(s) for s in acked} == acked
    v = run("verify", "--data-dir", fresh2)
    assert v.exit_code == 0, v.output

    # restore refuses the running server's data dir, and leaves it alone
    r = run("restore", dest, "--data-dir", live_server.data)
    assert r.exit_code == 1
    assert "in use by a running immich-lite server" in r.output
    assert live_server.client().get("/api/server/ping").json() == {"res": "pong"}


def test_serve_refuses_a_data_dir_another_server_uses(live_server: LiveServer) -> None:
    proc = cli_proc("serve", "--data-dir", live_server.data, "--port", "0", "--host", "127.0.0.1")
    out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 1
    assert "in use by another immich-lite server" in out


def test_backup_killed_mid_copy_leaves_previous_backup_restorable(library: Any, tmp_path: Path) -> None:
    data, admin = library
    dest = tmp_path / "bk"
    assert run("backup", dest, "--data-dir", data).exit_code == 0
    good = snapshot_of(dest)
    for i in range(5):
        assert upload(admin, data=jpeg(200 + i), filename=f"n{i}.jpg").status_code == 201
    proc = cli_proc("backup", dest, "--data-dir", data, env={bk.COPY_DELAY_ENV: "5"})
    try:
        wait_for(lambda: (dest / "store" / "incoming.tmp").exists() or
                 len(list((dest / "store").glob("*/*"))) > 4, 15, message="backup copying")
        wait_for(lambda: list((dest / "snapshots").glob("*.tmp")), 5, message="tmp snapshot")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert [p.name for p in (dest / "snapshots").iterdir() if not p.name.endswith(".tmp")] == [good.name]
    assert snapshot_of(dest) == good
    fresh = tmp_path / "fresh"
    r = run("restore", dest, "--data-dir", fresh)
    assert r.exit_code == 0, r.output
    assert len(assert_originals_match(fresh)) == 3
    # the next backup cleans the leftover and completes
    r = run("backup", dest, "--data-dir", data)
    assert r.exit_code == 0, r.output
    assert not list((dest / "snapshots").glob("*.tmp"))
    assert len(list((dest / "snapshots").iterdir())) == 2


def test_restore_killed_mid_swap_leaves_old_data_and_is_rerunnable(library: Any, tmp_path: Path) -> None:
    data, _ = library
    dest, target = tmp_path / "bk", tmp_path / "target"
    assert run("backup", dest, "--data-dir", data).exit_code == 0
    target.mkdir()
    (target / "marker").write_text("old")
    proc = cli_proc("restore", dest, "--data-dir", target, env={"IMMICH_LITE_FAULT": "restore.mid_swap"})
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (target / "marker").read_text() == "old"  # untouched: the new dir was never swapped in
    r = run("restore", dest, "--data-dir", target)
    assert r.exit_code == 0, r.output
    assert not (target / "marker").exists()
    assert len(assert_originals_match(target)) == 3
    assert not list(tmp_path.glob(".target.restore-*"))


# --- Database Backups (admin) API --------------------------------------------------------------------------

def test_database_backup_job_creates_lists_downloads_and_deletes(client: Any, admin: Any) -> None:
    from immich_lite import jobs

    ctx = client.app.state.ctx
    with ctx.db.write() as w:
        jobs.enqueue(w, jobs.JobName.DATABASE_BACKUP, {})
    jobs.drain(ctx)
    r = admin.get("/api/admin/database-backups")
    assert r.status_code == 200, r.text
    [b] = r.json()["backups"]
    assert b["filename"].startswith("immich-db-backup-") and b["filesize"] > 0 and b["timezone"]
    dl = admin.get(f"/api/admin/database-backups/{b['filename']}")
    assert dl.status_code == 200 and dl.content[:16] == b"SQLite format 3\x00"
    assert admin.delete("/api/admin/database-backups", json={"backups": [b["filename"]]}).status_code == 200
    assert admin.get("/api/admin/database-backups").json() == {"backups": []}


def test_database_backup_job_keeps_last_amount(ctx: Any) -> None:
    from datetime import datetime, timezone

    for day in range(1, 5):
        bk.create_db_backup(ctx, keep_last=2, now=datetime(2025, 1, day, tzinfo=timezone.utc))
    assert [b["filename"][17:25] for b in bk.list_db_backups(ctx)] == ["20250104", "20250103"]


@pytest.mark.parametrize("name", ["..%2Fimmich-lite.db", "immich-lite.db", "immich-db-backup-x.sql"])
def test_database_backup_names_are_validated(client: Any, admin: Any, name: str) -> None:
    r = admin.get(f"/api/admin/database-backups/{name}")
    assert r.status_code in (400, 404), r.text
    assert not r.content.startswith(b"SQLite")
    r = admin.delete("/api/admin/database-backups", json={"backups": [name.replace("%2F", "/")]})
    assert r.status_code == 400
    assert (client.app.state.ctx.storage.db_path).is_file()


def test_upload_database_backup_accepts_a_database_and_refuses_garbage(client: Any, admin: Any,
                                                                        tmp_path: Path) -> None:
    ctx = client.app.state.ctx
    snap = bk.create_db_backup(ctx)
    good = admin.post("/api/admin/database-backups/upload",
                      files={"file": ("mine.db", snap.read_bytes(), "application/octet-stream")})
    assert good.status_code == 201, good.text
    bad = admin.post("/api/admin/database-backups/upload",
                     files={"file": ("evil.db", b"not a database" * 100, "application/octet-stream")})
    assert bad.status_code == 400, bad.text
    names = [b["filename"] for b in admin.get("/api/admin/database-backups").json()["backups"]]
    assert "uploaded-mine.db" in names and not any("evil" in n for n in names)


def test_start_restore_flow_points_to_the_offline_command(admin: Any) -> None:
    r = admin.post("/api/admin/database-backups/start-restore")
    assert r.status_code == 400
    assert "immich-lite restore" in r.json()["message"]
