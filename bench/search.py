"""Search latency on a 100,000-asset library: metadata search (text + 2 filters), suggestions, explore; index build
time and size; the server's RSS with the index open.

    .venv/bin/python bench/search.py [--quick] [--assets N] [--rounds 40] [--keep]

Library: bench/timeline.py's generator (one user, N assets over 20 years, videos, favourites, archive, trash,
locked, stacks, 45% with a city), then per asset one of 8 cameras (make, model, lens) and, for 35% of them, a
description of 4-9 words drawn from a 2,000-word vocabulary (Zipf-like: a few words are common, most are rare;
some with accents), all written through the repos as the app writes them.

Every figure is a median (and p95) over --rounds after 3 warm-up calls, and is set against an anchor measured in
the same run on the same rows:
  text search   anchors: (1) the plain SQL `LIKE '%term%'` query a server without an index would run for the same
                request (same filters, same order and page: it stops once the page is full, so a common word is
                cheap for it) and (2) the same LIKE over every row (all the matches: what /search/statistics and
                a rare word cost it); ours: the planned query (index candidates + SQL filters + the exact check)
                giving the same page of ids, in-process; plus the whole HTTP request (what the web app waits
                for: 250 assets with their exif, as it asks for) and /search/statistics over HTTP.
  suggestions   anchor: SQL SELECT DISTINCT over the owners' timeline assets (what search falls back to).
  explore       anchor: the same answer from SQL alone (what it falls back to without the index).
Build: a full rebuild in-process (services.search_index._rebuild) and the index's size on disk.
RSS: the server after warming it up without the index (filter-only searches, timeline) against after all the
index-backed requests above. Targets: text <= 30 ms median and >= 10x the anchor; suggestions <= 20 ms; build
<= 30 s; RSS growth <= 30 MB. It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, machine, median, mib, proc_status, table  # noqa: E402
from timeline import _p95, generate  # noqa: E402
from timeline import _timed as timed  # noqa: E402

CAMERAS = [("Canon", "Canon EOS 7D", "EF24-105mm f/4L IS USM"), ("Canon", "Canon EOS R5", "RF24-70mm F2.8 L IS USM"),
           ("Apple", "iPhone 12", "iPhone 12 back dual wide camera 4.2mm f/1.6"),
           ("Apple", "iPhone 15 Pro", "iPhone 15 Pro back triple camera 6.86mm f/1.78"),
           ("SONY", "ILCE-7M3", "FE 24-105mm F4 G OSS"), ("NIKON CORPORATION", "NIKON D750", "24.0-120.0 mm f/4.0"),
           ("FUJIFILM", "X-T4", "XF16-80mmF4 R OIS WR"), ("samsung", "SM-S906U", None)]
REAL = ("beach sunset mountain lighthouse harbour café crème brûlée zürich birthday party dog cat snow lake river "
        "forest night food market cathedral bridge garden picnic wedding concert museum train airport island")
TEXT_QUERIES = [("common word", "beach"), ("rare word", "lighthouse"), ("accented", "creme brulee")]


def vocabulary(rng: random.Random) -> list[str]:
    words = REAL.split()
    syl = ["ka", "lo", "mi", "ran", "te", "su", "vo", "ber", "dal", "gon", "pri", "tas", "nel", "quo", "zem"]
    while len(words) < 2000:
        w = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))
        if w not in words:
            words.append(w)
    return words


def enrich(db: Any, seed: int = 7) -> dict[str, int]:
    """Cameras for every asset, descriptions for 35% (Zipf-like word frequencies)."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (i + 1) for i in range(len(words))]
    uses: dict[str, int] = {}
    with db.write() as conn:
        for row in list(conn.execute("SELECT asset_id FROM asset_exif")):
            asset_id = row["asset_id"]
            make, model, lens = rng.choice(CAMERAS)
            description = ""
            if rng.random() < 0.35:
                picked = rng.choices(words, weights, k=rng.randint(4, 9))
                description = " ".join(picked).capitalize()
                for w in set(picked):
                    uses[w] = uses.get(w, 0) + 1
            conn.execute("UPDATE asset_exif SET make = ?, model = ?, lens_model = ?, description = ? "
                         "WHERE asset_id = ?", (make, model, lens, description, asset_id))
    return uses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 assets, 10 rounds")
    ap.add_argument("--assets", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    n = args.assets or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (10 if args.quick else 40)

    from immich_lite.app import build_ctx  # noqa: PLC0415
    from immich_lite.auth import AuthContext  # noqa: PLC0415
    from immich_lite.config import Settings  # noqa: PLC0415
    from immich_lite.repos import search as srepo  # noqa: PLC0415
    from immich_lite.repos import search_facets as frepo  # noqa: PLC0415
    from immich_lite.services import search as ssvc  # noqa: PLC0415
    from immich_lite.services import search_index  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="immich-lite-search-"))
    data = root / "data"
    server = Server(data_dir=data)
    try:
        server.start()
        server.login_admin()
        _, me = server.request("GET", "/api/users/me")
        server.stop_process()  # the library is written and indexed with the server down, then it is served
        ctx = build_ctx(Settings(data_dir=str(data)))
        t = time.perf_counter()
        counts = generate(ctx.db, me["id"], n, big=0)
        uses = enrich(ctx.db)
        gen_s = time.perf_counter() - t
        idx = search_index.index_of(ctx)
        t = time.perf_counter()
        with idx.lock:
            search_index._rebuild(ctx, idx)
        build_s = time.perf_counter() - t
        size_mb = idx.size_bytes() / 1e6
        idx.close()
        server.start()
        status, body = server.request("POST", "/api/auth/login", {"email": "admin@bench.local",
                                                                  "password": "bench-password"}, auth=False)
        server.token = body["accessToken"]
        server.wait_idle(600)

        user = ctx.db.reader().execute('SELECT * FROM "user" WHERE id = ?', (me["id"],)).fetchone()
        auth = AuthContext(user=user, permissions=frozenset({"all"}))
        conn = server.conn()

        def http(method: str, path: str, body: Any = None, parse: bool = True) -> Any:
            """One request on the keep-alive connection; timed callers pass parse=False (the figure is the wait
            for the last byte, not the client's JSON decoding)."""
            headers = {"Authorization": f"Bearer {server.token}"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            assert resp.status == 200, (resp.status, raw[:300])
            return json.loads(raw) if parse else raw

        # warm the server up without touching the index: filter-only searches, timeline, asset pages
        for _ in range(20):
            http("POST", "/api/search/metadata", {"make": "Canon", "withExif": True})
            http("GET", "/api/timeline/buckets")
            http("POST", "/api/search/statistics", {"isFavorite": True})
        rss_before = proc_status(server.pid)["VmRSS"]

        rows = []
        filters = {"make": "Canon", "takenAfter": "2012-01-01T00:00:00.000Z"}
        for label, term in TEXT_QUERIES:
            dto = {"description": term, **filters}
            hits = http("POST", "/api/search/statistics", dto)["total"]

            def ours(dto: dict[str, Any] = dto) -> list[int]:
                with ctx.db.read() as c:  # what search_metadata runs before mapping the page
                    f = ssvc.build_filter(c, auth, dto, user_ids=[auth.user_id])
                    return ssvc._page(ctx, c, f, dto, 1, 250)

            def anchor(dto: dict[str, Any] = dto, term: str = term) -> list[int]:
                with ctx.db.read() as c:
                    f = ssvc.build_filter(c, auth, {k: v for k, v in dto.items() if k != "description"},
                                          user_ids=[auth.user_id])
                    f.text_sql, f.text_args, f.text_needs_exif = ["e.description LIKE ?"], [f"%{term}%"], True
                    return srepo.page_keys(c, f, page=1, size=250)

            def count_all(dto: dict[str, Any] = dto, term: str = term) -> int:
                with ctx.db.read() as c:  # the LIKE scan over every row: all the matches, as statistics needs
                    f = ssvc.build_filter(c, auth, {k: v for k, v in dto.items() if k != "description"},
                                          user_ids=[auth.user_id])
                    f.text_sql, f.text_args, f.text_needs_exif = ["e.description LIKE ?"], [f"%{term}%"], True
                    return srepo.count(c, f)

            ours_ms, ids = timed(ours, rounds)
            anchor_ms, anchor_ids = timed(anchor, rounds)
            all_ms, _ = timed(count_all, max(3, rounds // 4))
            stats_ms, _ = timed(lambda dto=dto: http("POST", "/api/search/statistics", dto, False), rounds)
            same = "same" if ids == anchor_ids else "differs (accents)"
            http_ms, _ = timed(lambda dto=dto: http("POST", "/api/search/metadata", {**dto, "withExif": True}, False),
                               rounds)
            ratio = median(anchor_ms) / max(median(ours_ms), 1e-6)
            rows.append([f"description '{term}' ({label}) + make + takenAfter", f"{hits:,}", median(ours_ms),
                         _p95(ours_ms), median(anchor_ms), f"{ratio:.0f}x", median(all_ms),
                         f"{median(all_ms) / max(median(ours_ms), 1e-6):.0f}x", same, median(http_ms), _p95(http_ms),
                         median(stats_ms), "<= 30, >= 10x", "yes" if median(http_ms) <= 30 and ratio >= 10 else "NO"])
        web = {"query": "lighthouse", "visibility": "timeline", "page": 1, "withExif": True}
        web_ms, _ = timed(lambda: http("POST", "/api/search/metadata", web, False), rounds)
        res = http("POST", "/api/search/metadata", web)
        rows.append(["web search bar: query 'lighthouse' (words everywhere)", f"{res['assets']['count']:,} (page)",
                     "", "", "", "", "", "", "", median(web_ms), _p95(web_ms), "", "<= 30",
                     "yes" if median(web_ms) <= 30 else "NO"])

        srows = []
        for label, params, field, given in (("country", "type=country", "country", {}),
                                            ("city in a country", "type=city&country=France", "city",
                                             {"country": "France"}),
                                            ("camera model of a make", "type=camera-model&make=Canon", "model",
                                             {"make": "Canon"}),
                                            ("lens", "type=camera-lens-model", "lens", {})):
            ms, _ = timed(lambda p=params: http("GET", f"/api/search/suggestions?{p}", None, False), rounds)
            values = http("GET", f"/api/search/suggestions?{params}")

            def sql(field: str = field, given: dict[str, str] = given) -> list[str]:
                with ctx.db.read() as c:
                    return frepo.distinct_sql(c, [auth.user_id], field, given)

            anchor_ms, _ = timed(sql, rounds)
            srows.append([f"suggestions: {label}", len(values), median(ms), _p95(ms), median(anchor_ms),
                          "<= 20", "yes" if median(ms) <= 20 else "NO"])
        ms, _ = timed(lambda: http("GET", "/api/search/explore", None, False), rounds)
        body = http("GET", "/api/search/explore")

        def explore_sql() -> Any:
            with ctx.db.read() as c:
                return frepo.city_assets_sql(c, [auth.user_id], 5)[:12], frepo.recent_sql(c, auth.user_id, 12)

        anchor_ms, _ = timed(explore_sql, max(3, rounds // 4))
        srows.append(["explore (cities + recents)", sum(len(f["items"]) for f in body), median(ms), _p95(ms),
                      median(anchor_ms), "", ""])
        ms, _ = timed(lambda: http("GET", "/api/search/cities", None, False), rounds)
        body = http("GET", "/api/search/cities")
        srows.append(["cities (Places page)", len(body), median(ms), _p95(ms), "", "", ""])
        rss_after = proc_status(server.pid)["VmRSS"]
        conn.close()

        print(f"\nSearch bench: {counts['assets']:,} assets, one user; {sum(1 for _ in uses):,} description words "
              f"in use; generated in {gen_s:.1f} s; {machine()}")
        print(f"\nIndex build (full, in-process): {build_s:.1f} s for {counts['assets']:,} assets, "
              f"{size_mb:.1f} MB on disk (target <= 30 s)\n")
        print(table(["text search (page of 250)", "matches", "ours ms", "ours p95", "LIKE page ms", "x",
                     "LIKE all ms", "x", "page", "HTTP ms", "HTTP p95", "stats HTTP ms", "target", "met"], rows))
        print()
        print(table(["request", "values", "HTTP ms", "HTTP p95", "SQL anchor ms", "target", "met"], srows))
        grow = mib(rss_after - rss_before)
        print(f"\nServer RSS: {mib(rss_before):.1f} MiB warmed up without the index, {mib(rss_after):.1f} MiB after "
              f"the index-backed requests: +{grow:.1f} MiB (target <= 30)")
        print(f"SUMMARY search: build {build_s:.1f}s {size_mb:.1f}MB; text HTTP {rows[1][9]:.1f}ms "
              f"({rows[1][5]} the LIKE page, {rows[1][7]} the LIKE scan of all rows); suggestions {srows[0][2]:.1f}ms; "
              f"RSS +{grow:.1f}MiB")
        ctx.db.close()
    finally:
        server.stop()
        if args.keep:
            print(f"data dir kept: {data}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
