"""The web app: static-file throughput (wrk) and time to the first timeline paint in Chromium, with anchors.

    .venv/bin/python bench/web.py [--quick] [--rounds N] [--duration S] [--assets N] [--paint-rounds N]
                                  [--first N] [--parallel 3] [--skip-static] [--skip-browser]

Web app: the official Immich web build at $IMMICH_LITE_WEB (default /work/shared/immich-web), served by
`immich-lite serve --web-root DIR`; it is referenced in place, never copied.

1. Static files.  `wrk -t2 -c16 -d<S>s` (S = 4, --quick 1) against three servers on 127.0.0.1, for
   (a) a small immutable JS chunk (5-20 KB, the one nearest 10 KB with a .br sibling), (b) the largest .js
   under _app/immutable, (c) index.html through the SPA route /photos; each once with `Accept-Encoding: br`
   and once without:
     * immich-lite   -- `immich-lite serve --web-root DIR` (fresh data dir, no admin needed);
     * floor         -- this file's --floor-server: hypercorn configured as `immich-lite serve` configures it
                        (immich_lite/serving.py: same Config settings, `tune_for_uploads()`), with a bare ASGI
                        app answering the same bytes from memory for the same paths, with the same headers
                        (content-type, etag, last-modified, cache-control, vary, content-encoding): "our HTTP
                        stack with a bare app", so immich-lite / floor is the app's own share;
     * nginx         -- Debian's nginx, 1 worker, `gzip_static on`, a minimal config in the temp dir, run as
                        `nginx -c CONF -p TMP -g 'daemon off;'`.  Debian's nginx has no brotli module: asked
                        for `br` it sends the identity bytes (the table shows the body sizes).
   Rounds alternate the order of the servers; figures are medians over rounds.  CPU µs/request is the
   server process's utime+stime during the run (nginx: its worker) divided by the requests.
   Target: immich-lite / floor >= 0.7 (req/s).
2. Time to the first timeline paint.  A fresh `immich-lite serve --web-root DIR`, an admin signed up and
   onboarded through the API, N generated 640x480 JPEGs (default 1,000, --quick 100; each with its own Exif
   date, 10 per day out, the days spread over 2020-2022) uploaded through POST /api/assets by 3 uploaders, then
   the job queues drained.  Chromium (Playwright, Debian's /usr/bin/chromium, 1920x1080) opens /photos in a new
   browser context each round (cold HTTP cache), with the access-token cookies of an API login.  Measured from
   `page.goto('/photos')` to the moment F (default 20) timeline thumbnails (`img[src*='/thumbnail']`) are decoded
   (naturalWidth > 0) and inside the viewport, polled every animation frame; also the first such thumbnail, and
   where the time went (Resource Timing).  F is capped at what the settled viewport shows (counted in the
   warm-up).  Anchor, same run: nginx serving the web root and proxying /api (and the /api/socket.io
   websocket) to the same immich-lite; the sides alternate, one untimed warm-up each.
The server's RSS after each part is printed.  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import asyncio
import email.utils
import http.client
import math
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PY,
    Server,
    Uploader,
    children,
    cpu_seconds,
    exif_segment,
    free_port,
    jpeg_bytes,
    machine,
    median,
    mib,
    proc_status,
    table,
)

WEB = Path(os.environ.get("IMMICH_LITE_WEB", "/work/shared/immich-web"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SPA_ROUTE = "/photos"
IMMUTABLE = "public,max-age=31536000,immutable"  # what immich_lite/api/webapp.py sends for _app/immutable/**
TARGET = 0.7
THUMBS = "img[src*='/thumbnail']"
BURST = 10  # photos per day out (distinct times); the timeline groups them by day
VIEWPORT = {"width": 1920, "height": 1080}


# -- the inputs ------------------------------------------------------------------------------------------

def pick_files(root: Path) -> dict[str, str]:
    """URL paths: a small immutable JS chunk (5-20 KB, nearest 10 KB, with a .br), the largest, the SPA route."""
    js = [p for p in (root / "_app" / "immutable").rglob("*.js") if p.is_file()]
    small = [p for p in js if 5_000 <= p.stat().st_size <= 20_000 and p.with_name(p.name + ".br").is_file()]
    small = small or [p for p in js if 5_000 <= p.stat().st_size <= 20_000]
    pick = min(small, key=lambda p: (abs(p.stat().st_size - 10_000), str(p)))
    large = max(js, key=lambda p: (p.stat().st_size, str(p)))
    url = lambda p: "/" + p.relative_to(root).as_posix()  # noqa: E731
    return {"small JS": url(pick), "large JS": url(large), f"index.html via {SPA_ROUTE}": SPA_ROUTE}


# -- the floor: immich-lite's HTTP stack with a bare ASGI app ------------------------------------------------

def _floor_app(root: Path, paths: list[str]):  # -> ASGI app
    """The same bytes and headers immich-lite sends for these paths, from memory; nothing else."""
    entries: dict[str, dict[str | None, tuple[bytes, list[tuple[bytes, bytes]]]]] = {}
    for url in paths:
        if url == SPA_ROUTE:  # webapp.html_response
            body = (root / "index.html").read_bytes()
            entries[url] = {None: (body, [(b"cache-control", b"no-store"),
                                          (b"content-type", b"text/html; charset=utf-8")])}
            continue
        file = root / url.lstrip("/")
        st = file.stat()
        base = [(b"content-type", b"text/javascript"),
                (b"last-modified", email.utils.formatdate(st.st_mtime, usegmt=True).encode()),
                (b"etag", f'W/"{st.st_size}-{int(st.st_mtime * 1000)}"'.encode()),
                (b"cache-control", IMMUTABLE.encode() if url.startswith("/_app/immutable/") else b"no-cache")]
        variants: dict[str | None, tuple[bytes, list[tuple[bytes, bytes]]]] = {}
        br = file.with_name(file.name + ".br")
        extra = [(b"vary", b"Accept-Encoding")] if br.is_file() or file.with_name(file.name + ".gz").is_file() else []
        variants[None] = (file.read_bytes(), base + extra)
        if br.is_file():
            variants["br"] = (br.read_bytes(), base + extra + [(b"content-encoding", b"br")])
        entries[url] = variants

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        entry = entries.get(scope["path"])
        if entry is None:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept-encoding"), b"")
        body, headers = entry["br"] if "br" in entry and re.search(rb"\bbr\b", accept) else entry[None]
        await send({"type": "http.response.start", "status": 200,
                    "headers": headers + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


async def _floor_main(port: int, root: Path, paths: list[str]) -> None:
    import logging  # noqa: PLC0415

    from hypercorn.asyncio import serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    from immich_lite.serving import tune_for_uploads  # noqa: PLC0415

    tune_for_uploads()  # as `immich-lite serve`
    config = Config()  # the settings immich_lite.serving.serve() makes
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 10
    config.keep_alive_timeout = 75
    await serve(_floor_app(root, paths), config)  # type: ignore[arg-type]


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f} s")


class Floor:
    def __init__(self, root: Path, paths: list[str]):
        self.port = free_port()
        self.proc = subprocess.Popen([PY, __file__, "--floor-server", str(self.port), str(root), *paths])
        wait_port(self.port, self.proc, "floor server")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- nginx ---------------------------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
{user}error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    gzip_static on;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream immich {{ server 127.0.0.1:{api_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /_app/immutable/ {{
            add_header Cache-Control "{immutable}";
            try_files $uri =404;
        }}
        location /api/ {{
            proxy_pass http://immich;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_read_timeout 600s;
            client_max_body_size 0;
        }}
        location / {{
            add_header Cache-Control no-cache;
            try_files $uri /index.html;
        }}
    }}
}}
"""


class Nginx:
    """nginx serving the web root (gzip_static) and proxying /api to immich-lite; 1 worker; config in `tmp`."""

    def __init__(self, tmp: Path, root: Path, api_port: int):
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp, self.port = tmp, free_port()
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""  # workers as us
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, api_port=api_port, port=self.port, root=root,
                                          immutable=IMMUTABLE))
        self.log = open(tmp / "stderr.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, self.proc, "nginx")
        except RuntimeError:
            self.log.close()
            raise RuntimeError(f"nginx did not start: {(tmp / 'stderr.log').read_text()[-500:]}") from None

    @property
    def pid(self) -> int:  # the worker: where the requests are served
        kids = children(self.proc.pid)
        return kids[0] if kids else self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -- wrk -----------------------------------------------------------------------------------------------------

UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def wrk(port: int, path: str, encoding: str | None, seconds: int) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s"]
    if encoding:
        cmd += ["-H", f"Accept-Encoding: {encoding}"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    tps = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    if not (m and rps and tps):
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)),
            "mbps": float(tps.group(1)) * UNITS.get(tps.group(2), 1) / 1e6,
            "bad": int(bad.group(1)) if bad else 0, "errors": sum(map(int, errs.groups())) if errs else 0}


def fetch(port: int, path: str, encoding: str | None) -> tuple[int, str, bytes, int]:
    """(status, content-encoding, body, header bytes) of one GET."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers={"Accept-Encoding": encoding} if encoding else {"Accept-Encoding": ""})
        r = c.getresponse()
        body = r.read()
        head = sum(len(k) + len(v) + 4 for k, v in r.getheaders()) + 17
        return r.status, r.getheader("Content-Encoding") or "identity", body, head
    finally:
        c.close()


def static_part(args: argparse.Namespace, tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """Part 1; returns printed lines' data for the summary."""
    files = pick_files(WEB)
    encodings: list[str | None] = ["br", None]
    cases = [(label, path, enc) for label, path in files.items() for enc in encodings]
    srv = Server(extra_args=["--web-root", str(WEB)])
    floor = nginx = None
    try:
        srv.start()
        floor = Floor(WEB, list(files.values()))
        nginx = Nginx(tmp / "nginx-static", WEB, srv.port)
        servers = {"immich-lite": srv, "floor": floor, "nginx": nginx}
        ports = {"immich-lite": srv.port, "floor": floor.port, "nginx": nginx.port}

        print("\n## 1. static files: responses checked before timing")
        check_rows, sizes, notes = [], {}, []
        for label, path, enc in cases:
            bodies = {}
            for name, port in ports.items():
                status, got_enc, body, head = fetch(port, path, enc)
                bodies[name] = body
                sizes[(label, enc, name)] = len(body)
                check_rows.append([f"{label} ({enc or 'identity'})" if name == "immich-lite" else "", name,
                                   status, got_enc, len(body), head])
                if status != 200:
                    notes.append(f"{name} answered {status} for {path} ({enc})")
            if bodies["immich-lite"] != bodies["floor"]:
                notes.append(f"immich-lite and floor bodies differ for {path} ({enc})")
        print(table(["request (Accept-Encoding)", "server", "status", "encoding", "body B", "header B"], check_rows))
        for n in notes:
            print(f"NOTE: {n}")
        print(f"paths: {', '.join(f'{k} = {v}' for k, v in files.items())}")

        for port in ports.values():  # warm-up, untimed
            for _, path, enc in cases[::2]:
                wrk(port, path, enc, 1)

        res: dict[tuple[str, str | None, str], list[dict[str, float]]] = {}
        names = list(ports)
        t0 = time.perf_counter()
        for r in range(args.rounds):
            for label, path, enc in cases:
                order = names[r % 3:] + names[:r % 3]
                if (cases.index((label, path, enc)) % 2):
                    order = order[::-1]
                for name in order:
                    pid = servers[name].pid
                    c0 = cpu_seconds(pid)
                    w = wrk(ports[name], path, enc, args.duration)
                    w["cpu_us"] = (cpu_seconds(pid) - c0) / max(1, w["requests"]) * 1e6
                    res.setdefault((label, enc, name), []).append(w)
        wall = time.perf_counter() - t0
        st = proc_status(srv.pid)
    finally:
        for s in (nginx, floor):
            if s is not None:
                s.stop()
        srv.stop()

    def med(label: str, enc: str | None, name: str, key: str) -> float:
        return median(w[key] for w in res[(label, enc, name)])

    rows, ratios_floor, ratios_nginx, problems = [], [], [], []
    for label, _path, enc in cases:
        lite = med(label, enc, "immich-lite", "rps")
        for name in names:
            rps = med(label, enc, name, "rps")
            bad = sum(w["bad"] + w["errors"] for w in res[(label, enc, name)])
            if bad:
                problems.append(f"{name} {label} ({enc}): {bad} non-2xx/socket errors")
            rows.append([f"{label}, {'br' if enc else 'none'}" if name == "immich-lite" else "", name,
                         sizes[(label, enc, name)], rps, med(label, enc, name, "mbps"),
                         med(label, enc, name, "cpu_us"),
                         "" if name == "immich-lite" else f"{lite / rps:.2f}"])
        ratios_floor.append(lite / med(label, enc, "floor", "rps"))
        ratios_nginx.append(lite / med(label, enc, "nginx", "rps"))
    print(f"\n## 1. static files: wrk -t2 -c16 -d{args.duration}s, median of {args.rounds} round(s), "
          f"servers alternating ({wall:.0f} s)")
    print(table(["request, Accept-Encoding", "server", "body B", "req/s", "MB/s", "CPU us/req",
                 "immich-lite / this"], rows))
    print("(nginx has no brotli: asked for br it sends the identity bytes; MB/s counts all bytes read, headers "
          "included, 1 MB = 10^6 B)")
    for p in problems:
        print(f"NOTE: {p}")
    geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))  # noqa: E731
    summary = {"floor_geo": geo(ratios_floor), "floor_min": min(ratios_floor), "nginx_geo": geo(ratios_nginx),
               "nginx_min": min(ratios_nginx), "rss": st}
    cases_txt = ", ".join(f"{lab} {'br' if enc else 'none'} {rf:.2f}"
                          for (lab, _, enc), rf in zip(cases, ratios_floor, strict=True))
    print(f"immich-lite / floor (req/s): {cases_txt}; geometric mean {summary['floor_geo']:.2f} "
          f"(target >= {TARGET} in every case: {'met' if summary['floor_min'] >= TARGET else 'NOT met'}; "
          f"{sum(r >= TARGET for r in ratios_floor)}/{len(ratios_floor)} cases at or above it)")
    print(f"immich-lite / nginx (req/s): "
          f"{', '.join(f'{x:.2f}' for x in ratios_nginx)}; geometric mean {summary['nginx_geo']:.2f}")
    return problems, summary


# -- part 2: the timeline in Chromium ----------------------------------------------------------------------

PAINT_JS = """([sel, n]) => {
  const inView = i => { const r = i.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth; };
  const done = [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0 && inView(i));
  if (done.length && !window.__benchFirst) window.__benchFirst = performance.now();
  return done.length >= n ? {first: window.__benchFirst, all: performance.now(), count: done.length} : false;
}"""


TIMING_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map(e => ({p: new URL(e.name).pathname, e}));
  const wait = xs => { const w = xs.map(x => x.e.responseStart - x.e.requestStart).sort((a, b) => a - b);
    return w.length ? w[Math.floor(w.length / 2)] : NaN; };
  const app = res.filter(x => x.p.startsWith('/_app/'));
  const thumbs = res.filter(x => x.p.endsWith('/thumbnail'));
  const apis = res.filter(x => x.p.startsWith('/api/'));
  const end = p => { const x = res.find(x => x.p === p); return x ? x.e.responseEnd : NaN; };
  return {dcl: nav ? nav.domContentLoadedEventEnd : NaN, app_n: app.length,
          app_end: Math.max(...app.map(x => x.e.responseEnd)), app_wait: wait(app), api_n: apis.length,
          api_wait: wait(apis), buckets_end: end('/api/timeline/buckets'), bucket_end: end('/api/timeline/bucket'),
          thumb_start: thumbs.length ? Math.min(...thumbs.map(x => x.e.startTime)) : NaN, thumb_wait: wait(thumbs)};
}"""


def ingest(srv: Server, n: int, parallel: int) -> tuple[float, float, dict[str, int], list[str]]:
    t = time.perf_counter()
    bases = [jpeg_bytes(640, 480, seed=900 + 5 * i, q=88, noise=6) for i in range(10)]
    gen = time.perf_counter() - t
    items = []
    start = 1_577_836_800  # 2020-01-01 UTC: days out, BURST photos each, spread evenly over three years
    days = max(1, math.ceil(n / BURST))
    step = 3 * 365 * 86400 // days
    for i in range(n):
        t = start + (i // BURST) * step + 9 * 3600 + (i % BURST) * 600 + (i * 7919) % 300
        date = time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(t))
        items.append((f"web-{i:05d}", bases[i % len(bases)], exif_segment(date, model=f"W{i % 3}")))
    t = time.perf_counter()
    _wall, _nbytes, _lat, failures = Uploader(srv.port, "/api/assets", srv.token, parallel).run(items)
    q = srv.wait_idle(poll=0.5)
    return gen, time.perf_counter() - t, q, failures


class PageWatch:
    def __init__(self, page: Any) -> None:
        self.api = self.bad_count = 0
        self.bad: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)[:160]))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if "/api/" in response.url:
            self.api += 1
            if response.status >= 400:
                self.bad_count += 1
                path = re.sub(r"^https?://[^/]+", "", response.url)
                path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", path)
                self.bad.append(f"{response.status} {response.request.method} {path.split('?')[0]}")


def paint_once(browser: Any, base: str, token: str, first: int, timeout_ms: int,
               settle_ms: int = 300) -> dict[str, Any]:
    ctx = browser.new_context(base_url=base, viewport=VIEWPORT)
    try:
        ctx.add_cookies([{"name": k, "value": v, "url": base}
                         for k, v in (("immich_access_token", token), ("immich_auth_type", "password"),
                                      ("immich_is_authenticated", "true"))])
        page = ctx.new_page()
        watch = PageWatch(page)
        t = time.perf_counter()
        page.goto(SPA_ROUTE, wait_until="commit", timeout=timeout_ms)
        handle = page.wait_for_function(PAINT_JS, arg=[THUMBS, first], polling="raf", timeout=timeout_ms)
        wall = (time.perf_counter() - t) * 1e3
        got = handle.json_value()
        nav = page.evaluate(TIMING_JS)
        page.wait_for_timeout(settle_ms)  # let the requests in flight then answer (for the watch)
        if settle_ms >= 1000:  # calibration: how many decoded thumbnails the viewport shows once settled
            got["count"] = page.evaluate(PAINT_JS, [THUMBS, 1])["count"]
        return {"wall": wall, "first": got["first"], "all": got["all"], "count": got["count"], **nav,
                "api": watch.api, "bad": watch.bad, "errors": watch.errors, "url": page.url}
    finally:
        ctx.close()


def browser_part(args: argparse.Namespace, tmp: Path) -> tuple[list[str], dict[str, Any]]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    problems: list[str] = []
    srv = Server(extra_args=["--web-root", str(WEB)])
    nginx = None
    try:
        srv.start()
        srv.login_admin()
        for method, path in (("POST", "/api/system-metadata/admin-onboarding"), ("PUT", "/api/users/me/onboarding")):
            status, body = srv.request(method, path, {"isOnboarded": True})
            if status >= 400:
                problems.append(f"{method} {path}: {status} {body}")
        gen, took, q, failures = ingest(srv, args.assets, args.parallel)
        thumbs = sum(1 for _ in srv.data_dir.rglob("*.webp"))
        status, buckets = srv.request("GET", "/api/timeline/buckets?visibility=timeline&withStacked=true")
        months = len(buckets) if status == 200 else f"HTTP {status}"
        print(f"\n## 2. timeline paint: {args.assets} photos 640x480 (10 generated bases in {gen:.1f} s), uploaded by "
              f"{args.parallel} uploaders + jobs drained in {took:.1f} s; {thumbs} thumbnails on disk, "
              f"{months} month buckets; failed jobs {q.get('failed', 0)}; upload failures {len(failures)}")
        if failures:
            problems.append(f"upload failures: {len(failures)} (first: {failures[0]})")
        rss_ingest = proc_status(srv.pid)
        nginx = Nginx(tmp / "nginx-front", WEB, srv.port)
        sides = {"immich-lite": f"http://127.0.0.1:{srv.port}", "nginx in front": f"http://127.0.0.1:{nginx.port}"}
        res: dict[str, list[dict[str, Any]]] = {k: [] for k in sides}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
            try:
                version = browser.version
                # warm-up (the server's caches, not the browser's), and how many thumbnails fit the viewport
                fits = min(paint_once(browser, base, srv.token, 1, 60_000, settle_ms=4000)["count"]
                           for base in sides.values())
                first = min(args.first, fits)
                names = list(sides)
                for r in range(args.paint_rounds):
                    for name in (names if r % 2 == 0 else names[::-1]):
                        try:
                            res[name].append(paint_once(browser, sides[name], srv.token, first, 60_000))
                        except Exception as e:  # noqa: BLE001 -- a timeout is reported, not raised
                            problems.append(f"{name} round {r + 1}: {type(e).__name__}: {str(e)[:200]}")
            finally:
                browser.close()
        st = proc_status(srv.pid)
    finally:
        if nginx is not None:
            nginx.stop()
        srv.stop()

    rows, steps = [], []
    for name, runs in res.items():
        if not runs:
            rows.append([name, 0, "", "", "", ""])
            continue
        m = lambda k, runs=runs: median(r[k] for r in runs)  # noqa: E731
        rows.append([name, len(runs), m("wall"), m("all"), m("first"), " ".join(f"{r['wall']:.0f}" for r in runs)])
        steps.append([name, m("dcl"), f"{m('app_n'):.0f}", m("app_end"), m("app_wait"), m("buckets_end"),
                      m("bucket_end"), m("thumb_start"), f"{m('api_n'):.0f}", m("api_wait"), m("thumb_wait")])
        for r in runs:
            for line in sorted(set(r["bad"])):
                problems.append(f"{name}: {line} (x{r['bad'].count(line)})")
            problems.extend(f"{name}: page error: {e}" for e in r["errors"])
    problems = list(dict.fromkeys(problems))
    print(f"Chromium {version}, viewport {VIEWPORT['width']}x{VIEWPORT['height']}, new context per round (cold "
          f"cache); F = {first} thumbnails (asked {args.first}; the settled viewport shows {fits})")
    print(table(["served by", "rounds", f"goto -> {first} decoded ms", f"nav -> {first} ms",
                 "nav -> first ms", "rounds ms (goto)"], rows))
    print("(goto: wall time in the script from page.goto to the condition seen; nav: the page's performance.now() "
          "when the condition first held, from navigation start)")
    print("\nwhere the time goes (medians over rounds; ms from navigation start, Resource Timing):")
    print(table(["served by", "DOMContentLoaded", "/_app files", "last /_app end", "/_app wait", "buckets end",
                 "1st bucket end", "1st thumb asked", "API requests", "API wait", "thumb wait"], steps))
    print("(wait: median time from request sent to the first response byte, per request)")
    summary = {"lite": median(r["wall"] for r in res["immich-lite"]),
               "nginx": median(r["wall"] for r in res["nginx in front"]), "rss": st, "rss_ingest": rss_ingest,
               "rounds": len(res["immich-lite"]), "first": first}
    return problems, summary


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "--floor-server":
        asyncio.run(_floor_main(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="wrk 1 s x 1 round; 100 photos, 2 paint rounds")
    ap.add_argument("--rounds", type=int, default=None, help="wrk rounds per server (default 3, quick 1)")
    ap.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 4, quick 1)")
    ap.add_argument("--assets", type=int, default=None, help="photos in the timeline (default 1000, quick 100)")
    ap.add_argument("--paint-rounds", type=int, default=None, help="browser rounds per side (default 5, quick 2)")
    ap.add_argument("--first", type=int, default=20, help="thumbnails that make the first paint (default 20)")
    ap.add_argument("--parallel", type=int, default=3, help="uploaders")
    ap.add_argument("--skip-static", action="store_true")
    ap.add_argument("--skip-browser", action="store_true")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (1 if args.quick else 4)
    args.assets = args.assets or (100 if args.quick else 1000)
    args.paint_rounds = args.paint_rounds or (2 if args.quick else 5)

    version = "?"
    try:
        version = __import__("json").loads((WEB / "_app" / "version.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        pass
    print(f"# web: {machine()}; web app {WEB} (version {version}); loadavg {os.getloadavg()[0]:.1f}")
    if not (WEB / "index.html").is_file():
        print(f"no web build at {WEB} (set IMMICH_LITE_WEB): nothing to measure")
        print("\nSUMMARY web: skipped (no web build)")
        return 0
    have_wrk = shutil.which("wrk") is not None
    have_nginx = Path(NGINX).is_file()
    if not have_wrk:
        print("wrk not found: install it with `apt-get install -y wrk` (Debian package wrk); "
              "skipping the static-file part")
    if not have_nginx:
        print("nginx not found: install it with `apt-get install -y nginx`; skipping both anchored parts")
    try:
        import playwright.sync_api  # noqa: F401, PLC0415
        have_pw = Path(CHROMIUM).is_file()
    except ImportError:
        have_pw = False
    if not have_pw:
        print(f"Playwright (venv) or {CHROMIUM} missing (`apt-get install -y chromium`): skipping the browser part")

    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    problems: list[str] = []
    s1 = s2 = None
    t0 = time.perf_counter()
    try:
        if have_wrk and have_nginx and not args.skip_static:
            p, s1 = static_part(args, tmp)
            problems += p
        if have_pw and have_nginx and not args.skip_browser:
            p, s2 = browser_part(args, tmp)
            problems += p
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rss_rows = []
    if s1:
        rss_rows.append(["immich-lite after the wrk runs", mib(s1["rss"].get("VmRSS", 0)),
                         mib(s1["rss"].get("VmHWM", 0))])
    if s2:
        rss_rows.append(["immich-lite after the ingest", mib(s2["rss_ingest"].get("VmRSS", 0)),
                         mib(s2["rss_ingest"].get("VmHWM", 0))])
        rss_rows.append(["immich-lite after the browser rounds", mib(s2["rss"].get("VmRSS", 0)),
                         mib(s2["rss"].get("VmHWM", 0))])
    if rss_rows:
        print()
        print(table(["server process", "VmRSS MiB", "VmHWM MiB"], rss_rows))
    if problems:
        print("\nproblems seen (reported, not asserted):")
        for p in problems:
            print(f"  - {p}")

    parts = []
    if s1:
        parts.append(f"static req/s immich-lite/floor {s1['floor_geo']:.2f} geomean (min {s1['floor_min']:.2f}; "
                     f"target >= {TARGET} {'met' if s1['floor_min'] >= TARGET else 'NOT met'}), "
                     f"immich-lite/nginx {s1['nginx_geo']:.2f}")
    if s2:
        parts.append(f"/photos -> {s2['first']} thumbnails ({args.assets} assets) {s2['lite']:.0f} ms vs "
                     f"{s2['nginx']:.0f} ms with nginx in front (median of {s2['rounds']})")
        parts.append(f"RSS {mib(s2['rss'].get('VmRSS', 0)):.0f} MiB")
    print(f"\nSUMMARY web: {'; '.join(parts) or 'nothing measured'}; {len(problems)} problem(s); "
          f"{time.perf_counter() - t0:.0f} s; loadavg {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
