"""SQL repositories: one module per table family. Helpers shared by them live here."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

# bound parameters per `IN (...)` list; far below SQLite's limit, so long id lists never hit it
IN_CHUNK = 500


def marks(values: Sequence[Any]) -> str:
    """`?,?,?` for an `IN (...)` list of these values."""
    return ",".join("?" * len(values))


def chunked(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]
