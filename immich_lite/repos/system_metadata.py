"""Key → JSON rows: system config, admin onboarding, license, reverse-geocoding state, version check."""
from __future__ import annotations

import json
from typing import Any


def get(conn: Any, key: str) -> Any:
    row = conn.execute("SELECT value FROM system_metadata WHERE key = ?", (key,)).fetchone()
    return json.loads(row["value"]) if row else None


def set(conn: Any, key: str, value: Any) -> None:  # noqa: A001 (mirrors upstream's repository name)
    conn.execute(
        "INSERT INTO system_metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)))


def delete(conn: Any, key: str) -> None:
    conn.execute("DELETE FROM system_metadata WHERE key = ?", (key,))
