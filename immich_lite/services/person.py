"""People and faces without machine learning (upstream PersonService): manual faces, merge, reassign, thumbnails."""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from immich_lite import ids, jobs
from immich_lite.access import check_access, require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, NotFound, invalid
from immich_lite.repos import person as repo
from immich_lite.repos import user as user_repo
from immich_lite.services import preferences
from immich_lite.services.asset_media import FileInfo

log = logging.getLogger(__name__)

FACE_THUMBNAIL_SIZE = 250


def map_person(p: dict[str, Any]) -> dict[str, Any]:
    out = {"id": p["id"], "name": p["name"], "birthDate": p["birth_date"], "thumbnailPath": p["thumbnail_path"],
           "isHidden": bool(p["is_hidden"]), "isFavorite": bool(p["is_favorite"]), "updatedAt": p["updated_at"]}
    if p["color"]:
        out["color"] = p["color"]
    return out


def _find(conn: Any, person_id: str) -> dict[str, Any]:
    p = repo.get(conn, person_id)
    if p is None:
        raise BadRequest("Person not found")
    return p


def _check_birth_date(dto: dict[str, Any]) -> None:
    """upstream: birthDate is any string refined by `new Date(val) <= new Date()` (an unreadable date fails it too)."""
    bd = dto.get("birthDate")
    if bd:
        try:
            future = date.fromisoformat(bd[:10]) > ids.utcnow().date()
        except ValueError:
            future = True
        if future:
            raise invalid(["birthDate"], "Birth date cannot be in the future")


def _queue_thumbnail(conn: Any, person_id: str) -> None:
    jobs.enqueue(conn, jobs.JobName.PERSON_GENERATE_THUMBNAIL, {"id": person_id})


def _new_feature_photo(conn: Any, person_ids: list[str]) -> None:
    for pid in dict.fromkeys(person_ids):
        face = repo.any_face(conn, pid)
        if face:
            repo.update(conn, pid, face_asset_id=face["id"])
            _queue_thumbnail(conn, pid)


# --- people ----------------------------------------------------------------------------------------

def get_all(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> dict[str, Any]:
    conn = ctx.db.reader()
    page, size = q.get("page", 1), q.get("size", 500)
    closest = q.get("closestAssetId")  # upstream: a face id, despite the name
    if q.get("closestPersonId"):
        p = repo.get(conn, q["closestPersonId"])
        if not p or not p["face_asset_id"]:
            raise NotFound("Person not found")
        closest = p["face_asset_id"]
    prefs = preferences.resolve(user_repo.get_metadata(conn, auth.user_id, preferences.KEY))
    minimum = int(prefs["people"]["minimumFaces"])
    rows = repo.list_for_user(conn, auth.user_id, with_hidden=bool(q.get("withHidden")), minimum_faces=minimum,
                              offset=(page - 1) * size, limit=size + 1, closest_face_id=closest)
    total, hidden = repo.count_for_user(conn, auth.user_id)
    return {"people": [map_person(p) for p in rows[:size]], "hasNextPage": len(rows) > size,
            "total": total, "hidden": hidden}


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    _check_birth_date(dto)
    values: dict[str, Any] = {}
    for key, col in (("name", "name"), ("birthDate", "birth_date"), ("color", "color")):
        if dto.get(key) is not None:
            values[col] = dto[key]
    for key, col in (("isHidden", "is_hidden"), ("isFavorite", "is_favorite")):
        if key in dto:
            values[col] = int(dto[key])
    with ctx.db.write() as conn:
        return map_person(repo.insert(conn, auth.user_id, **values))


def get(ctx: Ctx, auth: AuthContext, person_id: str) -> dict[str, Any]:
    conn = ctx.db.reader()
    require_access(conn, auth, "person.read", [person_id])
    return map_person(_find(conn, person_id))


def statistics(ctx: Ctx, auth: AuthContext, person_id: str) -> dict[str, int]:
    conn = ctx.db.reader()
    require_access(conn, auth, "person.read", [person_id])
    return {"assets": repo.asset_count(conn, person_id)}


def thumbnail(ctx: Ctx, auth: AuthContext, person_id: str) -> FileInfo:
    conn = ctx.db.reader()
    require_access(conn, auth, "person.read", [person_id])
    p = repo.get(conn, person_id)
    if not p or not p["thumbnail_path"]:
        raise NotFound("Not Found")
    path = ctx.storage.absolute(p["thumbnail_path"])
    if not path.is_file():
        raise NotFound("Not Found")
    return FileInfo(path, "image/jpeg", path.name, cache="private, no-cache, no-transform")


def _update_in(conn: Any, auth: AuthContext, person_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    require_access(conn, auth, "person.update", [person_id])
    values: dict[str, Any] = {}
    asset_id = dto.get("featureFaceAssetId")
    if asset_id:
        require_access(conn, auth, "asset.read", [asset_id])
        face = repo.face_for_feature(conn, person_id, asset_id)
        if not face:
            raise BadRequest("Invalid assetId for feature face or asset is offline")
        values["face_asset_id"] = face["id"]
    if dto.get("name") is not None:
        values["name"] = dto["name"]
    for key, col in (("birthDate", "birth_date"), ("color", "color")):
        if key in dto:
            values[col] = dto[key]
    for key, col in (("isHidden", "is_hidden"), ("isFavorite", "is_favorite")):
        if dto.get(key) is not None:
            values[col] = int(dto[key])
    p = repo.update(conn, person_id, **values) if values else _find(conn, person_id)
    if asset_id:
        _queue_thumbnail(conn, person_id)
    return map_person(p)


def update(ctx: Ctx, auth: AuthContext, person_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    _check_birth_date(dto)
    with ctx.db.write() as conn:
        return _update_in(conn, auth, person_id, dto)


def update_all(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for item in dto["people"]:
        # upstream passes these five fields through (not color)
        sub = {k: item[k] for k in ("isHidden", "name", "birthDate", "featureFaceAssetId", "isFavorite") if k in item}
        try:
            update(ctx, auth, item["id"], sub)
            results.append({"id": item["id"], "success": True})
        except Exception as e:  # noqa: BLE001 (upstream: any failure is "unknown" for that id)
            log.info("unable to update person %s: %s", item["id"], e)
            results.append({"id": item["id"], "success": False, "error": "unknown"})
    return results


def _remove_people(conn: Any, person_ids: list[str]) -> list[str]:
    """Delete the people; returns their stored thumbnail paths, for ctx.storage.remove after COMMIT."""
    return [p["thumbnail_path"] for p in repo.delete_many(conn, person_ids)]


def delete_all(ctx: Ctx, auth: AuthContext, person_ids: list[str]) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "person.delete", person_ids)
        files = _remove_people(conn, list(dict.fromkeys(person_ids)))
    ctx.storage.remove(files)


def merge(ctx: Ctx, auth: AuthContext, person_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    merge_ids = dto["ids"]
    if person_id in merge_ids:
        raise BadRequest("Cannot merge a person into themselves")
    files: list[str] = []
    with ctx.db.write() as conn:
        require_access(conn, auth, "person.update", [person_id])
        primary = _find(conn, person_id)
        allowed = check_access(conn, auth, "person.merge", merge_ids)
        results: list[dict[str, Any]] = []
        for mid in merge_ids:
            if mid not in allowed:
                results.append({"id": mid, "success": False, "error": "no_permission"})
                continue
            other = repo.get(conn, mid)
            if other is None:
                results.append({"id": mid, "success": False, "error": "not_found"})
                continue
            values: dict[str, Any] = {}
            if not primary["name"] and other["name"]:
                values["name"] = other["name"]
            if not primary["birth_date"] and other["birth_date"]:
                values["birth_date"] = other["birth_date"]
            if values:
                primary = repo.update(conn, person_id, **values)
            conn.execute("UPDATE asset_face SET person_id = ? WHERE person_id = ?", (person_id, mid))
            files += _remove_people(conn, [mid])
            results.append({"id": mid, "success": True})
    ctx.storage.remove(files)
    return results


def reassign_faces(ctx: Ctx, auth: AuthContext, person_id: str, dto: dict[str, Any]) -> list[dict[str, Any]]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "person.update", [person_id])
        person = _find(conn, person_id)
        result: list[dict[str, Any]] = []
        changes: list[str] = []
        for item in dto["data"]:
            for face in repo.faces_by_pairs(conn, [(item["assetId"], item["personId"])]):
                require_access(conn, auth, "person.create", [face["id"]])
                if person["face_asset_id"] is None:
                    changes.append(person_id)
                if face["person_id"]:
                    old = repo.get(conn, face["person_id"])
                    if old and old["face_asset_id"] == face["id"]:
                        changes.append(old["id"])
                repo.reassign_face(conn, face["id"], person_id)
            result.append(map_person(person))
        if changes:
            _new_feature_photo(conn, changes)
        return result


def reassign_face_by_id(ctx: Ctx, auth: AuthContext, person_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        require_access(conn, auth, "person.update", [person_id])
        require_access(conn, auth, "person.create", [dto["id"]])
        face = repo.get_face(conn, dto["id"])
        if face is None:
            raise BadRequest("Face not found")
        person = _find(conn, person_id)
        repo.reassign_face(conn, face["id"], person_id)
        if person["face_asset_id"] is None:
            _new_feature_photo(conn, [person_id])
        if face["person_id"]:
            old = repo.get(conn, face["person_id"])
            if old and old["face_asset_id"] == face["id"]:
                _new_feature_photo(conn, [old["id"]])
        return map_person(_find(conn, person_id))


# --- faces -----------------------------------------------------------------------------------------

def _map_face(f: dict[str, Any], person: dict[str, Any] | None, auth: AuthContext) -> dict[str, Any]:
    return {"id": f["id"], "imageWidth": f["image_width"], "imageHeight": f["image_height"],
            "boundingBoxX1": f["bounding_box_x1"], "boundingBoxY1": f["bounding_box_y1"],
            "boundingBoxX2": f["bounding_box_x2"], "boundingBoxY2": f["bounding_box_y2"],
            "sourceType": f["source_type"],
            "person": map_person(person) if person and person["owner_id"] == auth.user_id else None}


def get_faces(ctx: Ctx, auth: AuthContext, asset_id: str) -> list[dict[str, Any]]:
    conn = ctx.db.reader()
    require_access(conn, auth, "asset.read", [asset_id])
    return [_map_face(f, repo.get(conn, f["person_id"]) if f["person_id"] else None, auth)
            for f in repo.faces_of_asset(conn, asset_id)]


def create_face(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "asset.update", [dto["assetId"]])
        require_access(conn, auth, "person.read", [dto["personId"]])
        person = _find(conn, dto["personId"])
        if conn.execute("SELECT 1 FROM asset WHERE id = ?", (dto["assetId"],)).fetchone() is None:
            raise NotFound("Asset not found")
        x, y = dto["x"], dto["y"]
        repo.insert_face(conn, asset_id=dto["assetId"], person_id=dto["personId"], image_width=dto["imageWidth"],
                         image_height=dto["imageHeight"], bounding_box_x1=x, bounding_box_y1=y,
                         bounding_box_x2=x + dto["width"], bounding_box_y2=y + dto["height"], source_type="manual")
        if not person["face_asset_id"]:
            _new_feature_photo(conn, [person["id"]])


def delete_face(ctx: Ctx, auth: AuthContext, face_id: str, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        require_access(conn, auth, "face.delete", [face_id])
        if dto.get("force"):
            conn.execute("DELETE FROM asset_face WHERE id = ?", (face_id,))
        else:
            conn.execute("UPDATE asset_face SET deleted_at = ? WHERE id = ?", (ids.now_iso(), face_id))


# --- thumbnail job ---------------------------------------------------------------------------------

def _crop(face: dict[str, Any], width: int, height: int) -> tuple[int, int, int, int]:
    """Upstream getCrop: a square around the face, 10% larger, kept inside the image (face box rescaled)."""
    sx, sy = width / face["image_width"], height / face["image_height"]
    x1, x2 = face["bounding_box_x1"] * sx, face["bounding_box_x2"] * sx
    y1, y2 = face["bounding_box_y1"] * sy, face["bounding_box_y2"] * sy
    half_w, half_h = (x2 - x1) / 2, (y2 - y1) / 2
    mid_x, mid_y = x1 + half_w, y1 + half_h
    target = int(max(half_w, half_h) * 1.1)
    half = min(mid_x - max(0, mid_x - target), mid_y - max(0, mid_y - target),
               min(width - 1, mid_x + target) - mid_x, min(height - 1, mid_y + target) - mid_y)
    half = max(int(half), 1)
    left, top = max(0, int(round(mid_x - half))), max(0, int(round(mid_y - half)))
    return left, top, min(half * 2, width - left), min(half * 2, height - top)


PREVIEW_WAIT = 10.0  # seconds before a person thumbnail waiting for its asset's preview looks again


@jobs.register(jobs.JobName.PERSON_GENERATE_THUMBNAIL, jobs.QueueName.THUMBNAIL_GENERATION)
def generate_person_thumbnail(ctx: Ctx, data: dict[str, Any]) -> jobs.JobStatus:
    import pyvips  # noqa: PLC0415

    from immich_lite.storage import atomic_write  # noqa: PLC0415

    conn = ctx.db.reader()
    person = repo.get(conn, data["id"])
    if not person or not person["face_asset_id"]:
        return jobs.JobStatus.FAILED
    face = conn.execute("SELECT * FROM asset_face WHERE id = ?", (person["face_asset_id"],)).fetchone()
    if face is None or not face["image_width"] or not face["image_height"]:
        return jobs.JobStatus.FAILED
    preview = conn.execute("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'preview' "
                           "ORDER BY is_edited ASC LIMIT 1", (face["asset_id"],)).fetchone()
    if preview is None:
        made = conn.execute("SELECT thumbnail_generated_at FROM asset_job_status WHERE asset_id = ?",
                            (face["asset_id"],)).fetchone()
        if made is None or made["thumbnail_generated_at"] is None:
            # a face from the file's metadata comes before the preview it is cut from: try again shortly
            with ctx.db.write() as w_conn:
                jobs.enqueue(w_conn, jobs.JobName.PERSON_GENERATE_THUMBNAIL, data, delay=PREVIEW_WAIT)
            return jobs.JobStatus.SKIPPED
        return jobs.JobStatus.FAILED
    image = pyvips.Image.new_from_file(str(ctx.storage.absolute(preview["path"])))
    left, top, w, h = _crop(dict(face), image.width, image.height)
    out = image.crop(left, top, w, h).thumbnail_image(FACE_THUMBNAIL_SIZE, height=FACE_THUMBNAIL_SIZE)
    if out.hasalpha():
        out = out.flatten(background=[255, 255, 255])
    dest = ctx.storage.person_thumb_path(person["owner_id"], person["id"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest) as fh:
        fh.write(out.jpegsave_buffer(Q=80))
    with ctx.db.write() as w_conn:
        w_conn.execute("UPDATE person SET thumbnail_path = ?, updated_at = ? WHERE id = ?",
                       (ctx.storage.relative(dest), ids.now_iso(), person["id"]))
    return jobs.JobStatus.SUCCESS
