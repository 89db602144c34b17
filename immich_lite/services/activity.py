"""Album activity: comments and likes (upstream ActivityService)."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user
from immich_lite.errors import BadRequest, invalid
from immich_lite.repos import user as user_repo

_UNSET = object()


def _map(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    user = user_repo.get(conn, row["user_id"], with_deleted=True)
    assert user is not None
    return {"id": row["id"], "createdAt": row["created_at"], "type": "like" if row["is_liked"] else "comment",
            "user": map_user(user), "assetId": row["asset_id"], "comment": row["comment"]}


def _search(conn: Any, *, album_id: str, user_id: str | None = None, asset_id: Any = _UNSET,
            is_liked: bool | None = None) -> list[dict[str, Any]]:
    """Upstream's search: asset_id None means album-level; unset means any. Only non-deleted users' rows."""
    sql = ("SELECT ac.* FROM activity ac JOIN \"user\" u ON u.id = ac.user_id AND u.deleted_at IS NULL "
           "LEFT JOIN asset a ON a.id = ac.asset_id WHERE ac.album_id = ? "
           "AND (ac.asset_id IS NULL OR a.deleted_at IS NULL)")
    args: list[Any] = [album_id]
    if user_id is not None:
        sql += " AND ac.user_id = ?"
        args.append(user_id)
    if asset_id is None:
        sql += " AND ac.asset_id IS NULL"
    elif asset_id is not _UNSET:
        sql += " AND ac.asset_id = ?"
        args.append(asset_id)
    if is_liked is not None:
        sql += " AND ac.is_liked = ?"
        args.append(int(is_liked))
    return [dict(r) for r in conn.execute(sql + " ORDER BY ac.created_at ASC", args)]


def get_all(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    require_access(conn, auth, "album.read", [q["albumId"]])
    asset: Any = None if q.get("level") == "album" else q.get("assetId", _UNSET)
    # upstream: isLiked = type && type === LIKE → only "like" filters; "comment" yields false → comments only
    liked = None if "type" not in q else q["type"] == "like"
    rows = _search(conn, album_id=q["albumId"], user_id=q.get("userId"), asset_id=asset, is_liked=liked)
    return [_map(conn, r) for r in rows]


def statistics(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> dict[str, int]:
    conn = ctx.db.reader()
    require_access(conn, auth, "album.read", [q["albumId"]])
    sql = ("SELECT coalesce(sum(ac.is_liked = 0), 0) AS comments, coalesce(sum(ac.is_liked = 1), 0) AS likes "
           "FROM activity ac JOIN \"user\" u ON u.id = ac.user_id AND u.deleted_at IS NULL "
           "LEFT JOIN asset a ON a.id = ac.asset_id WHERE ac.album_id = ? "
           "AND (ac.asset_id IS NULL OR (a.deleted_at IS NULL AND a.visibility != 'locked'))")
    args: list[Any] = [q["albumId"]]
    if q.get("assetId"):
        sql += " AND ac.asset_id = ?"
        args.append(q["assetId"])
    r = conn.execute(sql, args).fetchone()
    return {"comments": int(r["comments"]), "likes": int(r["likes"])}


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(ActivityResponseDto, created): an existing like is answered, not duplicated."""
    kind = dto["type"]
    comment = dto.get("comment")
    if kind == "comment" and not (comment and comment.strip()):
        raise invalid(["comment"], "Comment is required when type is COMMENT")
    if kind != "comment" and comment:
        raise invalid(["comment"], "Comment must not be provided when type is not COMMENT")
    with ctx.db.write() as conn:
        require_access(conn, auth, "activity.create", [dto["albumId"]])
        asset_id = dto.get("assetId")
        if asset_id and not conn.execute("SELECT 1 FROM album_asset WHERE album_id = ? AND asset_id = ?",
                                         (dto["albumId"], asset_id)).fetchone():
            # upstream inserts and fails on the foreign key (a 500); an asset outside the album is a 400 here
            raise BadRequest("Not found or no activity.create access")
        if kind == "like":
            found = _search(conn, album_id=dto["albumId"], user_id=auth.user_id, asset_id=asset_id, is_liked=True)
            if found:
                return _map(conn, found[0]), False
        now = ids.now_iso()
        aid = ids.new_id()
        conn.execute("INSERT INTO activity (id, album_id, user_id, asset_id, comment, is_liked, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (aid, dto["albumId"], auth.user_id, asset_id, comment if kind == "comment" else None,
                      int(kind == "like"), now, now))
        row = conn.execute("SELECT * FROM activity WHERE id = ?", (aid,)).fetchone()
        return _map(conn, dict(row)), True


def delete(ctx: Ctx, auth: AuthContext, activity_id: str) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "activity.delete", [activity_id])
        conn.execute("DELETE FROM activity WHERE id = ?", (activity_id,))
