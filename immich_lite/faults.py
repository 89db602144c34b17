"""Test hook: IMMICH_LITE_FAULT=<point> kills this process at that point (SIGKILL, as a crash would)."""
from __future__ import annotations

import os
import signal


def fault(point: str) -> None:
    if os.environ.get("IMMICH_LITE_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
