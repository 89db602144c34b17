"""Fault tests on a real server process: "nothing acknowledged is lost" (RELIABILITY-AND-SECURITY.md §3).

Each test gets a fresh data dir and a `python -m immich_lite serve` subprocess (tests/helpers/live.py), kills it
with SIGKILL (or SIGTERM) at a moment the test can observe from outside — a temp file appearing in tmp/, a 201
received, a thumbnail temp file appearing under thumbs/, a job row turning 'active' — restarts it on the same
data dir and checks the invariants: I1 (every 2xx upload has its row and an original with that SHA-1), I2 (no
row without its file; integrity_check ok), I3 (nothing unacknowledged left behind; a retry yields one asset),
I4 (derived files whole or absent, regenerated after restart).
"""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from tests.helpers.live import LiveServer, User, live_server, multipart, sha1, wait_for  # noqa: F401

JOB_TIMEOUT = 60.0
GRACEFUL_TIMEOUT = 10.0  # serving.serve: hypercorn config.graceful_timeout
MEDIA_QUEUES = ("metadataExtraction", "thumbnailGeneration")


# ---------------------------------------------------------------------------------------------------------
# Test media: real JPEGs made once; variants differ only by bytes after the EOI marker (distinct SHA-1,
# same pixels, no re-encode), so generating many uploads is free.

def _jpeg(width: int, height: int) -> bytes:
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    img = ((x ^ y) % 256).bandjoin([(x * 3 + y) % 256, (x * y / 97) % 256]).cast("uchar")
    return bytes(img.copy(interpretation="srgb").jpegsave_buffer(Q=90))


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """4000x3000, ~10 MB of high-entropy JPEG: ~1 s of thumbnail work each."""
    return _jpeg(4000, 3000)


@pytest.fixture(scope="module")
def small_jpeg() -> bytes:
    return _jpeg(1600, 1200)


def variant(base: bytes, tag: Any) -> bytes:
    return base + f"immich-lite-fault-{tag}-{uuid.uuid4().hex}".encode()


# ---------------------------------------------------------------------------------------------------------
# Checks shared by the tests

def asset_ids(server: LiveServer, owner: str | None = None) -> list[str]:
    if owner is None:
        return [r["id"] for r in server.query("SELECT id FROM asset ORDER BY id")]
    return [r["id"] for r in server.query("SELECT id FROM asset WHERE owner_id = ? ORDER BY id", (owner,))]


def wait_jobs_done(server: LiveServer, timeout: float = JOB_TIMEOUT) -> None:
    """Until no media job is waiting or active; then none may have failed."""
    marks = ",".join("?" * len(MEDIA_QUEUES))

    def idle() -> bool:
        return not server.query(f"SELECT 1 FROM job WHERE queue IN ({marks}) AND status IN ('waiting', 'active')",
                                MEDIA_QUEUES)
    wait_for(idle, timeout, 0.1, "the metadata and thumbnail queues to drain")
    failed = [dict(r) for r in server.query("SELECT name, data, attempts, error FROM job WHERE status = 'failed'")]
    assert not failed, f"failed jobs: {failed}\n{server.log_tail()}"


def wait_thumbhash(user: User, asset_id: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        r = user.get(f"/api/assets/{asset_id}")
        assert r.status_code == 200, r.text
        return r.json() if r.json().get("thumbhash") else None
    return wait_for(ready, timeout, 0.2, f"a thumbhash on asset {asset_id}")


def assert_tmp_empty(server: LiveServer) -> None:
    left = server.tmp_entries()
    assert not left, f"left in tmp/: {[str(p.relative_to(server.data)) for p in left]}"


def assert_consistent(server: LiveServer) -> None:
    """I2 + I3 on the data dir: DB sound, every row's original present with its checksum, every asset_file row's
    file present, no file in upload/ without a row, nothing left in tmp/. Waits for the media jobs first: a
    running thumbnail job legitimately has a work dir in tmp/."""
    wait_jobs_done(server)
    assert [r[0] for r in server.query("PRAGMA integrity_check")] == ["ok"]
    assert server.query("PRAGMA foreign_key_check") == []
    rows = server.query("SELECT id, original_path, checksum FROM asset")
    originals = set()
    for r in rows:
        path = server.data / r["original_path"]
        assert path.is_file(), f"asset {r['id']}: original {r['original_path']} missing"
        assert hashlib.sha1(path.read_bytes()).digest() == bytes(r["checksum"]), f"asset {r['id']}: bad bytes"  # noqa: S324
        originals.add(path)
    untracked = [p for p in server.files("upload") if p not in originals]
    assert not untracked, f"files in upload/ without a row: {untracked}"
    for f in server.query("SELECT asset_id, type, path FROM asset_file"):
        assert (server.data / f["path"]).is_file(), f"asset_file {dict(f)} points at a missing file"
    assert_tmp_empty(server)


def decodes(path: Path) -> bool:
    try:
        img = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="error")
        img.avg()  # forces a full decode
        return True
    except pyvips.Error:
        return False


def thumb_temp_files(server: LiveServer) -> list[Path]:
    """atomic_output's in-progress files under thumbs/ (".<name>.<random>.tmp.<ext>")."""
    root = server.data / "thumbs"
    return [p for p in root.rglob(".*") if p.is_file() and ".tmp" in p.name]


def kill_mid_thumbnail_write(server: LiveServer, timeout: float = 30.0) -> list[Path]:
    """SIGKILL the server while a thumbnail/preview temp file exists; returns the torn files.

    SIGSTOP freezes the process the moment a temp file is seen, so the check-then-kill is not a race: if the
    file was renamed in between, the server is resumed (SIGCONT) and the watch goes on.
    """
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thumb_temp_files(server):
            time.sleep(0.001)
            continue
        os.kill(server.pid, signal.SIGSTOP)
        torn = thumb_temp_files(server)
        if torn:
            server.kill()  # SIGKILL works on a stopped process
            return torn
        os.kill(server.pid, signal.SIGCONT)
    raise AssertionError(f"no thumbnail write observed in {timeout}s")


def read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    if not data:
        return 0, b""
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[-1]


def wait_partial_upload(server: LiveServer, min_bytes: int) -> Path:
    """The observable moment "the server is writing this body": a tmp/<assetId>.upload of at least min_bytes."""
    def partial() -> Path | None:
        for p in (server.data / "tmp").glob("*.upload"):
            try:
                if p.stat().st_size >= min_bytes:
                    return p
            except FileNotFoundError:
                pass
        return None
    return wait_for(partial, 10, 0.01, f"a partial upload of >= {min_bytes} bytes in tmp/")


# ---------------------------------------------------------------------------------------------------------
# F1: SIGKILL in the middle of an upload body

def test_sigkill_during_upload_body_leaves_nothing_and_retry_creates_once(live_server: LiveServer,
                                                                         big_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    data = variant(big_jpeg, "f1")
    ctype, body = multipart(data, "torn.jpg")
    sock = server.raw_upload(admin, body, ctype, send=len(body) // 2)
    try:
        partial = wait_partial_upload(server, 2 * 1024 * 1024)
        server.kill()
    finally:
        sock.close()
    assert partial.exists(), "the partial body should still be in tmp/ right after the crash"
    assert asset_ids(server) == []

    server.start()
    assert asset_ids(server) == [], "an unacknowledged upload must not have a row"
    assert server.files("upload") == [], "an unacknowledged upload must not leave an original"
    assert_tmp_empty(server)

    first = admin.upload(data, "torn.jpg")
    assert first.status_code == 201, first.text
    again = admin.upload(data, "torn.jpg")
    assert again.status_code == 200, again.text
    assert again.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert asset_ids(server) == [first.json()["id"]]
    [original] = server.files("upload")
    assert sha1(original.read_bytes()) == sha1(data)
    assert_consistent(server)


# ---------------------------------------------------------------------------------------------------------
# F3-ish: SIGKILL right after the 201 — the acknowledged upload and its pending jobs survive

def test_sigkill_after_201_keeps_asset_and_finishes_its_jobs(live_server: LiveServer, big_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    data = variant(big_jpeg, "f3")
    r = admin.upload(data, "acked.jpg")
    server.kill()  # as soon as the acknowledgement is in hand
    assert r.status_code == 201, r.text
    asset_id = r.json()["id"]
    pending = server.query("SELECT name, status FROM job")
    assert pending, "the kill should land before the upload's jobs are done (else this test proves less)"

    server.start()
    [row] = server.query("SELECT id, original_path, checksum FROM asset")
    assert row["id"] == asset_id
    assert bytes(row["checksum"]).hex() == sha1(data)
    assert sha1((server.data / row["original_path"]).read_bytes()) == sha1(data)
    got = admin.get(f"/api/assets/{asset_id}/original")
    assert got.status_code == 200
    assert sha1(got.content) == sha1(data)

    asset = wait_thumbhash(admin, asset_id)
    assert asset["id"] == asset_id
    wait_jobs_done(server)
    thumb = admin.get(f"/api/assets/{asset_id}/thumbnail")
    assert thumb.status_code == 200 and len(thumb.content) > 0
    retry = admin.upload(data, "acked.jpg")  # a client that never saw the 201 retries: same asset
    assert retry.status_code == 200 and retry.json() == {"id": asset_id, "status": "duplicate"}
    assert_consistent(server)


# ---------------------------------------------------------------------------------------------------------
# F4: SIGKILL while thumbnails are being written

def test_sigkill_during_thumbnail_generation(live_server: LiveServer, big_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    uploads = {}
    for i in range(6):
        data = variant(big_jpeg, f"f4-{i}")
        r = admin.upload(data, f"big-{i}.jpg")
        assert r.status_code == 201, r.text
        uploads[r.json()["id"]] = sha1(data)

    # round 1: kill while a thumbnail or preview is half-written: freeze the server (SIGSTOP) when its temp file
    # shows up under thumbs/, and SIGKILL it only if the file is still there (else let it run and look again)
    torn = kill_mid_thumbnail_write(server)
    assert torn, "the kill must land while a thumbnail file is being written"
    active = server.query("SELECT id FROM job WHERE queue = 'thumbnailGeneration' AND status = 'active'")
    assert active, "a thumbnail job should have been running at the kill"

    # round 2: restart, kill again as soon as a resumed thumbnail job is active
    server.start()
    wait_for(lambda: server.query("SELECT 1 FROM job WHERE queue = 'thumbnailGeneration' AND status = 'active'"),
             30, 0.005, "a resumed thumbnail job")
    server.kill()

    server.start()
    wait_jobs_done(server)
    for asset_id in uploads:
        wait_thumbhash(admin, asset_id, timeout=10)
        kinds = {r["type"]: r["path"] for r in
                 server.query("SELECT type, path FROM asset_file WHERE asset_id = ?", (asset_id,))}
        assert {"thumbnail", "preview"} <= set(kinds), f"{asset_id}: {kinds}"
        for path in kinds.values():
            assert decodes(server.data / path), f"{path} does not decode"
        r = admin.get(f"/api/assets/{asset_id}/thumbnail")
        assert r.status_code == 200, r.text
    # every file under thumbs/ is whole and referenced, tmp/ is empty: nothing half-written survives the restarts
    referenced = {server.data / r["path"] for r in server.query("SELECT path FROM asset_file")}
    thumbs = server.files("thumbs")
    problems = {
        "undecodable files under thumbs/": [str(p.relative_to(server.data)) for p in thumbs if not decodes(p)],
        "files under thumbs/ without an asset_file row": [
            str(p.relative_to(server.data)) for p in thumbs if p not in referenced],
        "left in tmp/": [str(p.relative_to(server.data)) for p in server.tmp_entries()],
    }
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, f"torn at the first kill: {[p.name for p in torn]}; {problems}"
    assert server.query("SELECT asset_id FROM asset_file WHERE asset_id NOT IN (SELECT id FROM asset)") == []
    assert {r["id"]: bytes(r["checksum"]).hex() for r in server.query("SELECT id, checksum FROM asset")} == uploads
    assert_consistent(server)


# ---------------------------------------------------------------------------------------------------------
# F12: twenty concurrent uploads of the same bytes

def test_concurrent_identical_uploads_make_one_asset_per_user(live_server: LiveServer, small_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    other = server.make_user(admin)
    data = variant(small_jpeg, "f12")
    n = 20
    barrier = threading.Barrier(n)
    results: list[tuple[int, dict[str, Any]] | BaseException] = [None] * n  # type: ignore[list-item]

    def worker(i: int) -> None:
        try:
            with server.client(timeout=60) as c:
                barrier.wait(10)
                r = admin.upload(data, "same.jpg", client=c)
                results[i] = (r.status_code, r.json())
        except BaseException as e:  # noqa: BLE001 (reported below)
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    statuses = sorted(r[0] for r in results)  # type: ignore[index]
    assert statuses == [200] * (n - 1) + [201], statuses
    ids = {r[1]["id"] for r in results}  # type: ignore[index]
    assert len(ids) == 1, ids
    [asset_id] = ids
    assert sorted(r[1]["status"] for r in results) == ["created"] + ["duplicate"] * (n - 1)  # type: ignore[index]
    assert asset_ids(server, admin.id) == [asset_id]
    mine = [p for p in server.files("upload") if p.is_relative_to(server.data / "upload" / admin.id)]
    assert len(mine) == 1 and sha1(mine[0].read_bytes()) == sha1(data)

    theirs = other.upload(data, "same.jpg")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != asset_id
    assert asset_ids(server, other.id) == [theirs.json()["id"]]
    assert len(server.files("upload")) == 2
    assert_consistent(server)


# ---------------------------------------------------------------------------------------------------------
# F10: the client goes away mid-body (server keeps running), or sends a form without its closing boundary

def test_client_disconnect_mid_body_leaves_nothing(live_server: LiveServer, big_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    data = variant(big_jpeg, "f10")
    ctype, body = multipart(data, "gone.jpg")

    # abrupt: RST (SO_LINGER 0), like a phone dropping off Wi-Fi
    sock = server.raw_upload(admin, body, ctype, send=len(body) // 2)
    wait_partial_upload(server, 1024 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    wait_for(lambda: not server.tmp_entries(), 5, 0.02, "tmp/ to be emptied after a reset connection")

    # orderly: FIN after a third of the body (Content-Length promised more)
    sock = server.raw_upload(admin, body, ctype, send=len(body) // 3)
    wait_partial_upload(server, 1024 * 1024)
    sock.shutdown(socket.SHUT_WR)
    status, _ = read_response(sock)
    sock.close()
    assert status in (0, 400), status  # dropped connection or a 400; never a 2xx
    wait_for(lambda: not server.tmp_entries(), 5, 0.02, "tmp/ to be emptied after a half-closed connection")

    # complete request, but the form lacks its closing boundary
    truncated = body[: body.rindex(b"\r\n--")]
    sock = server.raw_upload(admin, truncated, ctype)
    status, reply = read_response(sock)
    sock.close()
    assert status == 400, reply
    wait_for(lambda: not server.tmp_entries(), 5, 0.02, "tmp/ to be emptied after a truncated form")

    assert asset_ids(server) == []
    assert server.files("upload") == []
    assert server.proc is not None and server.proc.poll() is None
    r = admin.upload(data, "gone.jpg")  # the server is fine and the retry creates the asset once
    assert r.status_code == 201, r.text
    assert asset_ids(server) == [r.json()["id"]]
    assert_consistent(server)


# ---------------------------------------------------------------------------------------------------------
# F15: SIGTERM while uploads are running

def test_sigterm_during_uploads_exits_cleanly_and_keeps_acknowledged(live_server: LiveServer, small_jpeg: bytes,
                                                                    big_jpeg: bytes) -> None:
    server = live_server
    admin = server.sign_up_admin()
    acked: dict[str, str] = {}
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(k: int) -> None:
        with server.client(timeout=30) as c:
            for i in range(1000):
                if stop.is_set():
                    return
                data = variant(small_jpeg, f"f15-{k}-{i}")
                try:
                    r = admin.upload(data, f"t{k}-{i}.jpg", client=c)
                except httpx.HTTPError as e:
                    with lock:
                        outcomes.append(type(e).__name__)
                    return  # the server is going away
                with lock:
                    outcomes.append(str(r.status_code))
                    if r.status_code == 201:
                        acked[r.json()["id"]] = sha1(data)
                if r.status_code != 201:
                    return

    threads = [threading.Thread(target=uploader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 8, 30, 0.01, "a few acknowledged uploads")
    # plus a stalled client: half its body sent, then silence (a phone on bad Wi-Fi) — must not hold up the stop
    ctype, body = multipart(variant(big_jpeg, "f15-stalled"), "stalled.jpg")
    stalled = server.raw_upload(admin, body, ctype, send=len(body) // 2)
    try:
        wait_partial_upload(server, 3 * 1024 * 1024)  # only the big stalled body gets this large
        code, took = server.terminate(timeout=30)
        stop.set()
        for t in threads:
            t.join(30)
        stalled_status, _ = read_response(stalled, timeout=1)
    finally:
        stalled.close()
    assert code == 0, f"exit code {code}\n{server.log_tail()}"
    assert took < GRACEFUL_TIMEOUT + 3, f"shutdown took {took:.1f}s (hypercorn graceful_timeout is 10 s)"
    assert all(o == "201" or not o.isdigit() for o in outcomes), outcomes  # 201 or a dropped connection only
    # the stalled upload is cut at the graceful timeout (hypercorn answers an empty 500 or drops it): never a 2xx,
    # and its partial body is already gone from tmp/ (the cancelled receiver cleaned up)
    assert not 200 <= stalled_status < 300, stalled_status
    assert_tmp_empty(server)
    wal = server.data / "immich-lite.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "a clean stop should checkpoint the WAL"

    server.start()
    rows = {r["id"]: bytes(r["checksum"]).hex() for r in server.query("SELECT id, checksum FROM asset")}
    missing = set(acked) - set(rows)
    assert not missing, f"acknowledged uploads lost: {missing}"
    assert all(rows[a] == s for a, s in acked.items())
    for asset_id in list(acked)[:3]:
        got = admin.get(f"/api/assets/{asset_id}/original")
        assert got.status_code == 200 and sha1(got.content) == acked[asset_id]
    wait_jobs_done(server)
    assert_consistent(server)
    assert not server.query("SELECT id FROM asset WHERE thumbhash IS NULL"), "every asset gets its thumbnail"


# ---------------------------------------------------------------------------------------------------------
# F16: SIGTERM while a long transcode runs: exit in seconds, the transcode runs again at the next start

def _slow_video(tmp: Path) -> bytes:
    """A 1080p clip whose transcode at preset `veryslow` takes minutes on this machine (it is made in ~1 s)."""
    out = tmp / "long.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
                    "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", str(out)],
                   check=True)
    return out.read_bytes()


def _ffmpeg_children(server: LiveServer) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if cmd and cmd[0].endswith(b"ffmpeg") and str(server.data).encode() in b" ".join(cmd):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_sigterm_during_a_long_transcode_exits_fast_and_resumes(live_server: LiveServer, tmp_path: Path) -> None:
    admin = live_server.sign_up_admin()
    config = admin.get("/api/system-config").json()
    config["ffmpeg"].update({"transcode": "all", "preset": "veryslow", "targetResolution": "original", "crf": 18})
    assert admin.request("PUT", "/api/system-config", json=config).status_code == 200
    r = admin.upload(_slow_video(tmp_path), "long.mp4")
    assert r.status_code == 201, r.text
    asset_id = r.json()["id"]
    wait_for(lambda: live_server.query("SELECT 1 FROM job WHERE name = 'AssetEncodeVideo' AND status = 'active'"),
             JOB_TIMEOUT, 0.1, "the transcode to start")
    wait_for(lambda: _ffmpeg_children(live_server), 30, 0.05, "ffmpeg to be running")
    # paused (it stays paused across the restart), so the resumed run can use quick settings below
    assert admin.request("PUT", "/api/jobs/videoConversion", json={"command": "pause"}).status_code == 200
    time.sleep(1.0)

    code, took = live_server.terminate(timeout=60)
    assert code == 0, live_server.log_tail()
    assert took < 8, f"SIGTERM with a transcode running took {took:.1f}s\n{live_server.log_tail()}"
    assert not _ffmpeg_children(live_server), "ffmpeg outlived the server"
    row = live_server.query("SELECT status, attempts, error FROM job WHERE name = 'AssetEncodeVideo'")
    assert [dict(x) for x in row] == [{"status": "waiting", "attempts": 0, "error": None}], [dict(x) for x in row]
    encoded = list((live_server.data / "encoded-video").rglob("*"))
    assert not [p for p in encoded if p.is_file()], f"a torn transcode was left behind: {encoded}"

    # the next start runs it again (quick settings this time, so the test does not wait minutes)
    live_server.start()
    config["ffmpeg"].update({"preset": "ultrafast", "targetResolution": "480"})
    assert admin.request("PUT", "/api/system-config", json=config).status_code == 200
    assert admin.request("PUT", "/api/jobs/videoConversion", json={"command": "resume"}).status_code == 200
    wait_for(lambda: not live_server.query("SELECT 1 FROM job WHERE name = 'AssetEncodeVideo'"), 300, 0.2,
             "the transcode to run again and finish")
    files = live_server.query("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'encoded_video'", (asset_id,))
    assert len(files) == 1 and (live_server.data / files[0]["path"]).stat().st_size > 0
