"""Server memory (RSS) through a photo ingest: idle, after 100 API requests, peak while ingesting, after drain.

    .venv/bin/python bench/ingest_rss.py [--quick] [--photos N] [--parallel 3]

A fresh `immich-lite serve` on 127.0.0.1 (temp data dir, default settings: 2 job workers).  Steps:
  1. idle RSS 2 s after /api/server/ping first answers;
  2. admin sign-up + login, then 100 GET requests the apps make at start (server info, users/me, timeline
     buckets, albums, statistics, queues, ...); RSS after;
  3. ingest: N generated 1024x768 JPEGs (10 photo-like bases, each upload with its own Exif APP1 -- Make,
     Model, DateTimeOriginal, CreateDate -- and a unique COM segment) through POST /api/assets from 3 parallel
     uploaders; the jobs (exiftool metadata, preview + thumbnail + thumbhash) run as they arrive;
  4. wait until GET /api/queues shows nothing active/waiting/delayed; RSS after, and again after 5 s idle.
A sampler thread reads /proc/<pid>/status VmRSS every 50 ms during steps 3-4; VmHWM (the kernel's high-water
mark) is reported as well.  The exiftool child (perl, a separate process) is reported on its own line.
Reference (anchor): the RSS of a bare `python -c "import immich_lite.app"` (and of `python -c pass`),
measured in the same run.  --quick: 100 photos.  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (PY, REPO, Server, Uploader, children, exif_segment, jpeg_bytes, machine, mib,  # noqa: E402
                     proc_status, table)

API_PATHS = [
    "/api/server/ping", "/api/server/version", "/api/server/features", "/api/server/config", "/api/server/about",
    "/api/server/media-types", "/api/server/storage", "/api/server/statistics", "/api/users/me",
    "/api/users/me/preferences", "/api/timeline/buckets?size=MONTH", "/api/albums", "/api/assets/statistics",
    "/api/queues", "/api/notifications", "/api/partners?direction=shared-by", "/api/system-config", "/api/users",
]
BARE = "import os; {imp}; print(open('/proc/self/status').read())"


def bare_rss(statement: str) -> dict[str, int]:
    out = subprocess.run([PY, "-c", BARE.format(imp=statement)], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    vals = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0])
    return vals


class Sampler(threading.Thread):
    """VmRSS of the server (and of its children) every `interval` s; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.child_peak = self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, proc_status(self.pid).get("VmRSS", 0))
            self.child_peak = max([self.child_peak] + [proc_status(c).get("VmRSS", 0) for c in children(self.pid)])
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 photos instead of 1000")
    ap.add_argument("--photos", type=int, default=None)
    ap.add_argument("--parallel", type=int, default=3)
    args = ap.parse_args()
    n = args.photos or (100 if args.quick else 1000)
    print(f"# ingest_rss: {machine()}; {n} photos 1024x768, {args.parallel} parallel uploaders")

    anchor_imp = bare_rss("import immich_lite.app")
    anchor_py = bare_rss("pass")

    t = time.perf_counter()
    bases = [jpeg_bytes(1024, 768, seed=500 + 3 * i, q=90, noise=6) for i in range(10)]
    print(f"# generated 10 base JPEGs, {sum(map(len, bases)) / len(bases) / 1e3:.0f} kB avg, "
          f"in {time.perf_counter() - t:.1f} s")

    rows: list[list[object]] = []
    srv = Server()
    try:
        srv.start()
        time.sleep(2)
        st = proc_status(srv.pid)
        rows.append(["idle after start", mib(st["VmRSS"]), mib(st["VmHWM"]), ""])
        srv.login_admin()
        conn = srv.conn()
        bad = 0
        for i in range(100):
            status, _ = srv.request("GET", API_PATHS[i % len(API_PATHS)], conn=conn)
            bad += status != 200
        conn.close()
        st = proc_status(srv.pid)
        rows.append(["after 100 API requests", mib(st["VmRSS"]), mib(st["VmHWM"]),
                     f"{bad} non-200" if bad else "all 200"])

        items = []
        for i in range(n):
            day = 1 + i % 28
            date = f"20{10 + i % 12:02d}:{1 + i % 12:02d}:{day:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
            items.append((f"ingest-{i:05d}", bases[i % len(bases)], exif_segment(date, model=f"B{i % 3}")))
        sampler = Sampler(srv.pid)
        sampler.start()
        t0 = time.perf_counter()
        wall, nbytes, _lat, failures = Uploader(srv.port, "/api/assets", srv.token, args.parallel).run(items)
        st = proc_status(srv.pid)
        rows.append([f"after {n} uploads (jobs still running)", mib(st["VmRSS"]), mib(st["VmHWM"]),
                     f"uploads took {wall:.1f} s"])
        q = srv.wait_idle(poll=0.5)
        ingest = time.perf_counter() - t0
        sampler.stop()
        st = proc_status(srv.pid)
        rows.append(["peak during ingest (50 ms samples)", mib(sampler.peak), "", f"{sampler.samples} samples"])
        rows.append(["after queues drained", mib(st["VmRSS"]), mib(st["VmHWM"]), f"ingest {ingest:.1f} s"])
        time.sleep(5)
        st = proc_status(srv.pid)
        rows.append(["after drain + 5 s idle", mib(st["VmRSS"]), mib(st["VmHWM"]), f"{st.get('Threads')} threads"])
        rows.append(["exiftool child (perl), peak", mib(sampler.child_peak), "", "separate process"])
        thumbs = sum(1 for _ in srv.data_dir.rglob("*.webp"))
        previews = sum(1 for p in srv.data_dir.rglob("*.jp*g") if "preview" in p.name)
    finally:
        srv.stop()

    rows.append(["anchor: python -c 'import immich_lite.app'", mib(anchor_imp["VmRSS"]), mib(anchor_imp["VmHWM"]),
                 "reference"])
    rows.append(["python -c pass", mib(anchor_py["VmRSS"]), mib(anchor_py["VmHWM"]), "reference"])
    print()
    print(table(["server process", "VmRSS MiB", "VmHWM MiB", "note"], rows))
    print(f"\ningest: {n} photos, {nbytes / 1e6:.0f} MB, {ingest:.1f} s ({n / ingest:.1f} photos/s incl. jobs); "
          f"{thumbs} thumbnails (.webp) and {previews} previews on disk; failed jobs {q.get('failed', 0)}; "
          f"upload failures {len(failures)}{' (first: ' + failures[0] + ')' if failures else ''}")
    peak = max(sampler.peak, st["VmHWM"])
    print(f"\nSUMMARY ingest_rss: {n} photos -> peak RSS {mib(peak):.0f} MiB (VmHWM), "
          f"{mib(st['VmRSS']):.0f} MiB after drain+idle, idle {rows[0][1]:.0f} MiB; "
          f"bare import {mib(anchor_imp['VmRSS']):.0f} MiB -> peak/bare {peak / anchor_imp['VmRSS']:.1f}x; "
          f"loadavg {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
