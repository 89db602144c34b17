"""The search index as derived data, tried on a real `immich-lite serve`: rebuilt when deleted or of another
version, consistent after SIGKILL at every point of indexing, compared with the DB by `immich-lite verify`,
left out of backups and rebuilt after a restore."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tantivy

from immich_lite.search.index import MARKER, SCHEMA, _register
from tests.helpers.live import REPO, LiveServer, User, live_server, wait_for  # noqa: F401
from tests.helpers.xmp import sidecar
from tests.test_timeline import tiny_jpeg


def upload_described(user: User, words: str) -> str:
    """A photo whose sidecar describes it with `words` (searched for afterwards)."""
    from tests.helpers.live import multipart

    boundary = "----immichlitesearch"
    ctype, body = multipart(tiny_jpeg(), f"{words.split()[0]}.jpg", boundary=boundary)
    side = sidecar(description=words)
    extra = (f'--{boundary}\r\nContent-Disposition: form-data; name="sidecarData"; filename="s.xmp"\r\n'
             "Content-Type: application/xml\r\n\r\n").encode() + side + b"\r\n"
    body = body.replace(f"--{boundary}--\r\n".encode(), extra + f"--{boundary}--\r\n".encode())
    with user.server.client() as c:
        r = c.post("/api/assets", content=body, headers={**user.headers, "Content-Type": ctype})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def idle(server: LiveServer, user: User, timeout: float = 60) -> None:
    def done() -> bool:
        queues = user.get("/api/queues").json()
        return all(q["statistics"]["active"] + q["statistics"]["waiting"] + q["statistics"]["delayed"] == 0
                   for q in queues)
    wait_for(done, timeout, 0.1, "the job queues to empty")


def found(user: User, body: dict[str, Any]) -> set[str]:
    r = user.post("/api/search/metadata", json=body)
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()["assets"]["items"]}


def verify(data: Path) -> tuple[int, str]:
    p = subprocess.run([sys.executable, "-m", "immich_lite", "verify", "--no-checksums", "--data-dir", str(data)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def index_dir(server: LiveServer) -> Path:
    return server.data / "search" / "assets"


def test_deleted_or_outdated_index_is_rebuilt_on_start(live_server: LiveServer) -> None:
    admin = live_server.sign_up_admin()
    for words in ("harbour lights", "harbour boats", "mountain hut"):
        upload_described(admin, words)
    idle(live_server, admin)
    assert len(found(admin, {"query": "harbour"})) == 2
    live_server.terminate()
    shutil.rmtree(index_dir(live_server))
    live_server.start()
    idle(live_server, admin)
    assert (index_dir(live_server) / MARKER).is_file()
    assert len(found(admin, {"query": "harbour"})) == 2 and len(found(admin, {"description": "hut"})) == 1
    live_server.terminate()
    marker = index_dir(live_server) / MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "version": 0}))  # an older schema
    live_server.start()
    idle(live_server, admin)
    assert json.loads(marker.read_text())["version"] != 0
    assert len(found(admin, {"query": "mountain"})) == 1
    code, out = verify(live_server.data)
    assert code == 0 and "search_index=ok" in out, out


@pytest.mark.parametrize("point", ["search.index_committed", "search.rebuilt_before_swap"])
def test_sigkill_mid_indexing_loses_nothing(live_server: LiveServer, point: str) -> None:
    admin = live_server.sign_up_admin()
    first = upload_described(admin, "lantern festival")
    idle(live_server, admin)
    live_server.terminate()
    if point == "search.rebuilt_before_swap":
        shutil.rmtree(index_dir(live_server))  # the next start rebuilds, and dies before the swap
    live_server.env = {"IMMICH_LITE_FAULT": point}
    try:
        try:
            live_server.start()
        except AssertionError:  # the rebuild at start can kill it before it answers a ping
            assert point == "search.rebuilt_before_swap"
        if point == "search.index_committed":
            upload_described(admin, "lantern parade")  # its indexing commits, then the process dies
        assert live_server.proc is not None
        live_server.proc.wait(60)
        assert live_server.proc.returncode == -9, live_server.log_tail()
    finally:
        live_server.env = {}
    live_server.start()
    idle(live_server, admin)
    hits = found(admin, {"query": "lantern"})
    assert first in hits and len(hits) == (2 if point == "search.index_committed" else 1)
    assert not (live_server.data / "search" / "assets.new").exists()
    code, out = verify(live_server.data)
    assert code == 0 and "search_index=ok" in out, out


def test_sigkill_while_indexing_a_burst(live_server: LiveServer) -> None:
    admin = live_server.sign_up_admin()
    for i in range(40):
        upload_described(admin, f"burst{i} photo")
    live_server.kill()  # whatever was being extracted or indexed at that moment
    live_server.start()
    idle(live_server, admin, timeout=120)
    assert len(found(admin, {"query": "photo", "size": 1000})) == 40
    code, out = verify(live_server.data)
    assert code == 0 and "search_index=ok" in out, out


def test_verify_reports_an_index_that_disagrees_and_it_is_rebuilt(live_server: LiveServer) -> None:
    admin = live_server.sign_up_admin()
    gone = upload_described(admin, "quiet lake")
    upload_described(admin, "quiet forest")
    idle(live_server, admin)
    live_server.terminate()
    index = _register(tantivy.Index(SCHEMA, str(index_dir(live_server)), reuse=True))
    w = index.writer(16_000_000, 1)
    w.delete_documents_by_term("id", gone)  # an update the index lost
    w.commit()
    w.wait_merging_threads()
    del w, index
    code, out = verify(live_server.data)
    assert code == 1 and f"search index: {gone}: not in the search index" in out, out
    assert "search_index=DISAGREES" in out
    live_server.start()  # verify queued a rebuild
    idle(live_server, admin)
    assert gone in found(admin, {"query": "lake"})
    code, out = verify(live_server.data)
    assert code == 0, out


def test_backup_leaves_the_index_out_and_a_restore_rebuilds_it(live_server: LiveServer, tmp_path: Path) -> None:
    admin = live_server.sign_up_admin()
    asset = upload_described(admin, "velvet morning")
    idle(live_server, admin)
    dest = tmp_path / "backup"
    p = subprocess.run([sys.executable, "-m", "immich_lite", "backup", str(dest), "--data-dir", str(live_server.data)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not [f for f in dest.rglob("*") if "search" in f.parts], "the index is derived: not backed up"
    live_server.terminate()
    target = tmp_path / "restored"
    p = subprocess.run([sys.executable, "-m", "immich_lite", "restore", str(dest), "--data-dir", str(target)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not (target / "search" / "assets").exists()
    restored = LiveServer(target, tmp_path)
    try:
        restored.start()
        user = restored.login(admin.email, "admin-password")
        idle(restored, user)
        assert found(user, {"query": "velvet"}) == {asset}
    finally:
        restored.close()


def test_an_emptied_search_queue_is_queued_again_on_start(live_server: LiveServer) -> None:
    admin = live_server.sign_up_admin()
    asset = upload_described(admin, "amber meadow")
    idle(live_server, admin)
    assert admin.request("PUT", "/api/queues/search", json={"isPaused": True}).status_code == 200
    assert admin.request("PUT", f"/api/assets/{asset}", json={"description": "copper canyon"}).status_code == 200
    assert admin.request("DELETE", "/api/queues/search/jobs", json={}).status_code in (200, 204)
    assert admin.request("PUT", "/api/queues/search", json={"isPaused": False}).status_code == 200
    assert found(admin, {"query": "copper"}) == {asset}  # answered from SQL for the changed asset
    assert found(admin, {"query": "meadow"}) == set()  # the old description (the file is still amber.jpg)
    live_server.terminate()
    live_server.start()
    idle(live_server, admin)
    code, out = verify(live_server.data)
    assert code == 0 and "search_index=ok search_pending=0" in out, out
    assert found(admin, {"query": "copper"}) == {asset}
