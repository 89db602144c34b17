"""The v2 sync stream (upstream SyncService): JSON lines per entity type, per-session checkpoints, backfills.

`stream()` is a generator of byte chunks (one page of rows each) that the HTTP layer sends as it goes, so memory
stays flat whatever the library size. The upper bound `now_id` is taken under the writer lock: every write that
committed before it has smaller update ids, every later write larger ones, so nothing falls between two syncs.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Callable

from immich_lite import ids
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto import sync as maps
from immich_lite.errors import BadRequest, Forbidden
from immich_lite.repos import sync as repo

PAGE = 1000
COMPLETE = "complete"
MAX_DAYS = 30
DEPRECATED = {"AssetsV1": "AssetsV2", "PartnerAssetsV1": "PartnerAssetsV2", "AlbumAssetsV1": "AlbumAssetsV2",
              "AssetFacesV1": "AssetFacesV2"}
ORDER = ["AuthUsersV1", "UsersV1", "PartnersV1", "AssetsV1", "AssetsV2", "StacksV1", "PartnerAssetsV1",
         "PartnerAssetsV2", "PartnerStacksV1", "AlbumAssetsV1", "AlbumAssetsV2", "AlbumsV1", "AlbumsV2",
         "AlbumUsersV1", "AlbumToAssetsV1", "AssetExifsV1", "AlbumAssetExifsV1", "AssetOcrV1", "PartnerAssetExifsV1",
         "MemoriesV1", "MemoryToAssetsV1", "PeopleV1", "AssetFacesV1", "AssetFacesV2", "UserMetadataV1",
         "AssetMetadataV1", "AssetEditsV1"]

Mapper = Callable[[dict[str, Any]], dict[str, Any]]


def _session(auth: AuthContext) -> dict[str, Any]:
    if auth.session is None:
        raise Forbidden("Sync endpoints cannot be used with API keys")
    return auth.session


def parse_ack(ack: str) -> tuple[str, str, str | None]:
    parts = ack.split("|", 2)
    return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None


def line(type_: str, data: dict[str, Any], ack_type: str, *ack_ids: str) -> str:
    return json.dumps({"type": type_, "data": data, "ack": "|".join([ack_type, *ack_ids])},
                      separators=(",", ":")) + "\n"


# --- payload mappers ------------------------------------------------------------------------------

def _user(r: dict[str, Any]) -> dict[str, Any]:
    from immich_lite.dto.user import avatar_color  # noqa: PLC0415

    return {"id": r["id"], "name": r["name"], "email": r["email"], "avatarColor": r["avatar_color"] and avatar_color(r),
            "deletedAt": r["deleted_at"], "hasProfileImage": bool(r["profile_image_path"]),
            "profileChangedAt": r["profile_changed_at"]}


def _auth_user(r: dict[str, Any]) -> dict[str, Any]:
    return {**_user(r), "isAdmin": bool(r["is_admin"]), "pinCode": r["pin_code"], "oauthId": r["oauth_id"],
            "storageLabel": r["storage_label"], "quotaSizeInBytes": r["quota_size_in_bytes"],
            "quotaUsageInBytes": r["quota_usage_in_bytes"]}


def _album(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "name": r["album_name"], "description": r["description"] or "",
            "createdAt": r["created_at"], "updatedAt": r["updated_at"], "thumbnailAssetId": r["album_thumbnail_asset_id"],
            "isActivityEnabled": bool(r["is_activity_enabled"]), "order": r["order"]}


def _partner_asset(r: dict[str, Any]) -> dict[str, Any]:
    return {**maps.map_sync_asset(r), "isFavorite": False}  # favourites are the owner's


def _album_asset(me: str) -> Mapper:
    def m(r: dict[str, Any]) -> dict[str, Any]:
        out = maps.map_sync_asset(r)
        out["isFavorite"] = bool(r["is_favorite"]) and r["owner_id"] == me
        return out
    return m


def _stack(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "ownerId": r["owner_id"], "primaryAssetId": r["primary_asset_id"],
            "createdAt": r["created_at"], "updatedAt": r["updated_at"]}


def _memory(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "ownerId": r["owner_id"], "type": r["type"], "data": json.loads(r["data"]),
            "isSaved": bool(r["is_saved"]), "memoryAt": r["memory_at"], "seenAt": r["seen_at"], "showAt": r["show_at"],
            "hideAt": r["hide_at"], "createdAt": r["created_at"], "updatedAt": r["updated_at"],
            "deletedAt": r["deleted_at"]}


def _person(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "ownerId": r["owner_id"], "name": r["name"], "birthDate": r["birth_date"],
            "isHidden": bool(r["is_hidden"]), "isFavorite": bool(r["is_favorite"]), "color": r["color"],
            "faceAssetId": r["face_asset_id"], "createdAt": r["created_at"], "updatedAt": r["updated_at"]}


def _face(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "assetId": r["asset_id"], "personId": r["person_id"], "imageWidth": r["image_width"],
            "imageHeight": r["image_height"], "boundingBoxX1": r["bounding_box_x1"],
            "boundingBoxY1": r["bounding_box_y1"], "boundingBoxX2": r["bounding_box_x2"],
            "boundingBoxY2": r["bounding_box_y2"], "sourceType": r["source_type"], "isVisible": bool(r["is_visible"]),
            "deletedAt": r["deleted_at"]}


def _cols(**names: str) -> Mapper:
    """Map snake_case columns to camelCase keys; JSON text columns named value are decoded."""
    def m(r: dict[str, Any]) -> dict[str, Any]:
        return {k: (json.loads(r[v]) if v == "value" else r[v]) for k, v in names.items()}
    return m


MAPPERS: dict[str, Mapper] = {
    "AuthUserV1": _auth_user, "UserV1": _user, "UserDeleteV1": _cols(userId="user_id"),
    "PartnerV1": lambda r: {"sharedById": r["shared_by_id"], "sharedWithId": r["shared_with_id"],
                            "inTimeline": bool(r["in_timeline"])},
    "PartnerDeleteV1": _cols(sharedById="shared_by_id", sharedWithId="shared_with_id"),
    "AssetV2": maps.map_sync_asset, "AssetDeleteV1": _cols(assetId="asset_id"),
    "AssetExifV1": maps.map_sync_exif, "AssetMetadataV1": _cols(assetId="asset_id", key="key", value="value"),
    "AssetMetadataDeleteV1": _cols(assetId="asset_id", key="key"),
    "StackV1": _stack, "StackDeleteV1": _cols(stackId="stack_id"),
    "PartnerAssetV2": _partner_asset, "PartnerAssetBackfillV2": _partner_asset,
    "PartnerAssetDeleteV1": _cols(assetId="asset_id"),
    "PartnerAssetExifV1": maps.map_sync_exif, "PartnerAssetExifBackfillV1": maps.map_sync_exif,
    "PartnerStackV1": _stack, "PartnerStackBackfillV1": _stack, "PartnerStackDeleteV1": _cols(stackId="stack_id"),
    "AlbumV2": _album, "AlbumDeleteV1": _cols(albumId="album_id"),
    "AlbumUserV1": _cols(albumId="album_id", userId="user_id", role="role"),
    "AlbumUserBackfillV1": _cols(albumId="album_id", userId="user_id", role="role"),
    "AlbumUserDeleteV1": _cols(albumId="album_id", userId="user_id"),
    "AlbumToAssetV1": _cols(albumId="album_id", assetId="asset_id"),
    "AlbumToAssetBackfillV1": _cols(albumId="album_id", assetId="asset_id"),
    "AlbumToAssetDeleteV1": _cols(albumId="album_id", assetId="asset_id"),
    "AlbumAssetExifCreateV1": maps.map_sync_exif, "AlbumAssetExifUpdateV1": maps.map_sync_exif,
    "AlbumAssetExifBackfillV1": maps.map_sync_exif,
    "MemoryV1": _memory, "MemoryDeleteV1": _cols(memoryId="memory_id"),
    "MemoryToAssetV1": _cols(memoryId="memory_id", assetId="asset_id"),
    "MemoryToAssetDeleteV1": _cols(memoryId="memory_id", assetId="asset_id"),
    "PersonV1": _person, "PersonDeleteV1": _cols(personId="person_id"),
    "AssetFaceV2": _face, "AssetFaceDeleteV1": _cols(assetFaceId="asset_face_id"),
    "UserMetadataV1": _cols(userId="user_id", key="key", value="value"),
    "UserMetadataDeleteV1": _cols(userId="user_id", key="key"),
    "AssetEditV1": lambda r: {"id": r["id"], "assetId": r["asset_id"], "action": r["action"],
                              "parameters": json.loads(r["parameters"]), "sequence": r["sequence"]},
    "AssetEditDeleteV1": _cols(editId="edit_id"),
    "AssetOcrV1": lambda r: {"id": r["id"], "assetId": r["asset_id"], "x1": r["x1"], "y1": r["y1"], "x2": r["x2"],
                             "y2": r["y2"], "x3": r["x3"], "y3": r["y3"], "x4": r["x4"], "y4": r["y4"],
                             "boxScore": r["box_score"], "textScore": r["text_score"], "text": r["text"],
                             "isVisible": bool(r["is_visible"])},
    "AssetOcrDeleteV1": _cols(id="id", assetId="asset_id", deletedAt="deleted_at"),
}

# request type → (entity types streamed in order: deletes first); backfilled types are handled separately
PLAIN: dict[str, tuple[str, ...]] = {
    "AuthUsersV1": ("AuthUserV1",), "UsersV1": ("UserDeleteV1", "UserV1"),
    "PartnersV1": ("PartnerDeleteV1", "PartnerV1"), "AssetsV2": ("AssetDeleteV1", "AssetV2"),
    "StacksV1": ("StackDeleteV1", "StackV1"), "AlbumsV2": ("AlbumDeleteV1", "AlbumV2"),
    "AssetExifsV1": ("AssetExifV1",), "MemoriesV1": ("MemoryDeleteV1", "MemoryV1"),
    "MemoryToAssetsV1": ("MemoryToAssetDeleteV1", "MemoryToAssetV1"), "PeopleV1": ("PersonDeleteV1", "PersonV1"),
    "AssetFacesV2": ("AssetFaceDeleteV1", "AssetFaceV2"),
    "UserMetadataV1": ("UserMetadataDeleteV1", "UserMetadataV1"),
    "AssetMetadataV1": ("AssetMetadataDeleteV1", "AssetMetadataV1"),
    "AssetEditsV1": ("AssetEditDeleteV1", "AssetEditV1"),
    "AssetOcrV1": ("AssetOcrDeleteV1", "AssetOcrV1"),
}
# request type → (delete type or None, backfill type, upsert type, kind of parent)
BACKFILLED: dict[str, tuple[str | None, str, str, str]] = {
    "PartnerAssetsV2": ("PartnerAssetDeleteV1", "PartnerAssetBackfillV2", "PartnerAssetV2", "partner"),
    "PartnerAssetExifsV1": (None, "PartnerAssetExifBackfillV1", "PartnerAssetExifV1", "partner"),
    "PartnerStacksV1": ("PartnerStackDeleteV1", "PartnerStackBackfillV1", "PartnerStackV1", "partner"),
    "AlbumUsersV1": ("AlbumUserDeleteV1", "AlbumUserBackfillV1", "AlbumUserV1", "album"),
    "AlbumToAssetsV1": ("AlbumToAssetDeleteV1", "AlbumToAssetBackfillV1", "AlbumToAssetV1", "album"),
}
# request type → (backfill, create, update) for album assets and their exif
ALBUM_CONTENT: dict[str, tuple[str, str, str]] = {
    "AlbumAssetsV2": ("AlbumAssetBackfillV2", "AlbumAssetCreateV2", "AlbumAssetUpdateV2"),
    "AlbumAssetExifsV1": ("AlbumAssetExifBackfillV1", "AlbumAssetExifCreateV1", "AlbumAssetExifUpdateV1"),
}


class _Stream:
    def __init__(self, ctx: Ctx, auth: AuthContext, now_id: str, checkpoints: dict[str, tuple[str, str, str | None]]):
        self.ctx, self.me, self.now_id, self.cp = ctx, auth.user_id, now_id, checkpoints
        self.session_id = _session(auth)["id"]
        self.album_asset = _album_asset(self.me)

    def _map(self, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        if entity.startswith("AlbumAsset") and not entity.startswith("AlbumAssetExif"):
            return self.album_asset(row)
        return MAPPERS[entity](row)

    def _pages(self, entity: str, after: str | None, params: dict[str, Any] | None = None,
               upto: str | None = None, query: str | None = None) -> Iterator[list[dict[str, Any]]]:
        args = {"me": self.me, **(params or {})}
        while True:
            rows = repo.page(self.ctx.db.reader(), query or entity, args, after, self.now_id, PAGE, upto)
            if not rows:
                return
            yield rows
            if len(rows) < PAGE:
                return
            after = rows[-1]["cursor"]

    def plain(self, entity: str, ack_type: str | None = None) -> Iterator[str]:
        after = self.cp.get(entity, (None, None, None))[1] or None
        for rows in self._pages(entity, after):
            yield "".join(line(entity, self._map(entity, r), ack_type or entity, r["cursor"]) for r in rows)

    def backfilled(self, req: str) -> Iterator[str]:
        delete, backfill, upsert, kind = BACKFILLED[req]
        if delete:
            yield from self.plain(delete)
        yield from self._backfill(backfill, upsert, kind, upsert)
        yield from self.plain(upsert)

    def _backfill(self, backfill: str, marker: str, kind: str, end_type: str) -> Iterator[str]:
        """Parents (partners/albums) that appeared after the client's checkpoint get their older rows resent."""
        bcp = self.cp.get(backfill)
        parents = repo.created_after(self.ctx.db.reader(), kind, self.me, bcp[1] if bcp else None, self.now_id)
        end = self.cp.get(end_type)
        if end is None:
            if parents:  # first sync: nothing to backfill, remember where we are (upsertBackfillCheckpoint)
                with self.ctx.db.write() as conn:
                    repo.upsert_checkpoints(conn, self.session_id, {
                        backfill: f"{backfill}|{parents[-1]['create_id']}|{COMPLETE}"}, ids.now_iso())
            return
        for parent in parents:
            create_id = parent["create_id"]
            if bcp and bcp[1] == create_id and bcp[2] == COMPLETE:
                continue
            start = bcp[2] if bcp and bcp[1] == create_id else None
            key = {"partner": "owner", "album": "album"}[kind]
            for rows in self._pages(backfill, start, {key: parent["id"]}, upto=end[1]):
                yield "".join(line(backfill, self._map(backfill, r), backfill, create_id, r["cursor"]) for r in rows)
            yield line("SyncAckV1", {}, backfill, create_id, COMPLETE)

    def album_content(self, req: str) -> Iterator[str]:
        backfill, create, update = ALBUM_CONTENT[req]
        yield from self._backfill(backfill, create, "album", create)
        created = self.cp.get(create)
        if created:
            after = self.cp.get(update, (None, None, None))[1] or None
            for rows in self._pages(update, after, {"known": created[1]}):
                yield "".join(line(update, self._map(update, r), update, r["cursor"]) for r in rows)
        first = True
        for rows in self._pages(create, created[1] if created else None):
            if first:  # upstream: updates are known up to now once creates start flowing
                yield line("SyncAckV1", {}, update, self.now_id)
                first = False
            yield "".join(line(create, self._map(create, r), create, r["cursor"]) for r in rows)

    def albums_v1(self) -> Iterator[str]:
        yield from self.plain("AlbumDeleteV1")
        after = self.cp.get("AlbumV1", (None, None, None))[1] or None
        for rows in self._pages("AlbumV1", after, query="AlbumV2"):
            out = []
            for r in rows:
                data = {**_album(r), "ownerId": r["owner_id"]}
                out.append(line("AlbumV1", data, "AlbumV1", r["cursor"]))
            yield "".join(out)


def stream(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> Iterator[bytes]:
    """Validate and prepare (raises before anything is sent), then return the generator of chunks."""
    session = _session(auth)
    types = list(dict.fromkeys(dto["types"]))
    for t in types:
        if t in DEPRECATED:
            raise BadRequest(f"SyncRequestType.{t} is deprecated, use SyncRequestType.{DEPRECATED[t]} instead")
    if dto.get("reset"):
        reset_progress(ctx, session["id"])
    conn = ctx.db.reader()
    row = conn.execute("SELECT is_pending_sync_reset FROM session WHERE id = ?", (session["id"],)).fetchone()
    cps = {r["type"]: parse_ack(r["ack"]) for r in repo.checkpoints(conn, session["id"])}
    if (row and row["is_pending_sync_reset"]) or _too_old(cps.get("SyncCompleteV1")):
        return iter([line("SyncResetV1", {}, "SyncResetV1", "reset").encode()])
    with ctx.db.write_lock():
        now_id = ids.uuid7()
    s = _Stream(ctx, auth, now_id, cps)
    return _generate(s, types)


def _generate(s: _Stream, types: list[str]) -> Iterator[bytes]:
    for req in ORDER:
        if req not in types:
            continue
        if req in PLAIN:
            parts: Iterator[str] = (chunk for e in PLAIN[req] for chunk in s.plain(e))
        elif req in BACKFILLED:
            parts = s.backfilled(req)
        elif req in ALBUM_CONTENT:
            parts = s.album_content(req)
        elif req == "AlbumsV1":
            parts = s.albums_v1()
        else:
            continue
        for chunk in parts:
            yield chunk.encode()
    yield line("SyncCompleteV1", {}, "SyncCompleteV1", s.now_id).encode()


def _too_old(complete: tuple[str, str, str | None] | None) -> bool:
    # audit rows live 31 days; a client last complete more than 30 days ago cannot be caught up by deltas
    if not complete or not complete[1]:
        return False
    try:
        return ids.uuid7_ms(complete[1]) < (ids.utcnow() - timedelta(days=MAX_DAYS)).timestamp() * 1000
    except ValueError:
        return True


def reset_progress(ctx: Ctx, session_id: str) -> None:
    with ctx.db.write() as conn:
        repo.delete_checkpoints(conn, session_id, None)
        conn.execute("UPDATE session SET is_pending_sync_reset = 0 WHERE id = ?", (session_id,))


def get_acks(ctx: Ctx, auth: AuthContext) -> list[dict[str, str]]:
    session = _session(auth)
    return [{"type": r["type"], "ack": r["ack"]} for r in repo.checkpoints(ctx.db.reader(), session["id"])]


def set_acks(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    from immich_lite import spec  # noqa: PLC0415

    session = _session(auth)
    known = set(spec.enum_values("SyncEntityType"))
    latest: dict[str, str] = {}
    for ack in dto["acks"]:
        type_ = parse_ack(ack)[0]
        if type_ == "SyncResetV1":
            reset_progress(ctx, session["id"])
            return
        if type_ not in known:
            raise BadRequest(f"Invalid ack type: {type_}")
        latest[type_] = ack
    with ctx.db.write() as conn:
        repo.upsert_checkpoints(conn, session["id"], latest, ids.now_iso())


def delete_acks(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    session = _session(auth)
    with ctx.db.write() as conn:
        repo.delete_checkpoints(conn, session["id"], dto.get("types"))


def _register() -> None:
    from immich_lite import jobs  # noqa: PLC0415

    @jobs.register(jobs.JobName.AUDIT_TABLE_CLEANUP, jobs.QueueName.BACKGROUND_TASK)
    def audit_cleanup(ctx: Ctx, data: dict[str, Any]) -> Any:
        cutoff = ids.iso(ids.utcnow() - timedelta(days=MAX_DAYS + 1))
        with ctx.db.write() as conn:
            repo.prune_audit(conn, cutoff)  # type: ignore[arg-type]
        return jobs.JobStatus.SUCCESS


_register()
