"""A real `immich-lite serve` process for fault tests: start, SIGKILL, restart on the same data dir, SIGTERM.

Everything is observed from outside, as an operator would: HTTP through httpx (or a raw socket for torn
requests), the data dir's files, and read-only SQL on `<data>/immich-lite.db` with the stdlib sqlite3 module
(`mode=ro`, one short connection per query, so the test never holds a read transaction open).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"email": "admin@immich.cloud", "name": "Immich Admin", "password": "admin-password"}
FILE_DATE = "2000-01-01T00:00:00.000Z"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 (Immich's checksum)


def multipart(data: bytes, filename: str = "photo.jpg", fields: dict[str, str] | None = None,
              boundary: str | None = None) -> tuple[str, bytes]:
    """(content-type, body) of an upload form as the apps send it: text fields first, the file last."""
    boundary = boundary or f"----immichlite{uuid.uuid4().hex}"
    form = {"deviceAssetId": f"fault-{filename}-{uuid.uuid4().hex[:8]}", "deviceId": "pytest-faults",
            "fileCreatedAt": FILE_DATE, "fileModifiedAt": FILE_DATE, "isFavorite": "false", **(fields or {})}
    out = bytearray()
    for k, v in form.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="assetData"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    out += data
    out += f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


class User:
    """A logged-in account on a LiveServer; survives restarts (sessions live in the database)."""

    def __init__(self, server: LiveServer, token: str, user_id: str, email: str):
        self.server, self.token, self.id, self.email = server, token, user_id, email

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        with self.server.client() as c:
            return c.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def upload(self, data: bytes, filename: str = "photo.jpg", *, client: httpx.Client | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
        ctype, body = multipart(data, filename)
        hdrs = {**self.headers, "Content-Type": ctype, **(headers or {})}
        if client is not None:
            return client.post("/api/assets", content=body, headers=hdrs)
        with self.server.client() as c:
            return c.post("/api/assets", content=body, headers=hdrs)


class LiveServer:
    """One `python -m immich_lite serve` subprocess on a data dir; restartable after kill()/terminate()."""

    def __init__(self, data_dir: Path, log_dir: Path, *, workers: int = 2, env: dict[str, str] | None = None):
        self.data = data_dir
        self.log_dir = log_dir
        self.workers = workers
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self._pgids: list[int] = []
        self._log: Path | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> LiveServer:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        self.port = free_port()
        self._log = self.log_dir / f"server-{self.starts}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self._log, "wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "immich_lite", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data), "--workers", str(self.workers)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)  # own process group: its exiftool child can be reaped at teardown
        self._pgids.append(self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} during start:\n{self.log_tail()}")
            try:
                r = httpx.get(f"{self.url}/api/server/ping", timeout=1.0)
                if r.status_code == 200 and r.json() == {"res": "pong"}:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not answer /api/server/ping in {START_TIMEOUT}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server process (only it: children are orphaned, as after a real crash)."""
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM and wait; returns (exit code, seconds taken). Raises if it outlives `timeout`."""
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running {timeout}s after SIGTERM:\n{self.log_tail()}") from None
        return code, time.monotonic() - t0

    def restart(self) -> LiveServer:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        return self.start()

    def close(self) -> None:
        """Teardown: SIGTERM a running server (SIGKILL if it hangs), then reap what its groups left behind."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for pgid in self._pgids:  # orphaned children of killed servers (exiftool -stay_open), ours by group id
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def log_tail(self, n: int = 40) -> str:
        logs = sorted(self.log_dir.glob("server-*.log"), key=lambda p: int(p.stem.split("-")[1]))
        out = []
        for p in logs:
            lines = p.read_text(errors="replace").splitlines()[-n:]
            out.append(f"--- {p.name}\n" + "\n".join(lines))
        return "\n".join(out)

    # -- HTTP ---------------------------------------------------------------------------------------------
    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def sign_up_admin(self) -> User:
        with self.client() as c:
            r = c.post("/api/auth/admin-sign-up", json=ADMIN)
            assert r.status_code == 201, r.text
        return self.login(ADMIN["email"], ADMIN["password"])

    def login(self, email: str, password: str) -> User:
        with self.client() as c:
            r = c.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        body = r.json()
        return User(self, body["accessToken"], body["userId"], email)

    def make_user(self, admin: User, email: str = "user2@immich.cloud", password: str = "user-password") -> User:
        r = admin.post("/api/admin/users", json={"email": email, "name": email.split("@")[0], "password": password})
        assert r.status_code == 201, r.text
        return self.login(email, password)

    def raw_upload(self, user: User, body: bytes, ctype: str, *, send: int | None = None,
                   content_length: int | None = None) -> socket.socket:
        """Open a socket and send an upload's request head plus the first `send` body bytes; returns the socket
        (still open) so the caller decides how the request ends: server killed, socket closed, or the rest sent."""
        head = (f"POST /api/assets HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {user.token}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body) if content_length is None else content_length}\r\n"
                f"Connection: close\r\n\r\n").encode()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.sendall(head + body[:len(body) if send is None else send])
        return sock

    # -- the data dir, read-only --------------------------------------------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"file:{self.data / 'immich-lite.db'}?mode=ro", uri=True, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def files(self, folder: str) -> list[Path]:
        """Every file (any name, hidden ones too) under <data>/<folder>, sorted."""
        root = self.data / folder
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def tmp_entries(self) -> list[Path]:
        """Everything left in <data>/tmp: files and directories."""
        root = self.data / "tmp"
        return sorted(root.rglob("*")) if root.exists() else []


def wait_for(predicate: Any, timeout: float, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A started server on a fresh data dir, SIGTERMed (and its process groups reaped) at the end."""
    server = LiveServer(tmp_path / "data", tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def ml_server(module_args: list[str], models_dir: Path, log_path: Path) -> Iterator[str]:
    """A machine-learning server subprocess (`python -m <module_args> --port N --models-dir D`) on 127.0.0.1;
    its URL once `/ping` answers "pong"."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", *module_args, "--port", str(port), "--models-dir", str(models_dir)], cwd=REPO,
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/ping", timeout=1).text == "pong":
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise AssertionError(log_path.read_text())
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


def drain_queues(srv: LiveServer, admin: User, timeout: float = 180) -> None:
    """Wait until every queue of the server is empty (GET /api/queues)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queues = admin.get("/api/queues").json()
        if all(q["statistics"]["active"] + q["statistics"]["waiting"] + q["statistics"]["delayed"] == 0
               for q in queues):
            return
        time.sleep(0.2)
    raise AssertionError(f"queues still busy:\n{srv.log_tail()}")
