"""The zipapp: scripts/build-zipapp builds dist/immich-lite-<arch>.pyz; it serves from a clean directory.

Built once per module into a tmp dir (about 25 s); then `python3 <pyz> serve` runs twice from an empty cwd with
its own SHIV_ROOT (first start extracts, the second reuses the extraction): ping, sign up, log in, upload one
corpus JPEG (201), SIGTERM, exit 0. Sizes and start times are printed (pytest -s) for the issue note.
"""
from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.live import REPO, free_port, multipart

CORPUS_JPEG = Path("/work/shared/corpus/jpeg/mongolia.jpeg")
ADMIN = {"email": "admin@zipapp.test", "name": "Zip Admin", "password": "zipapp-password"}


def _shiv() -> str:
    for cand in (Path(sys.executable).with_name("shiv"), shutil.which("shiv")):
        if cand and Path(cand).exists():
            return str(cand)
    pytest.fail("shiv is not installed: `pip install -e '.[test]'` (shiv is in the test extras) to build the zipapp")


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zipapp")
    env = {**os.environ, "SHIV": _shiv()}
    proc = subprocess.run([str(REPO / "scripts" / "build-zipapp"), "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path == out / f"immich-lite-{platform.machine()}.pyz" and path.is_file()
    return path


def _start(pyz: Path, cwd: Path, data: Path, shiv_root: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "IMMICH_LITE_"))}
    env["SHIV_ROOT"] = str(shiv_root)
    # the system python3 (not the venv's): the pyz must carry every dependency itself
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"
    t0 = time.monotonic()
    proc = subprocess.Popen([python, str(pyz), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = t0 + 30
    while True:
        try:
            if httpx.get(f"{base}/api/server/ping", timeout=1).json() == {"res": "pong"}:
                return proc, base, time.monotonic() - t0
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.communicate()[0].decode(errors="replace")
            pytest.fail(f"zipapp did not answer ping (exit {proc.returncode}):\n{out[-3000:]}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        out = proc.communicate(timeout=20)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("zipapp did not exit within 20 s of SIGTERM")
    assert proc.returncode == 0, out[-3000:]


def test_zipapp_serves_from_clean_dir(pyz: Path, tmp_path: Path) -> None:
    assert CORPUS_JPEG.is_file(), f"corpus file missing: {CORPUS_JPEG}"
    cwd, data, shiv_root = tmp_path / "cwd", tmp_path / "data", tmp_path / "shiv"
    cwd.mkdir()

    proc, base, first = _start(pyz, cwd, data, shiv_root)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/api/auth/admin-sign-up", json=ADMIN)
            assert r.status_code == 201, r.text
            r = c.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
            assert r.status_code == 201, r.text
            token = r.json()["accessToken"]
            ctype, body = multipart(CORPUS_JPEG.read_bytes(), "mongolia.jpeg")
            r = c.post("/api/assets", content=body,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "created"
    finally:
        _stop(proc)

    proc, base, second = _start(pyz, cwd, data, shiv_root)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
            assert r.status_code == 201, r.text  # same data dir: the account survived the restart
    finally:
        _stop(proc)

    assert list(cwd.iterdir()) == []  # nothing written outside --data-dir and SHIV_ROOT
    size = pyz.stat().st_size
    print(f"\nzipapp {pyz.name}: {size / 1e6:.1f} MB; first start (extracts) {first:.2f} s; "
          f"second start {second:.2f} s (to first successful ping)")
