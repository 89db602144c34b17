"""In-process event fan-out. Services emit after their transaction commits; the websocket layer subscribes.

Emission is fire-and-forget: a slow or failing subscriber never fails the use case that emitted.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger("immich_lite.events")
Subscriber = Callable[[str, str, Any], None]  # (event, room, payload)


class Events:
    def __init__(self) -> None:
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> None:
        with self._lock:
            self._subs.append(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        with self._lock:
            if fn in self._subs:
                self._subs.remove(fn)

    def emit(self, event: str, room: str, payload: Any = None) -> None:
        """Send `event` to a room: a user id, a session id, or 'all'."""
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            try:
                fn(event, room, payload)
            except Exception:  # noqa: BLE001 (a subscriber must not break the emitter)
                log.exception("event subscriber failed for %s", event)
