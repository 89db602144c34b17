"""SQL for people and asset faces."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.repos import marks

Row = dict[str, Any]

_TIMELINE_ASSET = "a.visibility = 'timeline' AND a.deleted_at IS NULL"


def get(conn: Any, person_id: str) -> Row | None:
    r = conn.execute("SELECT * FROM person WHERE id = ?", (person_id,)).fetchone()
    return dict(r) if r else None


def insert(conn: Any, owner_id: str, **values: Any) -> Row:
    now = ids.now_iso()
    row = {"id": ids.new_id(), "owner_id": owner_id, "created_at": now, "updated_at": now, **values}
    conn.execute(f"INSERT INTO person ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return get(conn, row["id"])  # type: ignore[return-value]


def update(conn: Any, person_id: str, **values: Any) -> Row:
    values["updated_at"] = ids.now_iso()
    conn.execute(f"UPDATE person SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                 [*values.values(), person_id])
    return get(conn, person_id)  # type: ignore[return-value]


def delete_many(conn: Any, person_ids: list[str]) -> list[Row]:
    """Delete people; returns their rows (for the thumbnail files). Faces keep existing, unassigned."""
    rows = [p for p in (get(conn, i) for i in person_ids) if p]
    for p in rows:
        conn.execute("UPDATE asset_face SET person_id = NULL WHERE person_id = ?", (p["id"],))
        conn.execute("DELETE FROM person WHERE id = ?", (p["id"],))
    return rows


def list_for_user(conn: Any, user_id: str, *, with_hidden: bool, minimum_faces: int, offset: int,
                  limit: int, closest_face_id: str | None = None) -> list[Row]:
    """Upstream getAllForUser; with `closest_face_id`, people ordered by how close their feature face's embedding
    is to that face's (face_search, sqlite-vec's vec_distance_l2, among embeddings of its size) instead of by name
    and face count."""
    found = conn.execute("SELECT embedding FROM face_search WHERE face_id = ?",
                         (closest_face_id,)).fetchone() if closest_face_id else None
    # a face without an embedding (exif, manual, an unknown id) gives the usual order, as upstream's NULL distances
    if found is not None:
        order = ("(d.distance IS NULL) ASC, d.distance ASC")
        join = ("LEFT JOIN (SELECT s.face_id, vec_distance_l2(s.embedding, ?) AS distance FROM face_search s "
                "WHERE s.owner_id = ? AND length(s.embedding) = ?) d ON d.face_id = p.face_asset_id ")
        args: tuple[Any, ...] = (found["embedding"], user_id, len(found["embedding"]), user_id, minimum_faces, limit,
                                 offset)
    else:
        order = ("(p.name = '') ASC, count(f.asset_id) DESC, CASE WHEN p.name = '' THEN 1 ELSE 0 END, p.name ASC, "
                 "p.created_at ASC")
        join = ""
        args = (user_id, minimum_faces, limit, offset)
    sql = (f"SELECT p.*, count(f.asset_id) AS face_count FROM person p JOIN asset_face f ON f.person_id = p.id "
           f"JOIN asset a ON a.id = f.asset_id AND {_TIMELINE_ASSET} {join}"
           "WHERE p.owner_id = ? AND f.deleted_at IS NULL AND f.is_visible = 1"
           + ("" if with_hidden else " AND p.is_hidden = 0") +
           " GROUP BY p.id HAVING p.name != '' OR count(f.asset_id) >= ? "
           f"ORDER BY p.is_hidden ASC, p.is_favorite DESC, {order} LIMIT ? OFFSET ?")
    return [dict(r) for r in conn.execute(sql, args)]


def count_for_user(conn: Any, user_id: str) -> tuple[int, int]:
    r = conn.execute(
        "SELECT count(*) AS total, coalesce(sum(p.is_hidden), 0) AS hidden FROM person p WHERE p.owner_id = ? "
        "AND EXISTS (SELECT 1 FROM asset_face f JOIN asset a ON a.id = f.asset_id WHERE f.person_id = p.id "
        f"AND f.deleted_at IS NULL AND f.is_visible = 1 AND {_TIMELINE_ASSET})", (user_id,)).fetchone()
    return int(r["total"]), int(r["hidden"])


def asset_count(conn: Any, person_id: str) -> int:
    return int(conn.execute(
        "SELECT count(DISTINCT a.id) AS n FROM asset_face f LEFT JOIN asset a ON a.id = f.asset_id "
        f"AND {_TIMELINE_ASSET} WHERE f.person_id = ? AND f.deleted_at IS NULL AND f.is_visible = 1",
        (person_id,)).fetchone()["n"])


def get_face(conn: Any, face_id: str) -> Row | None:
    r = conn.execute("SELECT * FROM asset_face WHERE id = ? AND deleted_at IS NULL", (face_id,)).fetchone()
    return dict(r) if r else None


def faces_of_asset(conn: Any, asset_id: str) -> list[Row]:
    return [dict(r) for r in conn.execute(
        "SELECT * FROM asset_face WHERE asset_id = ? AND deleted_at IS NULL AND is_visible = 1 "
        "ORDER BY bounding_box_x1 ASC", (asset_id,))]


def faces_by_pairs(conn: Any, pairs: list[tuple[str, str]]) -> list[Row]:
    """Upstream getFacesByIds: faces whose asset is one of the assetIds and person one of the personIds."""
    if not pairs:
        return []
    assets, people = [a for a, _ in pairs], [p for _, p in pairs]
    return [dict(r) for r in conn.execute(
        f"SELECT * FROM asset_face WHERE asset_id IN ({marks(assets)}) "
        f"AND person_id IN ({marks(people)}) AND deleted_at IS NULL", [*assets, *people])]


def any_face(conn: Any, person_id: str) -> Row | None:
    r = conn.execute("SELECT * FROM asset_face WHERE person_id = ? AND deleted_at IS NULL AND is_visible = 1 "
                     "LIMIT 1", (person_id,)).fetchone()
    return dict(r) if r else None


def face_for_feature(conn: Any, person_id: str, asset_id: str) -> Row | None:
    r = conn.execute("SELECT f.id FROM asset_face f JOIN asset a ON a.id = f.asset_id AND a.is_offline = 0 "
                     "WHERE f.asset_id = ? AND f.person_id = ?", (asset_id, person_id)).fetchone()
    return dict(r) if r else None


def insert_face(conn: Any, **values: Any) -> str:
    row = {"id": ids.new_id(), **values}
    conn.execute(f"INSERT INTO asset_face ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                 list(row.values()))
    return row["id"]


def reassign_face(conn: Any, face_id: str, person_id: str) -> None:
    conn.execute("UPDATE asset_face SET person_id = ? WHERE id = ?", (person_id, face_id))
