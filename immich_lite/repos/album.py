"""SQL for albums, their members (album_user) and their assets (album_asset).

The owner lives in album.owner_id; album_user holds the other members (editor | viewer). Upstream 3.x keeps the
owner as an album_user row with role 'owner'; `get_users` reads both as one list so the rest of the code sees
upstream's shape.
"""
from __future__ import annotations

from typing import Any, Iterable

from immich_lite import ids
from immich_lite.repos import chunked, marks

Row = dict[str, Any]

# Immich: withDefaultVisibility — what albums count and show (locked and hidden assets never do)
_VISIBLE = "a.deleted_at IS NULL AND a.visibility IN ('archive', 'timeline')"


def get(conn: Any, album_id: str) -> Row | None:
    return conn.execute("SELECT * FROM album WHERE id = ? AND deleted_at IS NULL", (album_id,)).fetchone()


def get_many(conn: Any, album_ids: list[str]) -> list[Row]:
    if not album_ids:
        return []
    return list(conn.execute(f"SELECT * FROM album WHERE deleted_at IS NULL AND id IN ({marks(album_ids)})",
                             album_ids))


def insert(conn: Any, *, owner_id: str, album_name: str, description: str, order: str,
           album_thumbnail_asset_id: str | None) -> str:
    now = ids.now_iso()
    album_id = ids.new_id()
    conn.execute('INSERT INTO album (id, owner_id, album_name, description, album_thumbnail_asset_id, "order", '
                 "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (album_id, owner_id, album_name, description, album_thumbnail_asset_id, order, now, now))
    return album_id


def update(conn: Any, album_id: str, **values: Any) -> None:
    """Every update moves updatedAt, as upstream's updated_at trigger does."""
    values.setdefault("updated_at", ids.now_iso())
    sets = ", ".join(f'"{k}" = ?' for k in values)
    conn.execute(f"UPDATE album SET {sets} WHERE id = ?", [*values.values(), album_id])


def delete(conn: Any, album_id: str) -> None:
    conn.execute("DELETE FROM album WHERE id = ?", (album_id,))


# --- listing ---------------------------------------------------------------------------------------

_SHARED = ("(EXISTS (SELECT 1 FROM album_user s WHERE s.album_id = al.id) "
           "OR EXISTS (SELECT 1 FROM shared_link l WHERE l.album_id = al.id))")


def list_for_user(conn: Any, user_id: str, *, is_owned: bool | None = None, is_shared: bool | None = None,
                  album_id: str | None = None, name: str | None = None) -> list[Row]:
    """Albums I own or am a member of, newest first (upstream AlbumRepository.getAll)."""
    sql = ("SELECT al.* FROM album al WHERE al.deleted_at IS NULL AND (al.owner_id = :me OR EXISTS "
           "(SELECT 1 FROM album_user m WHERE m.album_id = al.id AND m.user_id = :me))")
    if is_owned is True:
        sql += " AND al.owner_id = :me"
    elif is_owned is False:
        sql += " AND al.owner_id != :me"
    if is_shared is not None:
        sql += f" AND {'' if is_shared else 'NOT '}{_SHARED}"
    if album_id:
        sql += " AND al.id = :id"
    if name:
        sql += " AND al.album_name = :name"
    return list(conn.execute(sql + " ORDER BY al.created_at DESC, al.id",
                             {"me": user_id, "id": album_id, "name": name}))


def list_by_asset(conn: Any, user_id: str, asset_id: str) -> list[Row]:
    """Albums I own or am a member of that contain the asset (upstream getByAssetId)."""
    return list(conn.execute(
        "SELECT al.* FROM album al JOIN album_asset aa ON aa.album_id = al.id "
        "WHERE aa.asset_id = :asset AND al.deleted_at IS NULL AND (al.owner_id = :me OR EXISTS "
        "(SELECT 1 FROM album_user m WHERE m.album_id = al.id AND m.user_id = :me)) "
        "ORDER BY al.created_at DESC, al.id", {"me": user_id, "asset": asset_id}))


def count_for_user(conn: Any, user_id: str) -> Row:
    """owned, shared (mine or shared with me) and owned-but-not-shared, in one pass."""
    return conn.execute(  # type: ignore[no-any-return]
        f"SELECT count(*) FILTER (WHERE al.owner_id = :me) AS owned, "
        f"count(*) FILTER (WHERE {_SHARED}) AS shared, "
        f"count(*) FILTER (WHERE al.owner_id = :me AND NOT {_SHARED}) AS not_shared "
        "FROM album al WHERE al.deleted_at IS NULL AND (al.owner_id = :me OR EXISTS "
        "(SELECT 1 FROM album_user m WHERE m.album_id = al.id AND m.user_id = :me))", {"me": user_id}).fetchone()


# --- members ---------------------------------------------------------------------------------------

def get_users(conn: Any, album_ids: list[str]) -> list[Row]:
    """Owner (role 'owner') and members of each album, with their user rows (deleted users included)."""
    if not album_ids:
        return []
    m = marks(album_ids)
    return list(conn.execute(
        "SELECT m.album_id, m.role, u.* FROM ("
        f"  SELECT id AS album_id, owner_id AS user_id, 'owner' AS role FROM album WHERE id IN ({m}) "
        f"  UNION ALL SELECT album_id, user_id, role FROM album_user WHERE album_id IN ({m})"
        ') m JOIN "user" u ON u.id = m.user_id', [*album_ids, *album_ids]))


def add_user(conn: Any, album_id: str, user_id: str, role: str) -> None:
    conn.execute("INSERT INTO album_user (album_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
                 (album_id, user_id, role, ids.now_iso()))


def update_user(conn: Any, album_id: str, user_id: str, role: str) -> None:
    conn.execute("UPDATE album_user SET role = ? WHERE album_id = ? AND user_id = ?", (role, album_id, user_id))


def remove_user(conn: Any, album_id: str, user_id: str) -> None:
    conn.execute("DELETE FROM album_user WHERE album_id = ? AND user_id = ?", (album_id, user_id))


def with_shared_links(conn: Any, album_ids: list[str]) -> set[str]:
    if not album_ids:
        return set()
    return {r["album_id"] for r in conn.execute(
        f"SELECT DISTINCT album_id FROM shared_link WHERE album_id IN ({marks(album_ids)})", album_ids)}


# --- assets ----------------------------------------------------------------------------------------

def get_asset_ids(conn: Any, album_id: str, asset_ids: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunked(list(dict.fromkeys(asset_ids))):
        out |= {r["asset_id"] for r in conn.execute(
            f"SELECT asset_id FROM album_asset WHERE album_id = ? AND asset_id IN ({marks(chunk)})",
            [album_id, *chunk])}
    return out


def add_assets(conn: Any, album_id: str, asset_ids: list[str]) -> None:
    now = ids.now_iso()
    conn.executemany("INSERT OR IGNORE INTO album_asset (album_id, asset_id, created_at) VALUES (?, ?, ?)",
                     [(album_id, a, now) for a in asset_ids])


def remove_assets(conn: Any, album_id: str, asset_ids: list[str]) -> None:
    conn.executemany("DELETE FROM album_asset WHERE album_id = ? AND asset_id = ?", [(album_id, a) for a in asset_ids])


def metadata_for_ids(conn: Any, album_ids: list[str]) -> dict[str, Row]:
    """assetCount, start/end day and newest asset update per album (upstream getMetadataForIds)."""
    if not album_ids:
        return {}
    rows = conn.execute(
        "SELECT aa.album_id, count(a.id) AS asset_count, min(substr(a.local_date_time, 1, 10)) AS start_day, "
        "max(substr(a.local_date_time, 1, 10)) AS end_day, max(a.updated_at) AS last_modified "
        f"FROM album_asset aa JOIN asset a ON a.id = aa.asset_id WHERE {_VISIBLE} "
        f"AND aa.album_id IN ({marks(album_ids)}) GROUP BY aa.album_id", album_ids)
    return {r["album_id"]: r for r in rows}


def asset_span(conn: Any, album_id: str) -> Row:
    """What upstream's mapAlbum reads off the loaded asset list: count, and the local times of the newest and
    oldest asset by fileCreatedAt."""
    return conn.execute(  # type: ignore[no-any-return]
        "SELECT count(*) AS asset_count, "
        f"(SELECT a.local_date_time FROM album_asset aa JOIN asset a ON a.id = aa.asset_id WHERE aa.album_id = :id "
        f" AND {_VISIBLE} ORDER BY a.file_created_at DESC LIMIT 1) AS first, "
        f"(SELECT a.local_date_time FROM album_asset aa JOIN asset a ON a.id = aa.asset_id WHERE aa.album_id = :id "
        f" AND {_VISIBLE} ORDER BY a.file_created_at ASC LIMIT 1) AS last "
        f"FROM album_asset aa JOIN asset a ON a.id = aa.asset_id WHERE aa.album_id = :id AND {_VISIBLE}",
        {"id": album_id}).fetchone()


def contributor_counts(conn: Any, album_id: str) -> list[Row]:
    return list(conn.execute(
        "SELECT a.owner_id AS user_id, count(*) AS asset_count FROM album_asset aa JOIN asset a ON a.id = aa.asset_id "
        "WHERE aa.album_id = ? AND a.deleted_at IS NULL AND a.visibility != 'locked' "
        "GROUP BY a.owner_id ORDER BY asset_count DESC, a.owner_id", (album_id,)))


def map_markers(conn: Any, album_id: str) -> list[Row]:
    return list(conn.execute(
        "SELECT a.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country "
        "FROM album_asset aa JOIN asset a ON a.id = aa.asset_id JOIN asset_exif e ON e.asset_id = a.id "
        "WHERE aa.album_id = ? AND a.deleted_at IS NULL AND a.visibility != 'locked' "
        "AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL ORDER BY a.file_created_at DESC", (album_id,)))


# --- thumbnails ------------------------------------------------------------------------------------

# the newest usable asset of an album; usable = in the album, not trashed, not locked
_CANDIDATE = ("SELECT aa.asset_id FROM album_asset aa JOIN asset a ON a.id = aa.asset_id "
              "WHERE aa.album_id = album.id AND a.deleted_at IS NULL AND a.visibility != 'locked'")
_STALE = (f"((album_thumbnail_asset_id IS NULL AND EXISTS ({_CANDIDATE})) OR "
          f"(album_thumbnail_asset_id IS NOT NULL AND NOT EXISTS ({_CANDIDATE} "
          "AND aa.asset_id = album.album_thumbnail_asset_id)))")


def stale_thumbnails(conn: Any, album_ids: list[str]) -> bool:
    if not album_ids:
        return False
    return conn.execute(f"SELECT 1 FROM album WHERE id IN ({marks(album_ids)}) AND {_STALE} LIMIT 1",
                        album_ids).fetchone() is not None


def update_thumbnails(conn: Any, album_ids: list[str]) -> None:
    """Upstream updateThumbnails, for these albums: drop thumbnails that left the album, fill empty ones."""
    if not album_ids:
        return
    conn.execute(
        f"UPDATE album SET album_thumbnail_asset_id = ({_CANDIDATE} ORDER BY a.file_created_at DESC LIMIT 1), "
        f"updated_at = ? WHERE id IN ({marks(album_ids)}) AND {_STALE}", [ids.now_iso(), *album_ids])
