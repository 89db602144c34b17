"""Map markers and reverse geocoding (upstream MapService)."""
from __future__ import annotations

from typing import Any

from immich_lite import ids
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import ValidationFailed
from immich_lite.media import geocode
from immich_lite.repos import timeline as repo
from immich_lite.validation import Validator


def get_map_markers(ctx: Ctx, auth: AuthContext, q: dict[str, Any]) -> list[dict[str, Any]]:
    """MapMarkerResponseDto[] for assets with GPS: mine, plus partners' and my albums' when asked."""
    with ctx.db.read() as conn:
        owner_ids = [auth.user_id]
        if q.get("withPartners"):
            owner_ids += repo.partner_ids(conn, auth.user_id)
        album_ids = repo.album_ids(conn, auth.user_id) if q.get("withSharedAlbums") else []
        rows = repo.map_markers(
            conn, auth.user_id, owner_ids, album_ids, is_archived=q.get("isArchived"),
            is_favorite=q.get("isFavorite"), file_created_after=ids.stored_iso(q.get("fileCreatedAfter")),
            file_created_before=ids.stored_iso(q.get("fileCreatedBefore")))
    return [{"id": i, "lat": lat, "lon": lon, "city": city, "state": state, "country": country}
            for i, lat, lon, city, state, country in rows]



def reverse_geocode(ctx: Ctx, q: dict[str, Any]) -> list[dict[str, Any]]:
    """[{city, state, country}]; all null when nothing is near (upstream always answers one item).

    :raises ValidationFailed: lat outside [-90, 90] or lon outside [-180, 180].
    """
    lat, lon = q["lat"], q["lon"]
    v = Validator(lambda s: s)  # upstream: z.coerce.number().pipe(latitudeSchema | longitudeSchema)
    v.check(lat, {"type": "number", "minimum": -90, "maximum": 90}, ["lat"])
    v.check(lon, {"type": "number", "minimum": -180, "maximum": 180}, ["lon"])
    if v.issues:
        raise ValidationFailed(v.issues)
    hit = geocode.reverse(float(lat), float(lon))
    city, state, country = hit if hit else (None, None, None)
    return [{"city": city, "state": state, "country": country}]
