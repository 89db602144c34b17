"""Row ids (UUIDv4), monotonic UUIDv7 update ids, and the one timestamp format used everywhere."""
from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timezone

_lock = threading.Lock()
_last = 0  # last (ms << 12 | seq) handed out


def new_id() -> str:
    return str(uuid.uuid4())


def uuid7(ms: int | None = None) -> str:
    """A UUIDv7 that is strictly greater than every previous one from this process.

    Sync cursors page on these ids, so ordering must hold even within one millisecond:
    the 12-bit rand_a field is used as a counter (RFC 9562 §6.2 method 1).
    """
    global _last
    with _lock:
        now = (int(time.time() * 1000) if ms is None else ms) << 12
        _last = now if now > _last else _last + 1
        value = _last
    ts, seq = value >> 12, value & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    n = (ts << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=n))


def uuid7_floor(ms: int) -> str:
    """The smallest UUIDv7 for a millisecond: a cursor bound, not an id."""
    n = (ms << 80) | (0x7 << 76) | (0b10 << 62)
    return str(uuid.UUID(int=n))


def uuid7_ms(value: str) -> int:
    return uuid.UUID(value).int >> 80


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """'YYYY-MM-DDTHH:MM:SS.mmmZ', the format stored in the DB and sent on the wire."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        try:
            dt = dt.astimezone(timezone.utc)
        except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before the calendar in UTC: clamp to its ends
            return "0001-01-01T00:00:00.000Z" if dt.year == 1 else "9999-12-31T23:59:59.999Z"
    # the year padded by hand: strftime's %Y writes 20 for the year 20 on Linux
    return f"{dt.year:04d}-" + dt.strftime("%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utcnow())  # type: ignore[return-value]


def stored_iso(value: str | None) -> str | None:
    """A client's ISO-8601 timestamp in the stored format (so stored values compare as text); None stays None."""
    return iso(parse_iso(value)) if value else None


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC."""
    v = value.strip()
    if v.endswith("Z") or v.endswith("z"):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt
