"""SQL behind the server endpoints: version history and per-user usage statistics."""
from __future__ import annotations

from typing import Any

from immich_lite import ids

Row = dict[str, Any]


def get_version_history(conn: Any) -> list[Row]:
    return list(conn.execute("SELECT * FROM version_history ORDER BY created_at DESC, rowid DESC"))


def get_latest_version(conn: Any) -> Row | None:
    return conn.execute("SELECT * FROM version_history ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()


def insert_version(conn: Any, version: str) -> None:
    conn.execute("INSERT INTO version_history (id, created_at, version) VALUES (?, ?, ?)",
                 (ids.new_id(), ids.now_iso(), version))


# Immich: user.repository.ts getUserStats: every user row (deleted ones too), assets not in the trash;
# counts skip hidden assets (live-photo videos), usage skips external-library assets.
_USER_STATS = """
SELECT u.id AS user_id, u.name AS user_name, u.quota_size_in_bytes,
       count(*) FILTER (WHERE a.type = 'IMAGE' AND a.visibility != 'hidden') AS photos,
       count(*) FILTER (WHERE a.type = 'VIDEO' AND a.visibility != 'hidden') AS videos,
       coalesce(sum(e.file_size_in_byte) FILTER (WHERE a.library_id IS NULL), 0) AS usage,
       coalesce(sum(e.file_size_in_byte) FILTER (WHERE a.library_id IS NULL AND a.type = 'IMAGE'), 0) AS usage_photos,
       coalesce(sum(e.file_size_in_byte) FILTER (WHERE a.library_id IS NULL AND a.type = 'VIDEO'), 0) AS usage_videos
FROM "user" u
LEFT JOIN asset a ON a.owner_id = u.id AND a.deleted_at IS NULL
LEFT JOIN asset_exif e ON e.asset_id = a.id
GROUP BY u.id
ORDER BY u.created_at
"""


def get_user_stats(conn: Any) -> list[Row]:
    return list(conn.execute(_USER_STATS))
