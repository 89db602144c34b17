"""What every in-process model holder shares: load on first use under one lock, unload on demand or after idle
(upstream's machine-learning `modelTtl`), and give the freed heap back to the OS."""
from __future__ import annotations

import abc
import ctypes
import threading
import time
from collections.abc import Callable
from typing import Any


def release_heap() -> None:
    """Hand freed heap back to the OS: without it glibc keeps what models and their buffers used in RSS."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        pass


class LazyModels(abc.ABC):
    """Holds what `_load()` returns; thread-safe. `unload` drops it (a call already running keeps its reference
    until it returns); `idle_unload` does so after `ttl_seconds` without use."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._models: Any = None
        self._load_lock = threading.Lock()
        self.last_used = clock()

    @abc.abstractmethod
    def _load(self) -> Any:
        """Load and return the models (subclasses: the face and OCR engines)."""

    @property
    def loaded(self) -> bool:
        return self._models is not None

    def load(self) -> None:
        """Load the models now (otherwise the first use does)."""
        self._ensure_loaded()

    def unload(self) -> None:
        """Free the models; the next use loads them again."""
        with self._load_lock:
            self._models = None
        release_heap()

    def idle_unload(self, ttl_seconds: float) -> bool:
        """Unload if loaded and unused for `ttl_seconds` (<= 0 disables). True if it unloaded."""
        with self._load_lock:
            if self._models is None or ttl_seconds <= 0 or self._clock() - self.last_used < ttl_seconds:
                return False
            self._models = None
        release_heap()
        return True

    def _ensure_loaded(self) -> Any:
        models = self._models
        if models is None:
            with self._load_lock:
                models = self._models
                if models is None:
                    models = self._models = self._load()
        self.last_used = self._clock()
        return models
