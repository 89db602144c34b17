"""SQL for the v2 sync stream (upstream sync.repository.ts): one query per entity, keyset-paged.

Every query takes `:me` (the user), `:after` (exclusive cursor, '' for none), `:before` (exclusive upper bound:
the stream's nowId) and `:lim`, and returns rows ordered by the cursor column `cursor`. Paging by cursor instead of
holding one open statement keeps memory flat and lets each page run on any threadpool thread.
"""
from __future__ import annotations

from typing import Any

AUDIT = "id AS cursor"
PARTNERS_OF_ME = "SELECT shared_by_id FROM partner WHERE shared_with_id = :me"
MY_ALBUMS = ("SELECT id FROM album WHERE owner_id = :me AND deleted_at IS NULL "
             "UNION SELECT album_id FROM album_user WHERE user_id = :me")
ASSET_COLS = ("a.id, a.owner_id, a.original_file_name, a.thumbhash, a.checksum, a.file_created_at, "
              "a.file_modified_at, a.local_date_time, a.created_at, a.duration, a.type, a.deleted_at, a.is_favorite, "
              "a.visibility, a.live_photo_video_id, a.stack_id, a.library_id, a.width, a.height, a.is_edited")
EXIF_COLS = "e.*"
ALBUM_MEMBERS = ("SELECT album_id, user_id, role, update_id AS cursor FROM album_user UNION ALL "
                 "SELECT id, owner_id, 'owner', update_id FROM album WHERE deleted_at IS NULL")
CURSOR_EXPR = {"AlbumUserV1": "x.cursor", "AlbumUserBackfillV1": "x.cursor"}
USER_COLS = "u.id, u.name, u.email, u.avatar_color, u.deleted_at, u.profile_image_path, u.profile_changed_at"

# name → SQL (without the paging tail). `:after`/`:before` bind the cursor column.
QUERIES: dict[str, str] = {
    # users
    "AuthUserV1": f"SELECT {USER_COLS}, u.is_admin, u.pin_code, u.oauth_id, u.storage_label, u.quota_size_in_bytes, "
                  "u.quota_usage_in_bytes, u.update_id AS cursor FROM \"user\" u WHERE u.id = :me",
    "UserDeleteV1": f"SELECT {AUDIT}, user_id FROM user_audit WHERE 1=1",
    "UserV1": f"SELECT {USER_COLS}, u.update_id AS cursor FROM \"user\" u WHERE 1=1",
    # partners
    "PartnerDeleteV1": f"SELECT {AUDIT}, shared_by_id, shared_with_id FROM partner_audit "
                       "WHERE (shared_by_id = :me OR shared_with_id = :me)",
    "PartnerV1": "SELECT shared_by_id, shared_with_id, in_timeline, update_id AS cursor FROM partner "
                 "WHERE (shared_by_id = :me OR shared_with_id = :me)",
    # own assets
    "AssetDeleteV1": f"SELECT {AUDIT}, asset_id FROM asset_audit WHERE owner_id = :me",
    "AssetV2": f"SELECT {ASSET_COLS}, a.update_id AS cursor FROM asset a WHERE a.owner_id = :me",
    # CROSS JOIN keeps the cursor table outermost: pages walk its update_id index instead of sorting
    "AssetExifV1": f"SELECT {EXIF_COLS}, e.update_id AS cursor FROM asset_exif e CROSS JOIN asset a "
                   "ON a.id = e.asset_id WHERE a.owner_id = :me",
    "AssetMetadataDeleteV1": f"SELECT {AUDIT}, asset_id, key FROM asset_metadata_audit "
                             "WHERE asset_id IN (SELECT id FROM asset WHERE owner_id = :me)",
    "AssetMetadataV1": "SELECT m.asset_id, m.key, m.value, m.update_id AS cursor FROM asset_metadata m "
                       "CROSS JOIN asset a ON a.id = m.asset_id WHERE a.owner_id = :me",
    # stacks
    "StackDeleteV1": f"SELECT {AUDIT}, stack_id FROM stack_audit WHERE user_id = :me",
    "StackV1": "SELECT id, owner_id, primary_asset_id, created_at, updated_at, update_id AS cursor FROM stack "
               "WHERE owner_id = :me",
    # partners' data
    "PartnerAssetDeleteV1": f"SELECT {AUDIT}, asset_id FROM asset_audit WHERE owner_id IN ({PARTNERS_OF_ME})",
    # a partner's locked assets never reach me (not even their metadata), unlike upstream
    "PartnerAssetV2": f"SELECT {ASSET_COLS}, a.update_id AS cursor FROM asset a INDEXED BY asset_update_idx "
                      f"WHERE a.owner_id IN ({PARTNERS_OF_ME}) AND a.visibility != 'locked'",
    "PartnerAssetBackfillV2": f"SELECT {ASSET_COLS}, a.update_id AS cursor FROM asset a WHERE a.owner_id = :owner "
                              "AND a.visibility != 'locked'",
    "PartnerAssetExifV1": f"SELECT {EXIF_COLS}, e.update_id AS cursor FROM asset_exif e CROSS JOIN asset a "
                          f"ON a.id = e.asset_id WHERE a.owner_id IN ({PARTNERS_OF_ME}) AND a.visibility != 'locked'",
    "PartnerAssetExifBackfillV1": f"SELECT {EXIF_COLS}, e.update_id AS cursor FROM asset_exif e "
                                  "CROSS JOIN asset a ON a.id = e.asset_id WHERE a.owner_id = :owner "
                                  "AND a.visibility != 'locked'",
    "PartnerStackDeleteV1": f"SELECT {AUDIT}, stack_id FROM stack_audit WHERE user_id IN ({PARTNERS_OF_ME})",
    "PartnerStackV1": "SELECT id, owner_id, primary_asset_id, created_at, updated_at, update_id AS cursor FROM stack "
                      f"WHERE owner_id IN ({PARTNERS_OF_ME})",
    "PartnerStackBackfillV1": "SELECT id, owner_id, primary_asset_id, created_at, updated_at, update_id AS cursor "
                              "FROM stack WHERE owner_id = :owner",
    # albums
    "AlbumDeleteV1": f"SELECT {AUDIT}, album_id FROM album_audit WHERE user_id = :me",
    "AlbumV2": "SELECT id, album_name, description, created_at, updated_at, album_thumbnail_asset_id, "
               f"is_activity_enabled, \"order\", owner_id, update_id AS cursor FROM album WHERE id IN ({MY_ALBUMS})",
    "AlbumUserDeleteV1": f"SELECT {AUDIT}, album_id, user_id FROM album_user_audit WHERE album_id IN ({MY_ALBUMS})",
    # the owner lives in album.owner_id; clients expect it as a member row with role 'owner' (3.x AlbumUserRole)
    "AlbumUserV1": f"SELECT x.* FROM ({ALBUM_MEMBERS}) x WHERE x.album_id IN ({MY_ALBUMS})",
    "AlbumUserBackfillV1": f"SELECT x.* FROM ({ALBUM_MEMBERS}) x WHERE x.album_id = :album",
    "AlbumToAssetDeleteV1": f"SELECT {AUDIT}, album_id, asset_id FROM album_asset_audit WHERE album_id IN ({MY_ALBUMS})",
    "AlbumToAssetV1": "SELECT album_id, asset_id, update_id AS cursor FROM album_asset "
                      f"WHERE album_id IN ({MY_ALBUMS})",
    "AlbumToAssetBackfillV1": "SELECT album_id, asset_id, update_id AS cursor FROM album_asset WHERE album_id = :album",
    "AlbumAssetCreateV2": f"SELECT {ASSET_COLS}, aa.update_id AS cursor FROM album_asset aa JOIN asset a "
                          f"ON a.id = aa.asset_id WHERE aa.album_id IN ({MY_ALBUMS}) AND a.visibility != 'locked'",
    "AlbumAssetUpdateV2": f"SELECT DISTINCT {ASSET_COLS}, a.update_id AS cursor FROM asset a JOIN album_asset aa "
                          f"ON aa.asset_id = a.id WHERE aa.album_id IN ({MY_ALBUMS}) AND aa.update_id <= :known "
                          "AND a.visibility != 'locked'",
    "AlbumAssetBackfillV2": f"SELECT {ASSET_COLS}, aa.update_id AS cursor FROM album_asset aa JOIN asset a "
                            "ON a.id = aa.asset_id WHERE aa.album_id = :album AND a.visibility != 'locked'",
    "AlbumAssetExifCreateV1": f"SELECT {EXIF_COLS}, aa.update_id AS cursor FROM album_asset aa JOIN asset_exif e "
                              f"ON e.asset_id = aa.asset_id WHERE aa.album_id IN ({MY_ALBUMS})",
    "AlbumAssetExifUpdateV1": f"SELECT DISTINCT {EXIF_COLS}, e.update_id AS cursor FROM asset_exif e JOIN album_asset aa "
                              f"ON aa.asset_id = e.asset_id WHERE aa.album_id IN ({MY_ALBUMS}) AND aa.update_id <= :known",
    "AlbumAssetExifBackfillV1": f"SELECT {EXIF_COLS}, aa.update_id AS cursor FROM album_asset aa JOIN asset_exif e "
                                "ON e.asset_id = aa.asset_id WHERE aa.album_id = :album",
    # memories, people, metadata
    "MemoryDeleteV1": f"SELECT {AUDIT}, memory_id FROM memory_audit WHERE user_id = :me",
    "MemoryV1": "SELECT *, update_id AS cursor FROM memory WHERE owner_id = :me",
    "MemoryToAssetDeleteV1": f"SELECT {AUDIT}, memory_id, asset_id FROM memory_asset_audit "
                             "WHERE memory_id IN (SELECT id FROM memory WHERE owner_id = :me)",
    "MemoryToAssetV1": "SELECT memory_id, asset_id, update_id AS cursor FROM memory_asset "
                       "WHERE memory_id IN (SELECT id FROM memory WHERE owner_id = :me)",
    "PersonDeleteV1": f"SELECT {AUDIT}, person_id FROM person_audit WHERE owner_id = :me",
    "PersonV1": "SELECT *, update_id AS cursor FROM person WHERE owner_id = :me",
    "AssetFaceDeleteV1": f"SELECT {AUDIT}, asset_face_id FROM asset_face_audit "
                         "WHERE asset_id IN (SELECT id FROM asset WHERE owner_id = :me)",
    "AssetFaceV2": "SELECT f.*, f.update_id AS cursor FROM asset_face f CROSS JOIN asset a ON a.id = f.asset_id "
                   "WHERE a.owner_id = :me",
    "UserMetadataDeleteV1": f"SELECT {AUDIT}, user_id, key FROM user_metadata_audit WHERE user_id = :me",
    # non-destructive edits
    "AssetEditDeleteV1": f"SELECT {AUDIT}, edit_id FROM asset_edit_audit "
                         "WHERE asset_id IN (SELECT id FROM asset WHERE owner_id = :me)",
    "AssetEditV1": "SELECT ed.id, ed.asset_id, ed.action, ed.parameters, ed.sequence, ed.update_id AS cursor "
                   "FROM asset_edit ed CROSS JOIN asset a ON a.id = ed.asset_id WHERE a.owner_id = :me",
    "UserMetadataV1": "SELECT user_id, key, value, update_id AS cursor FROM user_metadata WHERE user_id = :me",
    # text read in photos (services/ocr.py)
    "AssetOcrDeleteV1": f"SELECT {AUDIT}, id, asset_id, deleted_at FROM asset_ocr_audit "
                        "WHERE asset_id IN (SELECT id FROM asset WHERE owner_id = :me)",
    "AssetOcrV1": "SELECT o.*, o.update_id AS cursor FROM asset_ocr o CROSS JOIN asset a ON a.id = o.asset_id "
                  "WHERE a.owner_id = :me",
}


def page(conn: Any, name: str, params: dict[str, Any], after: str | None, before: str, limit: int,
         upto: str | None = None) -> list[dict[str, Any]]:
    """One page of `name`: cursor in (after, before) — and ≤ upto for backfills — ordered by cursor."""
    sql = QUERIES[name]
    col = "cursor"
    expr = CURSOR_EXPR.get(name) or _cursor_expr(sql)
    where = [f"{expr} < :before"]
    if after:
        where.append(f"{expr} > :after")
    if upto:
        where.append(f"{expr} <= :upto")
    full = f"SELECT * FROM ({sql} AND {' AND '.join(where)}) ORDER BY {col} LIMIT :lim"
    return list(conn.execute(full, {**params, "after": after, "before": before, "upto": upto, "lim": limit}))


def _cursor_expr(sql: str) -> str:
    """The column expression aliased AS cursor, so the bound applies inside the subquery (index-friendly)."""
    head = sql.split(" AS cursor", 1)[0]
    return head.rsplit(",", 1)[-1].replace("SELECT", "").replace("DISTINCT", "").strip()


def created_after(conn: Any, kind: str, me: str, after_create_id: str | None, now_id: str) -> list[dict[str, Any]]:
    """Partners (sharing with me) or albums (I am in) created after a backfill checkpoint, by create id."""
    if kind == "partner":
        sql = ("SELECT shared_by_id AS id, create_id FROM partner WHERE shared_with_id = :me AND create_id < :now "
               + ("AND create_id >= :after " if after_create_id else "") + "ORDER BY create_id")
    else:
        sql = ("SELECT album_id AS id, create_id FROM album_user WHERE user_id = :me AND create_id < :now "
               + ("AND create_id >= :after " if after_create_id else "") + "ORDER BY create_id")
    return list(conn.execute(sql, {"me": me, "now": now_id, "after": after_create_id}))


def checkpoints(conn: Any, session_id: str) -> list[dict[str, Any]]:
    return list(conn.execute("SELECT type, ack FROM session_sync_checkpoint WHERE session_id = ? ORDER BY type",
                             (session_id,)))


def upsert_checkpoints(conn: Any, session_id: str, acks: dict[str, str], now: str) -> None:
    for type_, ack in acks.items():
        conn.execute("INSERT INTO session_sync_checkpoint (session_id, type, ack, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, type) DO UPDATE SET ack = excluded.ack, "
                     "updated_at = excluded.updated_at", (session_id, type_, ack, now, now))


def delete_checkpoints(conn: Any, session_id: str, types: list[str] | None) -> None:
    if types is None:
        conn.execute("DELETE FROM session_sync_checkpoint WHERE session_id = ?", (session_id,))
        return
    for t in types:
        conn.execute("DELETE FROM session_sync_checkpoint WHERE session_id = ? AND type = ?", (session_id, t))


AUDIT_TABLES = ("user_audit", "user_metadata_audit", "stack_audit", "asset_audit", "asset_metadata_audit",
                "album_audit", "album_user_audit", "album_asset_audit", "partner_audit", "memory_audit",
                "memory_asset_audit", "person_audit", "asset_face_audit", "asset_edit_audit",
                "asset_ocr_audit")


def prune_audit(conn: Any, before_iso: str) -> int:
    total = 0
    for table in AUDIT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE deleted_at < ?", (before_iso,))
        total += conn.changes()
    return total
