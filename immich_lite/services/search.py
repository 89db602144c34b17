"""Asset search (upstream SearchService: searchMetadata, searchStatistics, searchRandom, searchLargeAssets,
searchSmart). Structured filters are SQL (repos.search); text filters are planned with the index (search.query);
the page is read and mapped here. Explore, places, people and suggestions live in services.search_explore.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from immich_lite import ids
from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.asset import ASSET_COLUMNS, EXIF_COLUMNS, map_search_asset
from immich_lite.errors import BadRequest, Unauthorized
from immich_lite.repos import search as repo
from immich_lite.repos.timeline import partner_ids
from immich_lite.search import query as text_query
from immich_lite.services.person import map_person
from immich_lite.services.search_index import view

DEFAULT_SIZE = 250
SHARED_LINK_NEEDS_ALBUM = "Shared link access is only allowed in combination with an albumIds filter"
_DATE_KEYS = ("createdBefore", "createdAfter", "updatedBefore", "updatedAfter", "trashedBefore", "trashedAfter",
              "takenBefore", "takenAfter")


def require_elevated(auth: AuthContext, dto: dict[str, Any]) -> None:
    if dto.get("visibility") == "locked" and not auth.is_elevated:
        raise Unauthorized("Elevated permission is required")


def user_ids_to_search(conn: Any, auth: AuthContext, visibility: str | None = None) -> list[str]:
    """Me and the partners shown in my timeline (upstream getUserIdsToSearch); locked assets are only ever mine."""
    if visibility == "locked":
        return [auth.user_id]
    return [auth.user_id, *(p for p in partner_ids(conn, auth.user_id, in_timeline=True) if p != auth.user_id)]


def _visibility(auth: AuthContext, dto: dict[str, Any]) -> str | None:
    # upstream: dto.visibility ?? (elevated session ? undefined : 'not-locked')
    if dto.get("visibility") is not None:
        return str(dto["visibility"])
    return None if auth.is_elevated else "not-locked"


def _checksum(value: str) -> bytes:
    """Upstream Buffer.from(checksum, length 28 ? 'base64' : 'hex'): lenient, never an error."""
    if len(value) == 28:
        try:
            return base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
        except (binascii.Error, ValueError):
            return b""
    out = bytearray()
    for i in range(0, len(value) - 1, 2):
        try:
            out.append(int(value[i:i + 2], 16))
        except ValueError:
            break
    return bytes(out)


def build_filter(conn: Any, auth: AuthContext, dto: dict[str, Any], *, user_ids: list[str] | None,
                 album_ids: list[str] | None = None) -> repo.Filter:
    """The DTO's structured filters (BaseSearchSchema and friends) for repos.search.where."""
    f = repo.Filter(caller_id=None if auth.shared_link else auth.user_id, user_ids=user_ids,
                    album_ids=list(album_ids or []), visibility=_visibility(auth, dto))
    if "tagIds" in dto:
        f.tag_ids = dto["tagIds"]  # null: untagged; [] : no filter
    f.person_ids = list(dto.get("personIds") or [])
    f.dates = {k: ids.stored_iso(dto[k]) for k in _DATE_KEYS if dto.get(k)}  # type: ignore[misc]
    f.exif = {k: dto[k] for k in repo.EXIF_COLUMNS if k in dto}
    if dto.get("checksum"):
        f.checksum = _checksum(dto["checksum"])
    f.id, f.library_id = dto.get("id"), dto.get("libraryId")
    f.encoded_video_path, f.type = dto.get("encodedVideoPath"), dto.get("type")
    f.is_favorite, f.is_offline = dto.get("isFavorite"), dto.get("isOffline")
    f.is_encoded, f.is_motion = dto.get("isEncoded"), dto.get("isMotion")
    f.is_not_in_album = bool(dto.get("isNotInAlbum"))
    f.with_stacked = dto.get("withStacked")
    # upstream: withDeleted ||= trashedAfter || trashedBefore || isOffline; never through a shared link
    f.with_deleted = bool(dto.get("withDeleted") or dto.get("trashedAfter") or dto.get("trashedBefore")
                          or dto.get("isOffline")) and auth.shared_link is None
    return f


def _scope(ctx: Ctx, conn: Any, auth: AuthContext, dto: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
    """(owner ids, album ids): albums when given (access-checked; the only way in for a shared link)."""
    album_ids = list(dto.get("albumIds") or [])
    if album_ids:
        require_access(conn, auth, "album.read", album_ids)
        return None, album_ids
    if auth.shared_link is not None:
        raise BadRequest(SHARED_LINK_NEEDS_ALBUM)
    return user_ids_to_search(conn, auth, dto.get("visibility")), []


def _with_text(ctx: Ctx, conn: Any, f: repo.Filter, dto: dict[str, Any],
               window: text_query.Window | None = None) -> text_query.Plan:
    """Plan the text filters (and the index's candidates) into `f`; returns the plan."""
    p = text_query.plan(view(ctx, conn), text_query.text_parts(dto), f, window)
    f.text_sql, f.text_args, f.text_needs_exif, f.keys = p.sql, p.args, p.needs_exif, p.keys
    return p


def _page(ctx: Ctx, conn: Any, f: repo.Filter, dto: dict[str, Any], page: int, size: int) -> list[int]:
    """The page's rowids (+1); when the index handed over a date region too small for the page, widen it."""
    descending = dto.get("order") != "asc"
    need = page * size + 1
    take = need + need // 4 + 50  # the index took most filters already: most candidates pass
    while True:
        p = _with_text(ctx, conn, f, dto, text_query.Window(need, descending, take))
        found = repo.page_keys(conn, f, page=page, size=size, descending=descending)
        if p.complete or len(found) > size:
            return found
        take *= 4


def map_results(conn: Any, auth: AuthContext, keys: list[int], *, with_exif: bool = False,
                with_people: bool = False) -> list[dict[str, Any]]:
    """AssetResponseDto per asset rowid, in order, as upstream maps search rows (no owner, tags or stack)."""
    rows = repo.load(conn, keys, ASSET_COLUMNS, EXIF_COLUMNS if with_exif else None)
    people = repo.people(conn, [a["id"] for a, _ in rows]) if with_people else {}
    link = auth.shared_link
    strip = link is not None and not link["show_exif"]
    return [map_search_asset(a, exif=exif, people=[map_person(p) for p in people.get(a["id"], [])],
                             caller_id=None if link else auth.user_id, strip_metadata=strip)
            for a, exif in rows]


def _response(items: list[dict[str, Any]], next_page: str | None) -> dict[str, Any]:
    return {"albums": {"total": 0, "count": 0, "items": [], "facets": []},
            "assets": {"total": len(items), "count": len(items), "items": items, "facets": [], "nextPage": next_page}}


def search_metadata(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """POST /search/metadata: one page of assets matching every filter, newest first unless order=asc."""
    require_elevated(auth, dto)
    page, size = int(dto.get("page") or 1), int(dto.get("size") or DEFAULT_SIZE)
    with ctx.db.read() as conn:
        user_ids, album_ids = _scope(ctx, conn, auth, dto)
        f = build_filter(conn, auth, dto, user_ids=user_ids, album_ids=album_ids)
        found = _page(ctx, conn, f, dto, page, size)
        has_next = len(found) > size
        items = map_results(conn, auth, found[:size], with_exif=bool(dto.get("withExif")),
                            with_people=bool(dto.get("withPeople")))
    return _response(items, str(page + 1) if has_next else None)


def search_statistics(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, int]:
    """POST /search/statistics: how many assets match (upstream checks scope, then the elevated session)."""
    with ctx.db.read() as conn:
        user_ids = user_ids_to_search(conn, auth, dto.get("visibility"))
        require_elevated(auth, dto)
        f = build_filter(conn, auth, dto, user_ids=user_ids, album_ids=dto.get("albumIds"))
        _with_text(ctx, conn, f, dto)
        if f.album_ids:
            require_access(conn, auth, "album.read", f.album_ids)
        return {"total": repo.count(conn, f)}


def search_random(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> list[dict[str, Any]]:
    require_elevated(auth, dto)
    with ctx.db.read() as conn:
        f = _owned_filter(conn, auth, dto)
        _with_text(ctx, conn, f, dto)
        found = repo.random_keys(conn, f, int(dto.get("size") or DEFAULT_SIZE))
        return map_results(conn, auth, found, with_exif=bool(dto.get("withExif")),
                           with_people=bool(dto.get("withPeople")))


def search_large_assets(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    """POST /search/large-assets (filters in the query string, as upstream's @Query): biggest files first."""
    require_elevated(auth, q)
    with ctx.db.read() as conn:
        f = _owned_filter(conn, auth, q)
        f.min_file_size = int(q.get("minFileSize") or 0)
        _with_text(ctx, conn, f, q)
        found = repo.largest_keys(conn, f, int(q.get("size") or DEFAULT_SIZE))
        # upstream joins the exif row in (withExifInner) for the size order, so it is always in the answer: the
        # web's Large files page shows exifInfo.fileSizeInByte without asking for it
        return map_results(conn, auth, found, with_exif=True)


def _owned_filter(conn: Any, auth: AuthContext, dto: dict[str, Any]) -> repo.Filter:
    """Random and large-assets: scoped to me and my partners; albumIds narrows within that, access-checked."""
    album_ids = list(dto.get("albumIds") or [])
    if album_ids:
        require_access(conn, auth, "album.read", album_ids)
    return build_filter(conn, auth, dto, user_ids=user_ids_to_search(conn, auth, dto.get("visibility")),
                        album_ids=album_ids)


def search_smart(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """POST /search/smart: services/smart_search.py."""
    from immich_lite.services import smart_search  # noqa: PLC0415

    return smart_search.search_smart(ctx, auth, dto)
