"""Upload throughput: POST /api/assets on a live `immich-lite serve` vs a plain socket-to-file HTTP server.

    .venv/bin/python bench/upload.py [--quick] [--files N] [--rounds N] [--parallel 3] [--keep-cache]

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
Floor, same run: immich-lite's own HTTP stack (hypercorn + h11, configured as `immich-lite serve`) with a bare
ASGI app (--floor-server) that only SHA-1s and writes the body in a thread and fsyncs: what any upload on this
stack costs before multipart parsing, auth, the database and the rename. immich-lite / floor is the app's share.
Page cache: before every timed batch the script runs sync and, when it may (root), drops the clean page cache
(/proc/sys/vm/drop_caches), so each side starts with no dirty data of another side to write back and writes
into freed memory, as a machine without a hypervisor always does. On a Firecracker VM, writing into memory the
guest has not touched lately costs several times more (host-side faults), and which side met that cost
depended on the order of the batches (README: upload reading). --keep-cache skips the drop.
Target: immich-lite (jobs paused) / anchor >= 0.7.  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
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
    async with server:
        await server.serve_forever()


class Reference:
    """A reference server (`--anchor-server` or `--floor-server`) of this file, in its own process."""

    def __init__(self, flag: str, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc = subprocess.Popen([PY, __file__, flag, str(self.port), str(folder)])
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{flag} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- the floor: immich-lite's HTTP stack with a bare ASGI app ----------------------------------------------

def _floor_app(folder: Path):  # -> ASGI app
    """hypercorn + h11 as `immich-lite serve` configures them, and the least an upload must do: SHA-1 and write
    the body in a thread (1 MiB hand-offs), fsync, answer 201. No multipart parsing, auth, database or rename."""
    import hashlib  # noqa: PLC0415
    import queue  # noqa: PLC0415
    import threading  # noqa: PLC0415

    counter = [0]

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        loop = asyncio.get_running_loop()
        counter[0] += 1
        path = folder / f"{counter[0]}.upload"
        items: queue.SimpleQueue = queue.SimpleQueue()
        done = loop.create_future()

        def write() -> None:
            sha1 = hashlib.sha1()  # noqa: S324
            try:
                with open(path, "wb") as fh:
                    while (item := items.get()) is not None:
                        chunk = b"".join(item)
                        fh.write(chunk)
                        sha1.update(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                loop.call_soon_threadsafe(done.set_result, sha1.hexdigest())
            except BaseException as e:  # noqa: BLE001
                loop.call_soon_threadsafe(done.set_exception, e)

        threading.Thread(target=write, daemon=True).start()
        pending: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                items.put(None)
                return
            if body := msg.get("body", b""):
                pending.append(body)
                size += len(body)
            more = msg.get("more_body", False)
            if size >= 1 << 20 or not more:
                items.put(pending)
                pending, size = [], 0
            if not more:
                break
        items.put(None)
        out = b'{"status":"created","sha1":"' + (await done).encode() + b'"}'
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


async def _floor_main(port: int, folder: Path) -> None:
    from hypercorn.asyncio import serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    from immich_lite.serving import tune_for_uploads  # noqa: PLC0415

    tune_for_uploads()  # as `immich-lite serve`: read size, stream limit, allocator thresholds
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    await serve(_floor_app(folder), config)  # type: ignore[arg-type]


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def settle(drop: bool) -> None:
    """Before a timed batch: write back what earlier batches left dirty, then (if allowed) free the clean cache."""
    os.sync()
    if drop:
        DROP_CACHES.write_text("1\n")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--anchor-server":
        asyncio.run(_anchor_main(int(sys.argv[2]), Path(sys.argv[3])))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        asyncio.run(_floor_main(int(sys.argv[2]), Path(sys.argv[3])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="9 files x 2 rounds")
    ap.add_argument("--files", type=int, default=None, help="uploads per round (default 30, quick 9)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds per side (default 3, quick 2)")
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--keep-cache", action="store_true", help="do not drop the page cache before each batch")
    args = ap.parse_args()
    n = args.files or (9 if args.quick else 30)
    rounds = args.rounds or (2 if args.quick else 3)

    drop = not args.keep_cache and os.access(DROP_CACHES, os.W_OK)
    print(f"# upload: {machine()}; {n} files x {rounds} rounds per side, {args.parallel} parallel uploaders; "
          f"page cache {'dropped' if drop else 'kept (sync only)'} before each batch; loadavg {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    anchor = floor = srv = None
    try:
        t = time.perf_counter()
        bases = [jpeg_bytes(4000, 3000, seed=11 + 5 * i, noise=8.5) for i in range(3)]
        avg = sum(map(len, bases)) / len(bases) / 1e6
        print(f"# generated 3 base JPEGs 4000x3000 Q93 ({avg:.2f} MB avg) in {time.perf_counter() - t:.1f} s; "
              f"data on {work} ({os.statvfs(work).f_bsize} B blocks)")
        (work / "anchor").mkdir()
        (work / "floor").mkdir()
        anchor = Reference("--anchor-server", work / "anchor")
        floor = Reference("--floor-server", work / "floor")
        srv = Server(data_dir=work / "immich").start()
        srv.login_admin()
        srv.set_paused(JOB_QUEUES, True)
        up_anchor = Uploader(anchor.port, "/upload", None, args.parallel)
        up_immich = Uploader(srv.port, "/api/assets", srv.token, args.parallel)
        up_floor = Uploader(floor.port, "/upload", None, args.parallel)

        def batch(tag: str) -> list[tuple[object, ...]]:
            return [(f"{tag}-{i:04d}", bases[i % len(bases)]) for i in range(n)]

        # warm-up (connections, imports, first DB writes); not timed
        up_anchor.run(batch("warm-a")[:args.parallel])
        up_floor.run(batch("warm-f")[:args.parallel])
        bad = up_immich.run(batch("warm-i")[:args.parallel])[3]
        if bad:
            raise RuntimeError(f"immich-lite upload failed: {bad[0]}")

        res: dict[str, list[tuple[float, int, list[float]]]] = {"anchor": [], "floor": [], "paused": [],
                                                                 "running": []}
        cpu: dict[str, list[float]] = {k: [] for k in res}  # server CPU s per batch
        failures: list[str] = []
        order = ("anchor", "floor", "paused")
        for r in range(rounds):
            for side in order[r % 3:] + order[:r % 3]:  # rotate who goes first
                up = {"anchor": up_anchor, "floor": up_floor, "paused": up_immich}[side]
                pid = {"anchor": anchor.proc.pid, "floor": floor.proc.pid, "paused": srv.pid}[side]
                settle(drop)
                c0 = cpu_seconds(pid)
                wall, nbytes, lat, bad = up.run(batch(f"{side}-r{r}"))
                cpu[side].append(cpu_seconds(pid) - c0)
                failures += bad
                res[side].append((wall, nbytes, lat))
                # every side keeps what it stored, as immich-lite does: on this VM, writing into page-cache pages
                # freed a moment ago costs a fraction of writing into never-used memory (host-side faults), so
                # clearing the anchor's folder between rounds handed it cheaper writes (README: upload reading)
            print(f"# round {r + 1}/{rounds} done", file=sys.stderr)

        # let the paused backlog run, then measure uploads while the jobs work
        srv.set_paused(JOB_QUEUES, False)
        t = time.perf_counter()
        backlog = srv.wait_idle()["max_pending"]
        drain_backlog = time.perf_counter() - t
        settle(drop)
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

        a, f, p, run = mbps("anchor"), mbps("floor"), mbps("paused"), mbps("running")
        # the same-round ratio is steadier than a ratio of medians when other load comes and goes
        def same_round(x: str, y: str) -> list[float]:
            return [(nb_x / w_x) / (nb_y / w_y) for (w_x, nb_x, _), (w_y, nb_y, _) in zip(res[x], res[y])]

        per_round = same_round("paused", "anchor")

        def lat_ms(side: str) -> str:
            return f"{1000 * median(x for _, _, lats in res[side] for x in lats):.0f}"

        def cpu_ms(side: str) -> str:
            return f"{1000 * median(cpu[side]) / n:.1f}"

        rows = [
            ["anchor: asyncio socket->file+fsync", rounds, f"{a:.1f}", lat_ms("anchor"), cpu_ms("anchor"), "1.00"],
            ["floor: hypercorn + bare ASGI, SHA-1", rounds, f"{f:.1f}", lat_ms("floor"), cpu_ms("floor"), f"{f / a:.2f}"],
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
        print(f"same-round ratios (floor / anchor): {', '.join(f'{x:.2f}' for x in same_round('floor', 'anchor'))} "
              f"-> median {median(same_round('floor', 'anchor')):.2f}; (jobs paused / floor): "
              f"{', '.join(f'{x:.2f}' for x in same_round('paused', 'floor'))} "
              f"-> median {median(same_round('paused', 'floor')):.2f}")
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
        if floor is not None:
            floor.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
