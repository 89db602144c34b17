"""Map: GPS markers of the caller's (and optionally partners' and albums') assets, offline reverse geocoding."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import map as map_service

ROUTES = [
    route("getMapMarkers", lambda ctx, auth, c: map_service.get_map_markers(ctx, auth, c.query)),
    route("reverseGeocode", lambda ctx, auth, c: map_service.reverse_geocode(ctx, c.query)),
]
