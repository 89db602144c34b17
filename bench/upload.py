"""Upload throughput: POST /api/assets on a live `immich-lite serve` vs a plain socket-to-file HTTP server.

    .venv/bin/python bench/upload.py [--quick] [--files N] [--rounds N] [--parallel 3]

Client (both sides): 3 threads (like the mobile app's parallel uploads), one keep-alive http.client connection
each, sending the multipart/form-data body the apps send (tests/helpers/upload.py fields), streamed in 256 KiB
writes.  Files: ~5 MB 4000x3000 JPEGs generated at the start; every upload gets a unique COM segment, so
every body has unique bytes (no duplicate short-cut) and both servers receive bodies of the same sizes.

immich-lite: fresh temp data dir, admin signed up + logged in, bearer token.  Measured two ways:
  * jobs paused  -- metadataExtraction + thumbnailGeneration queues paused (PUT /api/queues/{name}), so the
                    figure is the upload path alone (parse, SHA-1, temp file + fsync, DB insert, rename);
                    this is the figure compared with the anchor;
  * jobs running -- the realistic case: the background jobs (exiftool, thumbnails) share the 2 cores.
Anchor, same run: a minimal asyncio HTTP/1.1 server (this file, --anchor-server) in its own process that reads
each request body in 1 MiB chunks straight to a file and fsyncs it (no parsing, no hashing, no database).
MB/s = file payload bytes (1 MB = 10^6 B) / wall time of the batch; median over rounds, sides alternating.
Target: immich-lite (jobs paused) / anchor >= 0.7.  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (PY, Server, Uploader, cpu_seconds, free_port, jpeg_bytes, machine, median,  # noqa: E402
                     table)

TARGET = 0.7
JOB_QUEUES = ("metadataExtraction", "thumbnailGeneration")


# -- the anchor: socket -> file, fsync ------------------------------------------------------------------

async def _anchor_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, folder: Path,
                       counter: list[int]) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            counter[0] += 1
            path = folder / f"{os.getpid()}-{counter[0]}.upload"
            with open(path, "wb") as fh:
                left = length
                while left:
                    chunk = await reader.read(min(left, 1024 * 1024))
                    if not chunk:
                        return
                    fh.write(chunk)
                    left -= len(chunk)
                fh.flush()
                await asyncio.to_thread(os.fsync, fh.fileno())
            body = b'{"status":"created"}'
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    finally:
        writer.close()


async def _anchor_main(port: int, folder: Path) -> None:
    counter = [0]
    server = await asyncio.start_server(lambda r, w: _anchor_conn(r, w, folder, counter), "127.0.0.1", port,
                                        limit=64 * 1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


class Anchor:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc = subprocess.Popen([PY, __file__, "--anchor-server", str(self.port), str(folder)],
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("anchor server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--anchor-server":
        asyncio.run(_anchor_main(int(sys.argv[2]), Path(sys.argv[3])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="9 files x 2 rounds")
    ap.add_argument("--files", type=int, default=None, help="uploads per round (default 30, quick 9)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds per side (default 3, quick 2)")
    ap.add_argument("--parallel", type=int, default=3)
    args = ap.parse_args()
    n = args.files or (9 if args.quick else 30)
    rounds = args.rounds or (2 if args.quick else 3)

    print(f"# upload: {machine()}; {n} files x {rounds} rounds per side, {args.parallel} parallel uploaders; "
          f"loadavg {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    anchor = srv = None
    try:
        t = time.perf_counter()
        bases = [jpeg_bytes(4000, 3000, seed=11 + 5 * i, noise=8.5) for i in range(3)]
        avg = sum(map(len, bases)) / len(bases) / 1e6
        print(f"# generated 3 base JPEGs 4000x3000 Q93 ({avg:.2f} MB avg) in {time.perf_counter() - t:.1f} s; "
              f"data on {work} ({os.statvfs(work).f_bsize} B blocks)")
        (work / "anchor").mkdir()
        anchor = Anchor(work / "anchor")
        srv = Server(data_dir=work / "immich").start()
        srv.login_admin()
        srv.set_paused(JOB_QUEUES, True)
        up_anchor = Uploader(anchor.port, "/upload", None, args.parallel)
        up_immich = Uploader(srv.port, "/api/assets", srv.token, args.parallel)

        def batch(tag: str) -> list[tuple[object, ...]]:
            return [(f"{tag}-{i:04d}", bases[i % len(bases)]) for i in range(n)]

        # warm-up (connections, imports, first DB writes); not timed
        up_anchor.run(batch("warm-a")[:args.parallel])
        bad = up_immich.run(batch("warm-i")[:args.parallel])[3]
        if bad:
            raise RuntimeError(f"immich-lite upload failed: {bad[0]}")

        res: dict[str, list[tuple[float, int, list[float]]]] = {"anchor": [], "paused": [], "running": []}
        cpu: dict[str, list[float]] = {"anchor": [], "paused": [], "running": []}  # server CPU s per batch
        failures: list[str] = []
        for r in range(rounds):
            for side in (("anchor", "paused") if r % 2 == 0 else ("paused", "anchor")):
                up = up_anchor if side == "anchor" else up_immich
                pid = anchor.proc.pid if side == "anchor" else srv.pid
                c0 = cpu_seconds(pid)
                wall, nbytes, lat, bad = up.run(batch(f"{side}-r{r}"))
                cpu[side].append(cpu_seconds(pid) - c0)
                failures += bad
                res[side].append((wall, nbytes, lat))
                shutil.rmtree(work / "anchor")
                (work / "anchor").mkdir()
            print(f"# round {r + 1}/{rounds} done", file=sys.stderr)

        # let the paused backlog run, then measure uploads while the jobs work
        srv.set_paused(JOB_QUEUES, False)
        t = time.perf_counter()
        backlog = srv.wait_idle()["max_pending"]
        drain_backlog = time.perf_counter() - t
        c0 = cpu_seconds(srv.pid)
        wall, nbytes, lat, bad = up_immich.run(batch("running"))
        cpu["running"].append(cpu_seconds(srv.pid) - c0)
        failures += bad
        res["running"].append((wall, nbytes, lat))
        t = time.perf_counter()
        srv.wait_idle()
        end_to_end = wall + time.perf_counter() - t

        def mbps(side: str) -> float:
            return median(nb / w / 1e6 for w, nb, _ in res[side])

        a, p, run = mbps("anchor"), mbps("paused"), mbps("running")
        # the same-round ratio is steadier than a ratio of medians when other load comes and goes
        per_round = [(nb_p / w_p) / (nb_a / w_a) for (w_p, nb_p, _), (w_a, nb_a, _) in zip(res["paused"], res["anchor"])]

        def lat_ms(side: str) -> str:
            return f"{1000 * median(x for _, _, lats in res[side] for x in lats):.0f}"

        def cpu_ms(side: str) -> str:
            return f"{1000 * median(cpu[side]) / n:.1f}"

        rows = [
            ["anchor: asyncio socket->file+fsync", rounds, f"{a:.1f}", lat_ms("anchor"), cpu_ms("anchor"), "1.00"],
            ["immich-lite, jobs paused", rounds, f"{p:.1f}", lat_ms("paused"), cpu_ms("paused"), f"{p / a:.2f}"],
            ["immich-lite, jobs running", 1, f"{run:.1f}", lat_ms("running"), cpu_ms("running"), f"{run / a:.2f}"],
        ]
        print()
        print(table(["server", "rounds", "MB/s (median)", "ms/upload (median)", "server CPU ms/upload",
                     "ratio to anchor"], rows))
        print("(server CPU = utime+stime of the server process during the batch / uploads; with jobs running it "
              "includes the thumbnail/metadata work done meanwhile, not exiftool's own process)")
        print(f"\nsame-round ratios (jobs paused / anchor): {', '.join(f'{x:.2f}' for x in per_round)} "
              f"-> median {median(per_round):.2f}")
        print(f"files/round: {n}, payload {res['anchor'][0][1] / 1e6:.0f} MB/round; "
              f"backlog of {backlog} jobs (paused rounds) drained in {drain_backlog:.1f} s; "
              f"jobs running: {n} uploads + their jobs done in {end_to_end:.1f} s "
              f"({n / end_to_end:.2f} photos/s end to end)")
        if failures:
            print(f"FAILED uploads: {len(failures)}; first: {failures[0]}")
        verdict = "meets" if p / a >= TARGET else "BELOW"
        print(f"\nSUMMARY upload: immich-lite {p:.1f} MB/s (jobs paused) vs anchor {a:.1f} MB/s -> ratio {p / a:.2f} "
              f"({verdict} target >= {TARGET}; median same-round ratio {median(per_round):.2f}); with jobs running {run:.1f} MB/s ({run / a:.2f}); server CPU "
              f"{cpu_ms('paused')} vs {cpu_ms('anchor')} ms/upload; {args.parallel} uploaders, median of {rounds} rounds; "
              f"loadavg {os.getloadavg()[0]:.1f}")
    finally:
        if srv is not None:
            srv.stop()
        if anchor is not None:
            anchor.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
