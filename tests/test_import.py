"""`immich-lite import`: local files into a user's library through the upload pipeline (issue 6 item 5)."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from immich_lite import jobs
from immich_lite.cli import cli
from tests.conftest import CORPUS, Actor


def run_import(data: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["import", *args, "--data-dir", str(data)])


def corpus_copy(tmp_path: Path) -> Path:
    src = tmp_path / "photos"
    (src / "trip").mkdir(parents=True)
    for p in sorted((CORPUS / "jpeg").glob("*"))[:6]:
        shutil.copy2(p, src / "trip" / p.name)
    shutil.copytree(CORPUS / "png", src / "png")
    (src / "notes.txt").write_text("not media")
    (src / ".hidden.jpg").write_bytes(b"x")
    return src


def all_assets(actor: Actor, ctx: Any) -> list[dict[str, Any]]:
    """Every asset of the actor, each read through GET /api/assets/{id}."""
    rows = ctx.db.reader().execute("SELECT id FROM asset WHERE owner_id = ? ORDER BY id", (actor.id,))
    out = []
    for row in list(rows):
        r = actor.get(f"/api/assets/{row['id']}")
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def test_import_then_reimport_is_a_noop(tmp_path: Path, settings: Any, ctx: Any, user: Actor) -> None:
    src = corpus_copy(tmp_path)
    media = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and
                   not p.name.startswith("."))
    r = run_import(settings.data_path, str(src), "--user", user.email, "--no-jobs", "--album-per-folder")
    assert r.exit_code == 0, r.output
    assert f"imported={len(media)} skipped=0 failed=0" in r.output

    jobs.drain(ctx, timeout=120)  # what the server's runner does with the queued metadata/thumbnail jobs
    assets = all_assets(user, ctx)
    assert len(assets) == len(media)
    by_name = {a["originalFileName"]: a for a in assets}
    for p in media:
        a = by_name[p.name]
        assert a["checksum"]  # base64 sha1 of the bytes, as an upload
        body = user.get(f"/api/assets/{a['id']}/original")
        assert body.status_code == 200
        assert hashlib.sha1(body.content).digest() == hashlib.sha1(p.read_bytes()).digest()  # noqa: S324
    thumb = user.get(f"/api/assets/{assets[0]['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.content

    albums = {a["albumName"]: a["assetCount"] for a in user.get("/api/albums").json()}
    assert albums == {"trip": 6, "png": len(media) - 6}

    again = run_import(settings.data_path, str(src), "--user", user.email, "--no-jobs", "--album-per-folder")
    assert again.exit_code == 0, again.output
    assert f"imported=0 skipped={len(media)} failed=0" in again.output
    assert len(all_assets(user, ctx)) == len(media)
    assert {a["albumName"]: a["assetCount"] for a in user.get("/api/albums").json()} == albums


def test_import_dedupes_against_uploads_and_resumes(tmp_path: Path, settings: Any, ctx: Any, user: Actor) -> None:
    from tests.helpers.upload import upload

    src = corpus_copy(tmp_path)
    first = sorted((src / "trip").glob("*"))[0]
    assert upload(user, first).status_code == 201
    # a "crashed" earlier run: only part of the tree was imported
    r = run_import(settings.data_path, str(src / "png"), "--user", user.email, "--no-jobs")
    assert r.exit_code == 0, r.output
    r = run_import(settings.data_path, str(src), "--user", user.email, "--no-jobs")
    assert r.exit_code == 0, r.output
    assert "imported=5 skipped=6 failed=0" in r.output  # 1 uploaded + 5 png already there
    assert len(all_assets(user, ctx)) == 11
    assert not list((settings.data_path / "tmp").glob("*.upload"))


def test_import_exit_codes(tmp_path: Path, settings: Any, ctx: Any, user: Actor) -> None:
    assert run_import(settings.data_path, str(tmp_path / "missing"), "--user", user.email).exit_code == 2
    assert run_import(settings.data_path, str(CORPUS / "png"), "--user", "nobody@x.y").exit_code == 2
    assert run_import(tmp_path / "no-data", str(CORPUS / "png"), "--user", user.email).exit_code == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    r = run_import(settings.data_path, str(bad), "--user", user.email, "--no-jobs")
    assert r.exit_code == 1 and "failed=1" in r.output
    assert all_assets(user, ctx) == []


def test_import_runs_the_jobs_when_no_server_holds_the_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = CliRunner().invoke(cli, ["admin", "create-admin", "--email", "a@b.c", "--name", "A", "--password", "pw",
                                 "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    r = run_import(data, str(CORPUS / "png"), "--user", "a@b.c")
    assert r.exit_code == 0, r.output
    assert "metadata and thumbnail jobs done (0 failed" in r.output
    import apsw

    conn = apsw.Connection(str(data / "immich-lite.db"))
    assert conn.execute("SELECT count(*) FROM asset_file WHERE type = 'thumbnail'").fetchone()[0] == 5
    assert conn.execute("SELECT count(*) FROM asset WHERE width IS NOT NULL").fetchone()[0] == 5


def test_import_leaves_jobs_to_a_running_server(tmp_path: Path) -> None:
    from immich_lite.backup import lock_data_dir

    data = tmp_path / "data"
    CliRunner().invoke(cli, ["admin", "create-admin", "--email", "a@b.c", "--name", "A", "--password", "pw",
                             "--data-dir", str(data)])
    lock = lock_data_dir(data)  # what `serve` holds
    try:
        r = run_import(data, str(CORPUS / "png"), "--user", "a@b.c")
    finally:
        lock.close()
    assert r.exit_code == 0, r.output
    assert "a server is running" in r.output
