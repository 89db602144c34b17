"""Shared helpers for the bench scripts (not product code): test images, a live server, RSS, multipart bodies."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_PY = REPO / ".venv" / "bin" / "python"
PY = str(VENV_PY if VENV_PY.exists() else Path(sys.executable))
CORPUS = Path(os.environ.get("IMMICH_LITE_CORPUS", "/work/shared/corpus"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# -- numbers and tables ----------------------------------------------------------------------------

def median(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.median(xs) if xs else float("nan")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:.3g}" if abs(c) < 10 else f"{c:.1f}"
    return str(c)


def machine() -> str:
    import platform  # noqa: PLC0415
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


# -- images ------------------------------------------------------------------------------------------

def photo_like(width: int, height: int, seed: int, noise: float = 7.0):  # -> pyvips.Image
    """Gradient + low-frequency colour blobs + fine grain: compresses like a photo (4000x3000 Q93 ~ 4.7 MB)."""
    import pyvips  # noqa: PLC0415

    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    base = (x * (255.0 / width)).bandjoin([y * (255.0 / height), (x + y) * (127.0 / (width + height)) + 40 + 13 * (seed % 8)])
    bw, bh = max(2, width // 50), max(2, height // 50)
    blobs = pyvips.Image.gaussnoise(bw, bh, sigma=60, seed=seed).bandjoin(
        [pyvips.Image.gaussnoise(bw, bh, sigma=60, seed=seed + 1), pyvips.Image.gaussnoise(bw, bh, sigma=60, seed=seed + 2)])
    blobs = blobs.resize(width / bw, vscale=height / bh, kernel="linear").crop(0, 0, width, height)
    grain = pyvips.Image.gaussnoise(width, height, sigma=noise, mean=0, seed=seed + 3)
    return (base + blobs + grain).cast("uchar").copy(interpretation="srgb")


def jpeg_bytes(width: int, height: int, seed: int, q: int = 93, noise: float = 7.0) -> bytes:
    return photo_like(width, height, seed, noise).jpegsave_buffer(Q=q)


def com_segment(text: bytes) -> bytes:
    """A JPEG COM marker segment (makes otherwise identical files unique, still valid JPEG)."""
    return b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text


def exif_segment(date: str, make: str = "BenchCam", model: str = "B1") -> bytes:
    """An APP1 Exif segment with Make/Model/DateTime/DateTimeOriginal/CreateDate (date 'YYYY:MM:DD HH:MM:SS')."""
    from PIL import Image  # noqa: PLC0415

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = make, model, date
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = date  # DateTimeOriginal
    ifd[0x9004] = date  # CreateDate
    payload = exif.tobytes()  # starts with b"Exif\x00\x00"
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def splice_after_soi(jpeg: bytes, *segments: bytes) -> list[bytes]:
    """SOI, the extra segments, then the rest of the original file: as a list of buffers (no big copy)."""
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    return [jpeg[:2], *segments, memoryview(jpeg)[2:]]


# -- multipart, streamed ---------------------------------------------------------------------------

FILE_DATE = "2021-06-01T12:00:00.000Z"


def multipart(fields: dict[str, str], filename: str, file_parts: list[Any], *,
              boundary: str = "----immichlitebench7MA4YWxkTrZu0gW") -> tuple[str, int, Iterator[bytes]]:
    """(content-type, content-length, body iterator) of the form the apps send; file bytes are not joined."""
    head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items())
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"assetData\"; filename=\"{filename}\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n")
    tail = f"\r\n--{boundary}--\r\n".encode()
    pre = head.encode()
    size = len(pre) + sum(len(p) for p in file_parts) + len(tail)

    def body() -> Iterator[bytes]:
        yield pre
        for part in file_parts:
            mv = memoryview(part)
            for i in range(0, len(mv), 256 * 1024):
                yield mv[i:i + 256 * 1024]
        yield tail
    return f"multipart/form-data; boundary={boundary}", size, body()


def upload_fields(device_asset_id: str) -> dict[str, str]:
    """The text fields the mobile app sends with POST /api/assets (tests/helpers/upload.py)."""
    return {"deviceAssetId": device_asset_id, "deviceId": "bench", "fileCreatedAt": FILE_DATE,
            "fileModifiedAt": FILE_DATE, "isFavorite": "false"}


def post_stream(conn: http.client.HTTPConnection, path: str, ctype: str, size: int, body: Iterator[bytes],
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.putrequest("POST", path)
    for k, v in {"Content-Type": ctype, "Content-Length": str(size), **(headers or {})}.items():
        conn.putheader(k, v)
    conn.endheaders()
    for chunk in body:
        conn.send(chunk)
    resp = conn.getresponse()
    return resp.status, resp.read()


class Uploader:
    """N parallel keep-alive clients; returns (seconds, payload bytes, per-request seconds, failures)."""

    def __init__(self, port: int, path: str, token: str | None, parallel: int):
        self.port, self.path, self.token, self.parallel = port, path, token, parallel
        self.local = threading.local()

    def _conn(self):  # noqa: ANN202
        import http.client  # noqa: PLC0415
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        return c

    def _one(self, item: tuple[str, bytes]) -> tuple[float, int, int, bytes]:
        tag, base, *extra = item  # extra: JPEG segments to splice in (e.g. an Exif APP1)
        parts = splice_after_soi(base, *extra, com_segment(tag.encode()))
        ctype, size, body = multipart(upload_fields(tag), f"{tag}.jpg", parts)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        t = time.perf_counter()
        status, resp = post_stream(self._conn(), self.path, ctype, size, body, headers)
        return time.perf_counter() - t, sum(len(p) for p in parts), status, resp

    def run(self, items: list[tuple[Any, ...]]) -> tuple[float, int, list[float], list[str]]:
        t = time.perf_counter()
        with ThreadPoolExecutor(self.parallel) as pool:
            results = list(pool.map(self._one, items))
        wall = time.perf_counter() - t
        bad = [f"{st} {resp[:120]!r}" for _, _, st, resp in results if st not in (200, 201) or b"created" not in resp]
        return wall, sum(r[1] for r in results), [r[0] for r in results], bad


# -- a live immich-lite server -----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / VmSize (KiB) of one process from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "VmSize", "RssAnon", "RssFile", "Threads"):
                    out[k] = int(v.split()[0])
    except FileNotFoundError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
    except FileNotFoundError:
        pass
    return kids


def mib(kib: float) -> float:
    return kib / 1024.0


class Server:
    """`immich-lite serve` on 127.0.0.1 with a fresh data dir; an admin signed up and logged in."""

    def __init__(self, data_dir: Path | None = None, workers: int | None = None, log_level: str = "warning",
                 extra_args: list[str] | None = None):
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="immich-lite-bench-")) if data_dir is None else data_dir
        self.port = free_port()
        self.workers = workers
        self.log_level = log_level
        self.extra_args = list(extra_args or [])  # more `serve` options, e.g. ["--web-root", DIR]
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def start(self) -> Server:
        script = REPO / ".venv" / "bin" / "immich-lite"  # the documented command; its shebang is the venv python
        cmd = [str(script), "serve"] if script.exists() else [PY, "-c", "from immich_lite.cli import cli; cli()", "serve"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
                "--log-level", self.log_level]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        cmd += self.extra_args
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log.name}")
            try:
                status, _ = self.request("GET", "/api/server/ping", auth=False)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not answer /api/server/ping within 60 s")

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, Any]:
        c = conn or self.conn()
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=headers)
        resp = c.getresponse()
        raw = resp.read()
        if conn is None:
            c.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw

    def login_admin(self) -> str:
        cred = {"email": "admin@bench.local", "password": "bench-password"}
        status, body = self.request("POST", "/api/auth/admin-sign-up", {**cred, "name": "Bench"}, auth=False)
        if status not in (200, 201):
            raise RuntimeError(f"admin sign-up failed: {status} {body}")
        status, body = self.request("POST", "/api/auth/login", cred, auth=False)
        if status not in (200, 201):
            raise RuntimeError(f"login failed: {status} {body}")
        self.token = body["accessToken"]
        return self.token

    def queue_totals(self) -> dict[str, int]:
        status, body = self.request("GET", "/api/queues")
        if status != 200:
            raise RuntimeError(f"GET /api/queues: {status} {body}")
        totals: dict[str, int] = {}
        for q in body:
            for k, v in q["statistics"].items():
                totals[k] = totals.get(k, 0) + int(v)
        return totals

    def set_paused(self, queues: Iterable[str], paused: bool) -> None:
        for q in queues:
            status, body = self.request("PUT", f"/api/queues/{q}", {"isPaused": paused})
            if status != 200:
                raise RuntimeError(f"PUT /api/queues/{q}: {status} {body}")

    def wait_idle(self, timeout: float = 3600, poll: float = 0.25) -> dict[str, int]:
        """Poll GET /api/queues until nothing is active, waiting or delayed; returns the last totals
        plus "max_pending", the most jobs seen pending while waiting."""
        seen = 0
        deadline = time.time() + timeout
        while time.time() < deadline:
            q = self.queue_totals()
            pending = q.get("active", 0) + q.get("waiting", 0) + q.get("delayed", 0)
            seen = max(seen, pending)
            if pending == 0:
                return {**q, "max_pending": seen}
            time.sleep(poll)
        raise RuntimeError("job queues did not drain")

    def stop_process(self) -> None:
        """SIGTERM the server and wait, keeping its data dir (start() serves it again)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        if getattr(self, "log", None):
            self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def running_server(**kw: Any) -> Iterator[Server]:
    srv = Server(**kw)
    try:
        srv.start()
        srv.login_admin()
        yield srv
    finally:
        srv.stop()
