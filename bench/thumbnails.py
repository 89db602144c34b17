"""Thumbnail + preview throughput: immich-lite's media.thumbnail.generate() vs the `vipsthumbnail` CLI.

    .venv/bin/python bench/thumbnails.py [--quick] [--rounds N] [--colorspace p3|srgb] [--generated N]

Work per image, both sides: a 1440 px JPEG preview (Q80, 4:4:4, optimised Huffman) and a 250 px WebP
thumbnail (Q80, effort 4), both "fit outside" (the shorter side becomes the size, never enlarged),
autorotated, exported to the same colour profile (default p3, what the server passes today).
immich-lite also computes a thumbhash and fsyncs each output (it is the product path).

Anchor, same run, same files: Debian's `vipsthumbnail` (apt-get install -y libvips-tools), one process per
batch and output, the batch split by display orientation because the CLI has no "fit outside" mode:
    landscape/square: vipsthumbnail --size 'x1440>' -e p3 -o '<dir>/%s_preview.jpg[Q=80,optimize_coding,subsample_mode=off]' FILES
                      vipsthumbnail --size 'x250>'  -e p3 -o '<dir>/%s_thumb.webp[Q=80,effort=4]' FILES
    portrait:         the same with --size '1440x>' / '250x>'
(vipsthumbnail size syntax: 'WxH' fits inside the box; an empty side is unbounded, so 'x1440' fixes the
height; a trailing '>' means "only ever shrink", '<' "only ever enlarge" -- so '1440x1440<' would NOT resize
photos at all.)  A second anchor column runs the same commands without '-e' (no ICC export transform: less
work than immich-lite does), as a stricter reference.

Inputs: the corpus's JPEG/PNG/WebP/HEIC files (not broken/) that both sides decode, plus N generated 4000x3000
Q93 JPEGs (~4.7 MB, photo-like noise).  Each round hard-links the inputs under fresh names so neither side can
hit libvips' operation cache from the previous round.  Sides alternate order per round and format.  Reports images/s per format (median of rounds) and
the overall ratio immich-lite / anchor (target >= 0.9).  It reports; it does not assert.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPUS, jpeg_bytes, machine, median, table  # noqa: E402

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WebP", ".heic": "HEIC", ".hif": "HEIC"}
GENERATED = "JPEG 12MP (generated)"
TARGET = 0.9
# pyvips-binary's libvips does a C-level setenv("VIPSHOME", "/target") at init; children inherit the C environ, and
# Debian's vipsthumbnail then looks for its modules (heif, ...) under /target and cannot read HEIC.  os.environ is the
# Python-level snapshot without it, so pass that explicitly.
ANCHOR_ENV = dict(os.environ)


def corpus_files() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and "broken" not in path.relative_to(CORPUS).parts:
            fmt = FORMATS.get(path.suffix.lower())
            if fmt:
                out.append((fmt, path))
    return out


def vipsthumbnail_version() -> str | None:
    exe = shutil.which("vipsthumbnail")
    if not exe:
        return None
    r = subprocess.run([exe, "--vips-version"], capture_output=True, text=True)
    return r.stdout.strip() or r.stderr.strip()


def anchor_cmds(files: list[Path], portrait: bool, out: Path, colorspace: str | None) -> list[list[str]]:
    """colorspace None: no export profile at all (no ICC transform) -- the stricter, less-work anchor."""
    def size(n: int) -> str:
        return f"{n}x>" if portrait else f"x{n}>"
    profile = ["-e", colorspace] if colorspace else []
    return [
        ["vipsthumbnail", "--size", size(1440), *profile,
         "-o", f"{out}/%s_preview.jpg[Q=80,optimize_coding,subsample_mode=off]", *map(str, files)],
        ["vipsthumbnail", "--size", size(250), *profile,
         "-o", f"{out}/%s_thumb.webp[Q=80,effort=4]", *map(str, files)],
    ]


def run_anchor(files: list[Path], portrait: dict[Path, bool], out: Path, colorspace: str | None) -> str:
    """Run the batch; returns stderr (warnings/errors)."""
    err = []
    for flag in (False, True):
        batch = [f for f in files if portrait[f] == flag]
        if batch:
            for cmd in anchor_cmds(batch, flag, out, colorspace):
                r = subprocess.run(cmd, capture_output=True, text=True, env=ANCHOR_ENV)
                if r.returncode or r.stderr.strip():
                    err.append(r.stderr.strip())
    return "\n".join(e for e in err if e)


def run_immich(files: list[Path], out: Path, colorspace: str, per_file: list[float] | None = None) -> dict[Path, tuple[int, int]]:
    from immich_lite.media import thumbnail  # noqa: PLC0415

    sizes = {}
    for f in files:
        t = time.perf_counter()
        r = thumbnail.generate(f, asset_type="IMAGE", thumb_path=out / f"{f.stem}_thumb.webp",
                               preview_path=out / f"{f.stem}_preview.jpg", thumb_size=250, preview_size=1440,
                               thumb_format="webp", preview_format="jpeg", quality=80, colorspace=colorspace,
                               tmp_dir=out)
        if per_file is not None:
            per_file.append(time.perf_counter() - t)
        sizes[f] = (r.width, r.height)
    return sizes


def _outputs_ok(out: Path, files: list[Path]) -> bool:
    return all((out / f"{p.stem}_{k}").is_file() and (out / f"{p.stem}_{k}").stat().st_size
               for p in files for k in ("preview.jpg", "thumb.webp"))


def link_round(files: list[Path], dest: Path, tag: str) -> dict[Path, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for i, f in enumerate(files):
        new = dest / f"{tag}_{i:03d}{f.suffix}"
        try:
            os.link(f, new)
        except OSError:
            shutil.copyfile(f, new)
        mapping[f] = new
    return mapping


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 rounds, 2 generated 12 MP JPEGs")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5, quick 2)")
    ap.add_argument("--generated", type=int, default=None, help="generated 4000x3000 JPEGs (default 4, quick 2)")
    ap.add_argument("--colorspace", choices=("p3", "srgb"), default="p3",
                    help="export profile for both sides (the server passes its config value, default p3)")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    n_gen = args.generated if args.generated is not None else (2 if args.quick else 4)

    import pyvips  # noqa: PLC0415

    anchor_version = vipsthumbnail_version()
    print(f"# thumbnails: {machine()}; pyvips {pyvips.__version__} / libvips {pyvips.version(0)}.{pyvips.version(1)}."
          f"{pyvips.version(2)} in process; anchor: {anchor_version or 'vipsthumbnail NOT INSTALLED'}")
    print(f"# {rounds} rounds, colorspace {args.colorspace}; VIPS_CONCURRENCY={os.environ.get('VIPS_CONCURRENCY', 'default')}; "
          f"loadavg {os.getloadavg()[0]:.1f}")

    work = Path(tempfile.mkdtemp(prefix="bench-thumbs-"))
    try:
        src_dir = work / "src"
        src_dir.mkdir()
        inputs = corpus_files()
        t = time.perf_counter()
        for i in range(n_gen):
            p = src_dir / f"gen12mp_{i}.jpg"
            p.write_bytes(jpeg_bytes(4000, 3000, seed=101 + 7 * i))
            inputs.append((GENERATED, p))
        if n_gen:
            mb = sum(p.stat().st_size for g, p in inputs if g == GENERATED) / n_gen / 1e6
            print(f"# generated {n_gen} x 4000x3000 JPEG Q93, {mb:.1f} MB each, in {time.perf_counter() - t:.1f} s")

        # validation + warm-up: both sides must decode a file for it to count
        check = work / "check"
        check.mkdir()
        check_anchor = work / "check-anchor"
        check_anchor.mkdir()
        portrait: dict[Path, bool] = {}
        dims: dict[Path, tuple[int, int]] = {}
        skipped: list[tuple[str, str, str]] = []
        ok_immich = []
        for fmt, p in inputs:
            try:
                (w, h), = run_immich([p], check, args.colorspace).values()
            except Exception as e:  # noqa: BLE001
                skipped.append((fmt, p.name, f"immich-lite: {str(e).splitlines()[0][:70]}"))
                continue
            portrait[p], dims[p] = h > w, (w, h)
            ok_immich.append((fmt, p))
        groups: dict[str, list[Path]] = {}
        if anchor_version:
            for fmt, p in ok_immich:
                # the anchor runs one file at a time here only to attribute failures
                run_anchor([p], portrait, check_anchor, args.colorspace)
                if _outputs_ok(check_anchor, [p]):
                    groups.setdefault(fmt, []).append(p)
                else:
                    skipped.append((fmt, p.name, "anchor (vipsthumbnail) could not decode it"))
        else:
            for fmt, p in ok_immich:
                groups.setdefault(fmt, []).append(p)
        shutil.rmtree(check)
        shutil.rmtree(check_anchor)

        order = [g for g in ("JPEG", "PNG", "WebP", "HEIC", GENERATED) if g in groups]
        t_immich: dict[str, list[float]] = {g: [] for g in order}
        t_anchor: dict[str, list[float]] = {g: [] for g in order}
        t_bare: dict[str, list[float]] = {g: [] for g in order}
        per_file: dict[str, list[float]] = {g: [] for g in order}
        for r in range(rounds):
            rdir = work / f"round{r}"
            for gi, g in enumerate(order):
                files = groups[g]
                links = link_round(files, rdir / "in", f"r{r}g{gi}")
                ins = [links[f] for f in files]
                port = {links[f]: portrait[f] for f in files}
                sides = ["immich", "anchor", "bare"] if (r + gi) % 2 == 0 else ["bare", "anchor", "immich"]
                for side in sides:
                    out = rdir / side / str(gi)
                    out.mkdir(parents=True)
                    if side == "immich":
                        t = time.perf_counter()
                        run_immich(ins, out, args.colorspace, per_file[g])
                        t_immich[g].append(time.perf_counter() - t)
                    elif anchor_version:
                        t = time.perf_counter()
                        err = run_anchor(ins, port, out, args.colorspace if side == "anchor" else None)
                        (t_anchor if side == "anchor" else t_bare)[g].append(time.perf_counter() - t)
                        if not _outputs_ok(out, ins):
                            print(f"# WARNING: anchor outputs missing for {g} in round {r + 1}: {err[-300:]}",
                                  file=sys.stderr)
                    if side == "immich" and not _outputs_ok(out, ins):
                        print(f"# WARNING: immich-lite outputs missing for {g} in round {r + 1}", file=sys.stderr)
            shutil.rmtree(rdir)
            print(f"# round {r + 1}/{rounds} done", file=sys.stderr)

        rows = []
        for g in order:
            n = len(groups[g])
            mp = median(dims[f][0] * dims[f][1] / 1e6 for f in groups[g])
            ips_i = n / median(t_immich[g])
            ips_a = n / median(t_anchor[g]) if t_anchor[g] else float("nan")
            ips_b = n / median(t_bare[g]) if t_bare[g] else float("nan")
            rows.append([g, n, f"{mp:.2f}", f"{1000 * median(per_file[g]):.1f}", f"{ips_i:.2f}",
                         f"{ips_a:.2f}", f"{ips_i / ips_a:.2f}", f"{ips_b:.2f}", f"{ips_i / ips_b:.2f}"])

        def overall(groups_in: list[str]) -> tuple[float, float, float, int]:
            n = sum(len(groups[g]) for g in groups_in)
            tot = lambda t: median(sum(t[g][r] for g in groups_in) for r in range(rounds)) \
                if all(t[g] for g in groups_in) else float("nan")  # noqa: E731
            return n / tot(t_immich), n / tot(t_anchor), n / tot(t_bare), n

        total_i, total_a, total_b, total_n = overall(order)
        rows.append(["ALL", total_n, "", "", f"{total_i:.2f}", f"{total_a:.2f}", f"{total_i / total_a:.2f}",
                     f"{total_b:.2f}", f"{total_i / total_b:.2f}"])
        no_heic = [g for g in order if g != "HEIC"]
        if "HEIC" in order and no_heic:
            i2, a2, b2, n2 = overall(no_heic)
            rows.append(["ALL except HEIC", n2, "", "", f"{i2:.2f}", f"{a2:.2f}", f"{i2 / a2:.2f}",
                         f"{b2:.2f}", f"{i2 / b2:.2f}"])
        print()
        print(table(["format", "files", "median MP", "immich ms/img (median)", "immich img/s",
                     f"anchor -e {args.colorspace} img/s", "ratio", "anchor no-ICC img/s", "ratio"], rows))
        print("(anchor -e: vipsthumbnail doing the same work incl. the export-profile transform; anchor no-ICC: "
              "vipsthumbnail without -e, i.e. less work -- a stricter reference)")
        if skipped:
            print("\nNot timed (a side could not decode them):")
            print(table(["format", "file", "reason"], [list(s) for s in skipped]))
        print()
        if anchor_version:
            verdict = "meets" if total_i / total_a >= TARGET else "BELOW"
            print(f"SUMMARY thumbnails: immich-lite {total_i:.2f} img/s vs vipsthumbnail {total_a:.2f} img/s on "
                  f"{total_n} images -> ratio {total_i / total_a:.2f} ({verdict} target >= {TARGET}); "
                  f"vs vipsthumbnail without ICC export {total_i / total_b:.2f}; median of {rounds} rounds; "
                  f"loadavg {os.getloadavg()[0]:.1f}")
        else:
            print(f"SUMMARY thumbnails: immich-lite {total_i:.2f} img/s on {total_n} images; no anchor "
                  "(install it: apt-get install -y libvips-tools)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
