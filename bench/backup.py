"""`immich-lite backup DEST` on a real library: full, incremental (nothing changed), incremental after 10 uploads.

    .venv/bin/python bench/backup.py [--quick] [--photos N] [--rounds 3] [--no-drop-caches]

Library: N photo-like JPEGs (10 generated bases, 3000x2000 / 2800x2100 Q93, ~1.5-2.5 MB; each upload made
unique with its own Exif APP1 and a COM segment) uploaded through POST /api/assets of a fresh
`immich-lite serve` on 127.0.0.1 by 3 parallel uploaders; the job queues (metadata, previews, thumbnails) are
drained before any timing.  The server KEEPS RUNNING, idle, while the backups run (the supported way).

Timed, each as a subprocess, median of --rounds (default 3):
  full         `immich-lite backup DEST --data-dir D`, fresh DEST each round
  incr-same    the same command into the DEST of the last full round, nothing changed
  incr+10      10 new uploads (queues drained), then the same command into the same DEST (each round adds 10)
  anchor       `cp -r D/upload D/immich-lite.db DEST2 && sync`, fresh DEST2 each round -- the same bytes the
               full backup copies (originals + DB; the backup skips thumbs/encoded-video by default), and
               `sync` because the backup fsyncs every file it writes.
Before every timed run: `sync; echo 3 > /proc/sys/vm/drop_caches` (cold cache for both sides; needs root;
--no-drop-caches to skip it, then both sides run warm).  Also printed: `immich-lite --help` wall time, the
fixed cost of starting the CLI that every backup run includes.  --quick: 100 photos.  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, REPO, Server, Uploader, exif_segment, jpeg_bytes, machine, median, table  # noqa: E402

CLI = REPO / ".venv" / "bin" / "immich-lite"


def drop_caches(enabled: bool) -> None:
    subprocess.run(["sync"], check=True)
    if enabled:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def tree_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(dirpath, n))
    return files, size


def run_backup(data: Path, dest: Path, drop: bool) -> tuple[float, int, int]:
    """(seconds, files copied incl. the DB snapshot, bytes copied incl. the DB snapshot)."""
    cmd = [str(CLI), "backup", str(dest), "--data-dir", str(data)] if CLI.exists() else \
        [PY, "-c", "from immich_lite.cli import cli; cli()", "backup", str(dest), "--data-dir", str(data)]
    drop_caches(drop)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"backup failed ({p.returncode}): {p.stdout} {p.stderr}")
    m = re.search(r"backup: (\S+) files=(\d+) copied=(\d+) unchanged=(\d+) bytes_copied=(\d+)", p.stdout)
    assert m, p.stdout
    db_size = (Path(m.group(1)) / "immich-lite.db").stat().st_size
    return dt, int(m.group(3)) + 1, int(m.group(5)) + db_size


def run_anchor(data: Path, dest: Path, drop: bool) -> tuple[float, int, int]:
    dest.mkdir(parents=True)
    drop_caches(drop)
    t = time.perf_counter()
    subprocess.run(["cp", "-r", str(data / "upload"), str(data / "immich-lite.db"), str(dest)], check=True)
    subprocess.run(["sync"], check=True)
    dt = time.perf_counter() - t
    files, size = tree_stats(dest)
    return dt, files, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 photos instead of 1000")
    ap.add_argument("--photos", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--no-drop-caches", action="store_true")
    args = ap.parse_args()
    n = args.photos or (100 if args.quick else 1000)
    drop = not args.no_drop_caches
    if drop and os.geteuid() != 0:
        print("# not root: cannot drop the page cache; running warm (as --no-drop-caches)")
        drop = False
    print(f"# backup: {machine()}; {n} photos, {args.rounds} rounds, "
          f"{'cold cache (drop_caches before each timed run)' if drop else 'warm cache'}; server running idle")

    t = time.perf_counter()
    bases = [jpeg_bytes(3000 if i % 2 else 2800, 2000 if i % 2 else 2100, seed=900 + 3 * i, q=93, noise=7)
             for i in range(10)]
    print(f"# generated 10 base JPEGs, {sum(map(len, bases)) / len(bases) / 1e6:.2f} MB avg, "
          f"in {time.perf_counter() - t:.1f} s")

    def items(prefix: str, start: int, count: int) -> list[tuple[object, ...]]:
        out = []
        for i in range(start, start + count):
            date = f"20{10 + i % 12:02d}:{1 + i % 12:02d}:{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
            out.append((f"{prefix}-{i:05d}", bases[i % len(bases)], exif_segment(date, model=f"B{i % 3}")))
        return out

    work = Path(tempfile.mkdtemp(prefix="immich-lite-bench-backup-"))
    data = work / "data"
    data.mkdir()
    srv = Server(data_dir=data)
    try:
        srv.start()
        srv.login_admin()
        up = Uploader(srv.port, "/api/assets", srv.token, args.parallel)
        t = time.perf_counter()
        wall, nbytes, _lat, bad = up.run(items("lib", 0, n))
        if bad:
            raise RuntimeError(f"{len(bad)} uploads failed, e.g. {bad[0]}")
        srv.wait_idle(poll=0.5)
        print(f"# library: {n} uploads, {nbytes / 1e9:.2f} GB in {wall:.1f} s; ingest incl. jobs "
              f"{time.perf_counter() - t:.1f} s")
        for sub in ("upload", "thumbs"):
            f, s = tree_stats(data / sub)
            print(f"#   {sub}/: {f} files, {s / 1e6:.0f} MB")
        print(f"#   immich-lite.db: {(data / 'immich-lite.db').stat().st_size / 1e6:.1f} MB (+ WAL)")
        time.sleep(2)  # let the server settle into idle

        res: dict[str, list[tuple[float, int, int]]] = {"anchor": [], "full": [], "same": [], "plus10": []}
        dest = None
        for r in range(args.rounds):  # interleaved, fresh DEST / DEST2 each round
            a = work / f"anchor-{r}"
            res["anchor"].append(run_anchor(data, a, drop))
            shutil.rmtree(a)
            if dest is not None:
                shutil.rmtree(dest)
            dest = work / f"backup-{r}"
            res["full"].append(run_backup(data, dest, drop))
        assert dest is not None
        for _ in range(args.rounds):
            res["same"].append(run_backup(data, dest, drop))
        extra = 0
        for r in range(args.rounds):
            _w, _b, _l, bad = up.run(items("new", n + 10 * r, 10))
            if bad:
                raise RuntimeError(f"uploads failed: {bad[0]}")
            srv.wait_idle(poll=0.25)
            extra += 10
            res["plus10"].append(run_backup(data, dest, drop))

        startup = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            subprocess.run([str(CLI), "--help"], cwd=REPO, capture_output=True, check=True)
            startup.append(time.perf_counter() - t)
        anchor = median(x[0] for x in res["anchor"])
        labels = {"anchor": "anchor: cp -r upload/ + DB, sync", "full": "full backup (fresh DEST)",
                  "same": "incremental, nothing changed", "plus10": "incremental after 10 new uploads"}
        rows = []
        for k in ("anchor", "full", "same", "plus10"):
            xs = res[k]
            rows.append([labels[k], median(x[0] for x in xs), median(x[0] for x in xs) / anchor,
                         f"{median(x[2] for x in xs) / 1e6:.1f}", int(median(x[1] for x in xs)),
                         " ".join(f"{x[0]:.2f}" for x in xs)])
        print(table(["run", "s (median)", "x anchor", "MB copied", "files copied", "rounds s"], rows))
        full_mb = median(x[2] for x in res["full"]) / 1e6
        print(f"# full backup throughput {full_mb / median(x[0] for x in res['full']):.0f} MB/s, "
              f"anchor {median(x[2] for x in res['anchor']) / 1e6 / anchor:.0f} MB/s "
              f"(MB/files incl. the DB snapshot; {extra} photos added during the incremental rounds)")
        print(f"# CLI start-up alone (`immich-lite --help`, warm): {median(startup):.3f} s median")
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
