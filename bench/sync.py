#!/usr/bin/env python3
"""Full v2 sync of a synthetic 100,000-asset library: stream time and server RSS growth.

Builds the library straight into the SQLite file through the app's own repos (same column formats and triggers
as real uploads), then starts `immich-lite serve` on it and streams POST /api/sync/stream with the mobile app's
type list, reading every line as the app would. Anchor, measured in the same run: the time to read the same
rows with one plain SQL query (`SELECT ... FROM asset JOIN asset_exif`) in a fresh process-less connection.
Targets (issue 4): full sync <= 10 s, RSS growth <= +50 MB.

    .venv/bin/python bench/sync.py [--assets 100000] [--quick]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers.inproc import free_port  # noqa: E402
from helpers.mobile import APP_TYPES  # noqa: E402

ADMIN = {"email": "bench@immich.cloud", "name": "Bench", "password": "bench-password"}


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "immich_lite", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data), "--log-level", "warning"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/server/ping", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def build_library(data: Path, owner: str, n: int) -> None:
    from immich_lite import ids
    from immich_lite.db import Database
    from immich_lite.repos import asset as repo

    db = Database(data / "immich-lite.db")
    rnd = random.Random(7)
    start_ts = time.time() - 20 * 365 * 86400
    batch = 5000
    for first in range(0, n, batch):
        with db.write() as conn:
            for i in range(first, min(n, first + batch)):
                aid = ids.new_id()
                when = ids.iso(ids.datetime.fromtimestamp(start_ts + rnd.random() * 20 * 365 * 86400, ids.timezone.utc)) \
                    if hasattr(ids, "datetime") else None
                when = when or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start_ts + rnd.random() * 6.3e8))
                repo.insert(conn, id=aid, owner_id=owner, type="IMAGE", original_path=f"upload/{owner}/{aid}.jpg",
                            original_file_name=f"IMG_{i:06d}.jpg", checksum=hashlib.sha1(aid.encode()).digest(),  # noqa: S324
                            file_created_at=when, file_modified_at=when, local_date_time=when,
                            width=4000, height=3000, thumbhash=os.urandom(24))
                repo.upsert_exif(conn, aid, make="Canon", model="EOS R5", file_size_in_byte=5_000_000,
                                 date_time_original=when, time_zone="UTC+1", latitude=48.1, longitude=11.5,
                                 city="Munich", country="Germany", iso=100, f_number=2.8)
    db.close()


def anchor(data: Path) -> float:
    import apsw

    conn = apsw.Connection(str(data / "immich-lite.db"), flags=apsw.SQLITE_OPEN_READONLY)
    t = time.perf_counter()
    n = 0
    for row in conn.execute("SELECT a.*, e.* FROM asset a JOIN asset_exif e ON e.asset_id = a.id ORDER BY a.update_id"):
        n += len(row)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="10,000 assets")
    args = ap.parse_args()
    n = 10_000 if args.quick else args.assets
    data = Path(tempfile.mkdtemp(prefix="bench-sync-")) / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    proc = start(data, port)
    owner = httpx.post(base + "/api/auth/admin-sign-up", json=ADMIN).json()["id"]
    stop(proc)
    t = time.perf_counter()
    build_library(data, owner, n)
    build_s = time.perf_counter() - t

    proc = start(data, port)
    token = httpx.post(base + "/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]}).json()
    cookies = {"immich_access_token": token["accessToken"]}
    for _ in range(20):  # warm the process as a running server would be
        httpx.get(base + "/api/users/me", cookies=cookies)
    rss_before = rss_kb(proc.pid)
    t = time.perf_counter()
    counts: dict[str, int] = {}
    with httpx.stream("POST", base + "/api/sync/stream", json={"types": APP_TYPES}, cookies=cookies,
                      timeout=300) as r:
        for line in r.iter_lines():
            if line:
                kind = json.loads(line)["type"]
                counts[kind] = counts.get(kind, 0) + 1
    sync_s = time.perf_counter() - t
    peak = rss_kb(proc.pid, "VmHWM")
    stop(proc)
    anchor_s = anchor(data)

    print(f"library: {n} assets built in {build_s:.1f} s")
    print(f"{'measure':40} {'value':>12}")
    print(f"{'full sync time (s)':40} {sync_s:12.2f}")
    print(f"{'lines streamed':40} {sum(counts.values()):12d}")
    print(f"{'anchor: one SQL read of the rows (s)':40} {anchor_s:12.2f}")
    print(f"{'sync / anchor':40} {sync_s / anchor_s:12.1f}")
    print(f"{'server RSS before sync (MB)':40} {rss_before / 1024:12.1f}")
    print(f"{'server peak RSS (VmHWM, MB)':40} {peak / 1024:12.1f}")
    print(f"{'RSS growth during sync (MB)':40} {(peak - rss_before) / 1024:12.1f}")
    print(f"sync-bench: {n} assets, {sync_s:.2f} s full sync (target <= 10 s), "
          f"+{(peak - rss_before) / 1024:.1f} MB peak RSS growth (target <= 50 MB)")
    assert counts.get("AssetV2") == n and counts.get("AssetExifV1") == n, counts


if __name__ == "__main__":
    main()
