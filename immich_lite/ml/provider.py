"""Where this server's machine learning runs: upstream's ML HTTP protocol to the URLs in `machineLearning.urls`
(upstream's own machine-learning container, or another box's `immich-lite ml-serve`), then this process.

Upstream (server/src/repositories/machine-learning.repository.ts) pings each URL (`GET <url>/ping`,
`availabilityChecks.timeout`) every `availabilityChecks.interval`, tries the healthy URLs first and the others after,
and fails when none answers. Here the same, with one addition: when no URL answers, the in-process provider
(ml/inprocess.py) answers. So the default URL (`http://immich-machine-learning:3003`, which exists where people
run upstream's compose file) is used when it is there, and a Pi without it does the work itself. A URL known to
be down is not tried again until its next availability check is due, so a dead URL costs one timeout per
interval, not one per photo.

A check never holds anyone up longer than its timeout, name lookup included (a resolver that does not answer
can take tens of seconds, and the socket timeout does not cover it), and a caller that must not wait at all
(a job's follow-ups, computed inside the write transaction; /server/features) reads the last known state and
leaves the check to a background thread.

Requests are multipart (`entries` JSON + `image` file or `text`), streamed from the preview file.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from immich_lite.ml.inprocess import InProcess, MlError, ModelMissing

log = logging.getLogger("immich_lite.ml")

__all__ = ["MlError", "ModelMissing", "MlUnavailable", "Router", "router", "predict"]
CHUNK = 64 * 1024


class MlUnavailable(MlError):
    status = 503


class RemoteRefused(ValueError):
    """The URL answered, with an error status (e.g. a model it does not have): it is up, this request failed."""


class _Health:
    def __init__(self) -> None:
        self.healthy: dict[str, bool] = {}
        self.checked: dict[str, float] = {}
        self.running: dict[str, threading.Event] = {}  # one check per URL at a time
        self.lock = threading.Lock()


def resolve(host: str, port: int, timeout: float) -> list[Any]:
    """getaddrinfo bounded by `timeout` (the lookup goes on in a daemon thread if the resolver hangs).
    :raises OSError: no answer in time, or no such name."""
    box: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            box.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as e:
            box.append(e)
        done.set()

    threading.Thread(target=lookup, name="ml-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise OSError(f"no address for {host} within {timeout:g} s")
    if isinstance(box[0], OSError):
        raise box[0]
    return box[0]


def _bounded_connect(address: tuple[str, int], timeout: float, source: Any = None) -> socket.socket:
    """socket.create_connection whose name lookup is bounded by the same timeout."""
    host, port = address
    last: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, sockaddr in resolve(host, port, timeout if timeout else 30.0):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout:
                sock.settimeout(timeout)
            if source:
                sock.bind(source)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            sock.close()
            last = e
    raise last


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OSError(f"not an http(s) URL: {url}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    # the lookup inside the timeout too (HTTPSConnection.connect wraps what this returns)
    conn._create_connection = lambda addr, t, src=None: _bounded_connect(addr, min(t, timeout), src)  # type: ignore[attr-defined]
    path = parts.path or "/"
    return conn, path + (f"?{parts.query}" if parts.query else "")


def ping(url: str, timeout: float) -> bool:
    """Upstream's availability check: GET <url>/ping answers 2xx within the timeout."""
    try:
        conn, path = _connection(urljoin(url if url.endswith("/") else url + "/", "ping"), timeout)
        try:
            conn.request("GET", path)
            return 200 <= conn.getresponse().status < 300
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        return False


def post_predict(url: str, entries: dict[str, Any], *, image_path: str | None, text: str | None,
                 timeout: float) -> dict[str, Any]:
    """POST <url>/predict as upstream's server does; the image is streamed from its file.
    :raises OSError / http.client.HTTPException / ValueError: the URL did not answer with JSON."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"entries\"\r\n\r\n"
            f"{json.dumps(entries)}\r\n").encode()
    if image_path is not None:
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"blob\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode()
        size = os.path.getsize(image_path)
    else:
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n").encode()
        head += (text or "").encode() + b"\r\n"
        size = 0
    tail = (b"\r\n" if image_path is not None else b"") + f"--{boundary}--\r\n".encode()
    conn, path = _connection(urljoin(url if url.endswith("/") else url + "/", "predict"), timeout)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + size + len(tail)))
        conn.endheaders()
        conn.send(head)
        if image_path is not None:
            with open(image_path, "rb") as f:
                while chunk := f.read(CHUNK):
                    conn.send(chunk)
        conn.send(tail)
        resp = conn.getresponse()
        body = resp.read()
        if not 200 <= resp.status < 300:
            raise RemoteRefused(f"status {resp.status}: {body[:200].decode(errors='replace')}")
        answer = json.loads(body)
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")
        return answer
    finally:
        conn.close()


_HEALTH = _Health()


class Router:
    """Routes `/predict` requests: the configured URLs as upstream, then this process's engines."""

    def __init__(self, models_dir: str | Path, *, clock: Any = time.monotonic) -> None:
        self.local = InProcess(models_dir)
        self.health = _HEALTH  # a URL is up or down for the whole process
        self.clock = clock
        self.timeout = 600.0  # a predict may take long on a slow box; the availability check is what is short

    def _is_healthy(self, url: str, checks: dict[str, Any]) -> bool | None:
        """True/False from a check still fresh, None when a check is due."""
        if not checks.get("enabled", True):
            return True
        interval = float(checks.get("interval", 30_000)) / 1000
        with self.health.lock:
            at = self.health.checked.get(url)
            if at is not None and self.clock() - at < interval:
                return self.health.healthy.get(url, False)
        return None

    def _set(self, url: str, healthy: bool) -> None:
        with self.health.lock:
            if self.health.healthy.get(url) != healthy:
                log.info("machine learning server became %s (%s)", "healthy" if healthy else "unhealthy", url)
            self.health.healthy[url] = healthy
            self.health.checked[url] = self.clock()

    def check(self, url: str, checks: dict[str, Any], *, wait: bool = True) -> bool | None:
        """Is the URL up? A fresh result is reused; else one thread pings it while the others wait for that
        answer (wait=True) or get the last known state at once, None when there is none (wait=False)."""
        fresh = self._is_healthy(url, checks)
        if fresh is not None:
            return fresh
        timeout = float(checks.get("timeout", 2000)) / 1000
        with self.health.lock:
            running = self.health.running.get(url)
            mine = running is None
            if mine:
                running = self.health.running[url] = threading.Event()
            last = self.health.healthy.get(url)
        if not mine:
            if not wait:
                return last
            running.wait(timeout + 1)
            return self.health.healthy.get(url, False)
        if not wait:
            threading.Thread(target=self._ping, args=(url, timeout, running), name="ml-ping", daemon=True).start()
            return last
        return self._ping(url, timeout, running)

    def _ping(self, url: str, timeout: float, running: threading.Event) -> bool:
        ok = False
        try:
            ok = ping(url, timeout)
        finally:
            self._set(url, ok)
            with self.health.lock:
                self.health.running.pop(url, None)
            running.set()
        return ok

    def remote_order(self, ml: dict[str, Any], *, wait: bool = True) -> list[str]:
        """The URLs worth trying now: healthy ones first; those known to be down wait for their next check.
        With wait=False, nothing is pinged here: the URLs not known to be down (a check runs in the background)."""
        urls = [u for u in ml.get("urls") or [] if isinstance(u, str) and u]
        checks = ml.get("availabilityChecks") or {}
        if not wait:
            return [u for u in urls if self.check(u, checks, wait=False) is not False]
        return [u for u in urls if self.check(u, checks)]

    def predict(self, ml: dict[str, Any], entries: dict[str, Any], *, image_path: str | None = None,
                text: str | None = None) -> tuple[dict[str, Any], str]:
        """(upstream's answer, who answered: a URL or "in-process").
        :raises MlError: no URL answered and this process cannot either (the message says why)."""
        if not ml.get("enabled", True):
            raise MlUnavailable("Machine learning is disabled")
        for url in self.remote_order(ml):
            try:
                return post_predict(url, entries, image_path=image_path, text=text, timeout=self.timeout), url
            except (OSError, http.client.HTTPException, ValueError) as e:
                log.warning('machine learning request to "%s" failed: %s', url, e)
                if not isinstance(e, RemoteRefused):  # it answered: up, only not for this task (upstream still
                    self._set(url, False)             # tries such a URL; here a down one is skipped, so only
                                                      # one that does not answer is marked down)
        return self.local.predict(entries, image_path=image_path, text=text), "in-process"


_routers: dict[str, Router] = {}
_routers_lock = threading.Lock()


def router(ctx: Any) -> Router:
    """The process's router for this server's models directory."""
    models = str(ctx.settings.models_path)
    with _routers_lock:
        found = _routers.get(models)
        if found is None:
            found = _routers[models] = Router(models)
        return found


def predict(ctx: Any, ml: dict[str, Any], entries: dict[str, Any], *, image_path: str | None = None,
            text: str | None = None) -> dict[str, Any]:
    return router(ctx).predict(ml, entries, image_path=image_path, text=text)[0]
