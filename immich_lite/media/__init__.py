"""Media adapters: pure library code (no HTTP, no database) that job handlers call.

TIMINGS_PLACEHOLDER
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
