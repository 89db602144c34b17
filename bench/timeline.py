"""Timeline latency: GET /api/timeline/buckets and /api/timeline/bucket on a 100,000-asset library.

    .venv/bin/python bench/timeline.py [--quick] [--assets N] [--big-month 3000] [--rounds 50]

Library: one user, N assets (default 100,000; --quick 10,000) spread over the 20 years 2006-2025, with one
"big" month (2019-07) topped up to about --big-month assets (default 3,000), written straight into the DB of a
fresh data dir in one write transaction through immich_lite.repos.asset.insert/upsert_exif, i.e. in the
columns and formats the app itself writes (times 'YYYY-MM-DDTHH:MM:SS.mmmZ', local_date_time = the wall clock
labelled Z, offsets from -07:00 to +09:00 including +05:30).  Mix: 7% videos, 4% favourites, 3% archived,
1% trashed, 0.3% locked, ~1% in stacks of 3, 45% with GPS + city/country, a 25-byte thumbhash each.

Server: the real `immich-lite serve` (hypercorn) on 127.0.0.1, admin signed up; requests over one
keep-alive http.client connection; medians over --rounds after 5 warm-up calls.  Each request is measured
three ways in the same run:
  HTTP     -- wall time of the request against the live server (what a client sees); "server CPU" is the
              server process's CPU time per request over the same calls (steadier on a busy machine);
  service  -- services.timeline in this process on the same DB (access checks + SQL + JSON, no HTTP);
  SQL JSON -- the query the service runs (repos.timeline.time_buckets_sql / time_bucket_sql: for a bucket,
              SQLite folds the rows into the JSON arrays itself, as upstream's to_json(array_agg));
  raw SQL  -- the anchor: a plain SELECT of the same rows and columns (repos.timeline.rows_sql), executed and
              fetched into Python tuples -- what any implementation must at least do to read this data.
Targets: buckets <= 20 ms, a ~3,000-asset bucket <= 40 ms (HTTP median).  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, cpu_seconds, machine, median, table  # noqa: E402

TARGETS = {"buckets": 20.0, "bucket": 40.0}
BIG_MONTH = (2019, 7)
START, YEARS = datetime(2006, 1, 1, tzinfo=timezone.utc), 20
OFFSETS = [(-7, 5), (-5, 10), (0, 10), (1, 25), (2, 25), (5.5, 5), (9, 10)]  # (hours, weight)
PLACES = [(48.8566, 2.3522, "Paris", "Île-de-France", "France"), (35.6762, 139.6503, "Tokyo", "Tokyo", "Japan"),
          (40.7128, -74.006, "New York", "New York", "United States of America"),
          (52.52, 13.405, "Berlin", "Land Berlin", "Germany"), (43.4674, 11.8851, "Arezzo", "Tuscany", "Italy")]
SIZES = [(4032, 3024), (3024, 4032), (1920, 1080), (4000, 3000), (1080, 1920)]


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _taken(rng: random.Random, big: bool) -> datetime:
    if big:
        start = datetime(*BIG_MONTH, 1, tzinfo=timezone.utc) + timedelta(days=1)  # whole month, any offset
        return start + timedelta(seconds=rng.uniform(0, 28 * 86400))
    return START + timedelta(seconds=rng.uniform(0, YEARS * 365.2425 * 86400))


def generate(db: Any, owner_id: str, n: int, big: int, seed: int = 42) -> dict[str, int]:
    """Insert n assets (big of them in BIG_MONTH) for owner_id in one write transaction."""
    from immich_lite.repos import asset as asset_repo  # noqa: PLC0415

    rng = random.Random(seed)
    offsets = [o for o, w in OFFSETS for _ in range(w)]
    counts = {"assets": 0, "stacks": 0}
    with db.write() as conn:
        i = 0
        while i < n:
            stack_id, members = None, 1
            if rng.random() < 0.0035 and n - i >= 3:  # ~1% of assets end up in stacks of 3
                stack_id, members = str(uuid.uuid4()), 3
            ids = [str(uuid.uuid4()) for _ in range(members)]
            if stack_id:
                now = _iso(datetime.now(timezone.utc))
                conn.execute("INSERT INTO stack (id, owner_id, primary_asset_id, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?)", (stack_id, owner_id, ids[0], now, now))
                counts["stacks"] += 1
            taken = _taken(rng, i < big)
            for k, asset_id in enumerate(ids):
                utc = taken + timedelta(seconds=k)
                off = rng.choice(offsets)
                local = utc + timedelta(hours=off)
                created = utc + timedelta(days=rng.uniform(0, 30))
                video = rng.random() < 0.07
                w, h = rng.choice(SIZES)
                r = rng.random()
                visibility = "archive" if r < 0.03 else "locked" if r < 0.033 else "timeline"
                trashed = rng.random() < 0.01
                asset_repo.insert(
                    conn, id=asset_id, owner_id=owner_id, type="VIDEO" if video else "IMAGE",
                    original_path=f"upload/{owner_id}/{asset_id[:2]}/{asset_id[2:4]}/{asset_id}.jpg",
                    original_file_name=f"IMG_{i + k:06d}.{'mp4' if video else 'jpg'}", checksum=os.urandom(20),
                    file_created_at=_iso(utc), file_modified_at=_iso(utc), local_date_time=_iso(local),
                    created_at=_iso(created), updated_at=_iso(created), is_favorite=int(rng.random() < 0.04),
                    visibility=visibility, deleted_at=_iso(created) if trashed else None,
                    status="trashed" if trashed else "active", width=w, height=h, thumbhash=os.urandom(25),
                    duration=rng.randint(1000, 120_000) if video else None, stack_id=stack_id)
                exif: dict[str, Any] = {"file_size_in_byte": rng.randint(500_000, 8_000_000),
                                        "exif_image_width": w, "exif_image_height": h,
                                        "date_time_original": _iso(utc), "time_zone": f"UTC{off:+g}"}
                if rng.random() < 0.45:
                    lat, lon, city, state, country = rng.choice(PLACES)
                    exif.update(latitude=lat + rng.uniform(-0.1, 0.1), longitude=lon + rng.uniform(-0.1, 0.1),
                                city=city, state=state, country=country)
                asset_repo.upsert_exif(conn, asset_id, **exif)
            i += members
            counts["assets"] += members
    return counts


def _timed(fn: Any, rounds: int) -> tuple[list[float], Any]:
    out = None
    for _ in range(5):
        out = fn()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return samples, out


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 assets")
    ap.add_argument("--assets", type=int, default=None)
    ap.add_argument("--big-month", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    args = ap.parse_args()
    n = args.assets or (10_000 if args.quick else 100_000)
    big = max(0, min(args.big_month - round(n / (YEARS * 12)), n))  # extra assets on top of the month's share

    from immich_lite.auth import AuthContext  # noqa: PLC0415
    from immich_lite.config import Settings  # noqa: PLC0415
    from immich_lite.ctx import Ctx  # noqa: PLC0415
    from immich_lite.db import Database  # noqa: PLC0415
    from immich_lite.repos import timeline as trepo  # noqa: PLC0415
    from immich_lite.services import timeline as tsvc  # noqa: PLC0415
    from immich_lite.storage import Storage  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="immich-lite-timeline-"))
    data = root / "data"
    server = Server(data_dir=data)
    try:
        server.start()
        server.login_admin()
        _, me = server.request("GET", "/api/users/me")
        storage = Storage(data)
        db = Database(storage.db_path)
        t = time.perf_counter()
        counts = generate(db, me["id"], n, big)
        gen_s = time.perf_counter() - t
        user = db.reader().execute('SELECT * FROM "user" WHERE id = ?', (me["id"],)).fetchone()
        auth = AuthContext(user=user, permissions=frozenset({"all"}))
        ctx = Ctx(settings=Settings(data_dir=str(data)), db=db, storage=storage)
        month = f"{BIG_MONTH[0]}-{BIG_MONTH[1]:02d}-01"
        main_page = {"visibility": "timeline", "withStacked": True, "withPartners": True}
        cases = [
            ("buckets", "buckets (no filter)", {}),
            ("buckets", "buckets (web /photos)", main_page),
            ("bucket", f"bucket {month} (no filter)", {"timeBucket": month}),
            ("bucket", f"bucket {month} (web /photos)", {"timeBucket": month, **main_page}),
        ]
        conn = server.conn()
        rows = []
        for kind, label, q in cases:
            qs = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in q.items())
            path = f"/api/timeline/{kind}" + (f"?{qs}" if qs else "")

            def http_call(path: str = path) -> tuple[int, int]:
                conn.request("GET", path, headers={"Authorization": f"Bearer {server.token}"})
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 200, (resp.status, body[:200])
                return resp.status, len(body)

            cpu0 = cpu_seconds(server.pid)
            http, (_, size) = _timed(http_call, args.rounds)
            server_cpu = (cpu_seconds(server.pid) - cpu0) * 1000 / (args.rounds + 5)
            if kind == "buckets":
                svc, result = _timed(lambda q=q: tsvc.get_time_buckets(ctx, auth, q), args.rounds)
                items = f"{len(result)} months"
            else:
                svc, result = _timed(lambda q=q: tsvc.get_time_bucket(ctx, auth, q), args.rounds)
                items = f"{len(json.loads(result)['id'])} assets"
            with db.read() as rconn:
                f = tsvc._checks(rconn, auth, dict(q))
            rconn = db.reader()
            if kind == "buckets":  # the one query is already the raw GROUP BY
                raw_sql = json_sql = trepo.time_buckets_sql(f)
            else:
                raw_sql, json_sql = trepo.rows_sql(month[:7], f), trepo.time_bucket_sql(month[:7], f)
            raw, _ = _timed(lambda: trepo._tuples(rconn, *raw_sql), args.rounds)
            agg = raw if json_sql is raw_sql else _timed(lambda: trepo._tuples(rconn, *json_sql), args.rounds)[0]
            rows.append([label, items, f"{size / 1024:.0f} KiB", median(http), _p95(http), server_cpu, median(svc),
                         median(agg), median(raw), f"<= {TARGETS[kind]:.0f}",
                         "yes" if median(http) <= TARGETS[kind] else "NO"])
        conn.close()
        print(f"\nTimeline bench: {counts['assets']:,} assets ({counts['stacks']} stacks), one user, 20 years; "
              f"~{args.big_month:,} in {month[:7]}; generated in {gen_s:.1f} s; {machine()}; "
              f"load average {os.getloadavg()[0]:.1f}")
        print(table(["request", "items", "body", "HTTP ms", "HTTP p95", "server CPU ms", "service ms", "SQL JSON ms",
                     "raw SQL ms", "target", "met"], rows))
        db.close()
    finally:
        server.stop()
        if args.keep:
            print(f"data dir kept: {data}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
