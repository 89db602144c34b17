"""Timeline buckets (upstream TimelineService): month counts and one month's assets as parallel arrays."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from immich_lite.access import require_access
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, Unauthorized, ValidationFailed, invalid
from immich_lite.repos import timeline as repo
from immich_lite.validation import Validator

WITH_PARTNERS_ERROR = "withPartners is only supported for non-archived, non-trashed, non-favorited, non-locked assets"
# '2024-01-01', also '+2024-01-01' and the ISO form older web builds sent ('2024-01-01T00:00:00.000Z')
_BUCKET_RE = re.compile(r"^[+-]?0*(\d{4})-(\d{2})-(\d{2})(?:T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$")


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """'west,south,east,north' as upstream's TimeBucketDto bbox (a transform piped into BBoxSchema); east < west
    crosses the antimeridian.

    :raises ValidationFailed: not four numbers, out of range, or north below south (upstream's issues).
    """
    parts = value.split(",")
    if len(parts) != 4:
        raise invalid(["bbox"], "bbox must have 4 comma-separated numbers: west,south,east,north")
    numbers = [_js_number(p) for p in parts]
    if any(n != n for n in numbers):
        raise invalid(["bbox"], "bbox parts must be valid numbers")
    west, south, east, north = numbers
    v = Validator(lambda s: s)
    for name, n, limit in (("west", west, 180), ("south", south, 90), ("east", east, 180), ("north", north, 90)):
        v.check(n, {"type": "number", "minimum": -limit, "maximum": limit}, ["bbox", name])
    if v.issues:
        raise ValidationFailed(v.issues)
    if north < south:
        raise invalid(["bbox", "north"], "North latitude must be greater than or equal to south latitude")
    return west, south, east, north


def _js_number(text: str) -> float:
    """JavaScript's Number(text): blank is 0, anything unreadable NaN."""
    t = text.strip()
    if not t:
        return 0.0
    try:
        return float(t)
    except ValueError:
        return float("nan")


def _checks(conn: Any, auth: AuthContext, q: dict[str, Any]) -> repo.TimelineFilter:
    """Upstream timeBucketChecks + buildTimeBucketOptions, in its order (bbox is part of its DTO validation)."""
    bbox = parse_bbox(q["bbox"]) if q.get("bbox") else None
    visibility = q.get("visibility")
    if visibility == "locked" and not auth.is_elevated:
        raise Unauthorized("Elevated permission is required")
    user_id = q.get("userId")
    if q.get("albumId"):
        require_access(conn, auth, "album.read", [q["albumId"]])
    else:
        user_id = user_id or auth.user_id
    if user_id:
        require_access(conn, auth, "timeline.read", [user_id])
        if visibility == "archive":
            require_access(conn, auth, "archive.read", [user_id])
        if visibility == "locked" and user_id != auth.user_id:
            raise BadRequest("You may not access another user's locked timeline")
    if q.get("tagId"):
        require_access(conn, auth, "tag.read", [q["tagId"]])
    if q.get("personId"):
        require_access(conn, auth, "person.read", [q["personId"]])  # upstream checks no access here
    link = auth.shared_link
    hide_exif = link is not None and not link["show_exif"]
    with_partners = bool(q.get("withPartners"))
    if with_partners and (visibility in (None, "archive", "locked") or q.get("isFavorite") is not None
                          or q.get("isTrashed") is True):
        raise BadRequest(WITH_PARTNERS_ERROR)
    user_ids = None
    if user_id:
        user_ids = [user_id]
        if with_partners:
            user_ids += [p for p in repo.partner_ids(conn, auth.user_id, in_timeline=True) if p not in user_ids]
    return repo.TimelineFilter(
        caller_id=auth.user_id, user_ids=user_ids, album_id=q.get("albumId"), person_id=q.get("personId"),
        tag_id=q.get("tagId"), is_favorite=q.get("isFavorite"), is_trashed=q.get("isTrashed"),
        visibility=visibility, with_stacked=bool(q.get("withStacked")),
        with_coordinates=bool(q.get("withCoordinates")) and not hide_exif, with_place=not hide_exif, bbox=bbox,
        order=q.get("order") or "desc", order_by=q.get("orderBy") or "takenAt")


def get_time_buckets(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    """[{timeBucket: 'YYYY-MM-01', count}] ordered by month."""
    with ctx.db.read() as conn:
        f = _checks(conn, auth, q)
        rows = repo.get_time_buckets(conn, f)
    return [{"timeBucket": m + "-01", "count": n} for m, n in rows]


def get_time_bucket(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> str:
    """One month as pre-serialised TimeBucketAssetResponseDto JSON (parallel arrays), like upstream's to_json."""
    with ctx.db.read() as conn:
        f = _checks(conn, auth, q)
        m = _BUCKET_RE.match(q["timeBucket"].strip())
        # upstream compares date_trunc(month) with the value: only the first of a month ever matches
        obj, hexes = repo.get_time_bucket(conn, f"{m.group(1)}-{m.group(2)}" if m and m.group(3) == "01" else "", f)
    b64, fromhex = base64.b64encode, bytes.fromhex
    thumbhash = [b64(fromhex(h)).decode() if h else None for h in json.loads(hexes)]
    return f'{obj[:-1]},"thumbhash":{json.dumps(thumbhash, separators=(",", ":"))}}}'
