"""SQL for assets, their exif rows, files and metadata."""
from __future__ import annotations

import json
from typing import Any, Iterable

from immich_lite import ids
from immich_lite.repos import chunked, marks

Row = dict[str, Any]


def get(conn: Any, asset_id: str) -> Row | None:
    return conn.execute("SELECT * FROM asset WHERE id = ?", (asset_id,)).fetchone()


def get_many(conn: Any, asset_ids: Iterable[str]) -> list[Row]:
    idl = list(asset_ids)
    if not idl:
        return []
    return list(conn.execute(f"SELECT * FROM asset WHERE id IN ({marks(idl)})", idl))


def get_by_checksum(conn: Any, owner_id: str, checksum: bytes) -> Row | None:
    return conn.execute("SELECT * FROM asset WHERE owner_id = ? AND checksum = ? AND library_id IS NULL",
                        (owner_id, checksum)).fetchone()


def get_by_checksums(conn: Any, owner_id: str, checksums: list[bytes]) -> list[Row]:
    out: list[Row] = []
    for chunk in chunked(checksums):
        out.extend(conn.execute(
            f"SELECT id, checksum, deleted_at FROM asset WHERE owner_id = ? AND library_id IS NULL "
            f"AND checksum IN ({marks(chunk)})", [owner_id, *chunk]))
    return out


def insert(conn: Any, **values: Any) -> Row:
    now = ids.now_iso()
    row = {"created_at": now, "updated_at": now, **values}
    cols = ", ".join(row)
    conn.execute(f"INSERT INTO asset ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return get(conn, row["id"])  # type: ignore[return-value]


def update(conn: Any, asset_id: str, **values: Any) -> None:
    values.setdefault("updated_at", ids.now_iso())
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE asset SET {sets} WHERE id = ?", [*values.values(), asset_id])


def update_many(conn: Any, asset_ids: list[str], **values: Any) -> None:
    if not asset_ids:
        return
    values.setdefault("updated_at", ids.now_iso())
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE asset SET {sets} WHERE id IN ({marks(asset_ids)})",
                 [*values.values(), *asset_ids])


def delete(conn: Any, asset_id: str) -> None:
    conn.execute("DELETE FROM asset WHERE id = ?", (asset_id,))


def get_exif(conn: Any, asset_id: str) -> Row | None:
    return conn.execute("SELECT * FROM asset_exif WHERE asset_id = ?", (asset_id,)).fetchone()


def upsert_exif(conn: Any, asset_id: str, **values: Any) -> None:
    cols = ["asset_id", *values]
    updates = ", ".join(f"{k} = excluded.{k}" for k in values) or "asset_id = excluded.asset_id"
    conn.execute(f"INSERT INTO asset_exif ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                 f"ON CONFLICT (asset_id) DO UPDATE SET {updates}", [asset_id, *values.values()])


def get_files(conn: Any, asset_id: str) -> list[Row]:
    return list(conn.execute("SELECT * FROM asset_file WHERE asset_id = ?", (asset_id,)))


def get_file(conn: Any, asset_id: str, kind: str, edited: bool = False) -> Row | None:
    return conn.execute("SELECT * FROM asset_file WHERE asset_id = ? AND type = ? AND is_edited = ?",
                        (asset_id, kind, int(edited))).fetchone()


def upsert_file(conn: Any, asset_id: str, kind: str, path: str, edited: bool = False) -> None:
    now = ids.now_iso()
    conn.execute(
        "INSERT INTO asset_file (id, asset_id, type, path, is_edited, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id, type, is_edited) "
        "DO UPDATE SET path = excluded.path, updated_at = excluded.updated_at",
        (ids.new_id(), asset_id, kind, path, int(edited), now, now))


def delete_files(conn: Any, asset_id: str, kinds: Iterable[str]) -> None:
    kl = list(kinds)
    conn.execute(f"DELETE FROM asset_file WHERE asset_id = ? AND type IN ({marks(kl)})",
                 [asset_id, *kl])


def get_metadata(conn: Any, asset_id: str) -> list[Row]:
    return list(conn.execute("SELECT * FROM asset_metadata WHERE asset_id = ? ORDER BY key", (asset_id,)))


def get_metadata_item(conn: Any, asset_id: str, key: str) -> Row | None:
    return conn.execute("SELECT * FROM asset_metadata WHERE asset_id = ? AND key = ?", (asset_id, key)).fetchone()


def upsert_metadata(conn: Any, asset_id: str, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO asset_metadata (asset_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (asset_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (asset_id, key, json.dumps(value), ids.now_iso()))


def delete_metadata(conn: Any, asset_id: str, key: str) -> None:
    conn.execute("DELETE FROM asset_metadata WHERE asset_id = ? AND key = ?", (asset_id, key))


def add_usage(conn: Any, user_id: str, delta: int) -> None:
    conn.execute('UPDATE "user" SET quota_usage_in_bytes = max(0, quota_usage_in_bytes + ?) WHERE id = ?',
                 (delta, user_id))


def statistics(conn: Any, owner_id: str, *, visibility: str | None = None, is_favorite: bool | None = None,
               is_trashed: bool | None = None) -> Row:
    sql = ("SELECT count(*) FILTER (WHERE type = 'IMAGE') AS images, count(*) FILTER (WHERE type = 'VIDEO') AS videos "
           "FROM asset WHERE owner_id = ? AND status != 'deleted'")
    args: list[Any] = [owner_id]
    if visibility is not None:
        sql += " AND visibility = ?"
        args.append(visibility)
    else:
        sql += " AND visibility IN ('archive', 'timeline')"
    if is_favorite is not None:
        sql += " AND is_favorite = ?"
        args.append(int(is_favorite))
    if is_trashed is not None:
        sql += " AND deleted_at IS NOT NULL" if is_trashed else " AND deleted_at IS NULL"
    return conn.execute(sql, args).fetchone()  # type: ignore[no-any-return]
