"""Child processes of jobs (ffmpeg, ffprobe) that a stopping server can cut short.

A transcode can run for many minutes. When the server gets SIGTERM it must exit within seconds, and the job
must run again at the next start rather than fail. The job runner binds its `stopping` event to each worker
thread (`bound`); `run` starts the tool in its own process group and registers it under that event; `interrupt`
terminates (then kills) every tool started under the event, and `run` raises `Interrupted`, which the runner
records as "not run" (the job waits again, its attempt not counted). Tools run outside a job (tests, the CLI)
are never interrupted.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

log = logging.getLogger("immich_lite.jobs")

KILL_AFTER = 2.0  # seconds between SIGTERM and SIGKILL for a child that ignores SIGTERM


class Interrupted(BaseException):
    """The server is stopping: the job's work was cut short and is to be run again at the next start.

    A BaseException, so that handlers' `except MediaError` / `except Exception` do not turn it into a failure.
    """


_local = threading.local()
_lock = threading.Lock()
_running: dict[subprocess.Popen[bytes], threading.Event] = {}


@contextlib.contextmanager
def bound(stopping: threading.Event) -> Iterator[None]:
    """Tools started by this thread inside the block are cut short when `stopping` is set and interrupted."""
    previous = getattr(_local, "stopping", None)
    _local.stopping = stopping
    try:
        yield
    finally:
        _local.stopping = previous


def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run(args, capture_output=True, timeout=...), interruptible when started inside `bound`.

    :raises subprocess.TimeoutExpired: after `timeout` (the tool is killed first).
    :raises Interrupted: the job runner stopped while the tool ran (or before it started).
    """
    stopping: threading.Event | None = getattr(_local, "stopping", None)
    if stopping is not None and stopping.is_set():
        raise Interrupted(f"{os.path.basename(args[0])} not started: the server is stopping")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                            start_new_session=True)
    if stopping is not None:
        with _lock:
            _running[proc] = stopping
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise
        except BaseException:
            _kill(proc)
            proc.communicate()
            raise
    finally:
        if stopping is not None:
            with _lock:
                _running.pop(proc, None)
    if stopping is not None and stopping.is_set() and proc.returncode != 0:
        raise Interrupted(f"{os.path.basename(args[0])} stopped: the server is stopping")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def interrupt(stopping: threading.Event) -> int:
    """Terminate every tool started under `stopping` (SIGTERM to its group, SIGKILL after KILL_AFTER seconds).
    Returns how many there were."""
    with _lock:
        procs = [p for p, ev in _running.items() if ev is stopping]
    for p in procs:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + KILL_AFTER
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)
    if procs:
        log.info("stopped %d running tool(s) (ffmpeg); their jobs run again at the next start", len(procs))
    return len(procs)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the tool and anything it started
    except (ProcessLookupError, PermissionError):
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        _signal(proc, signal.SIGKILL)
