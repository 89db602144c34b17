"""System metadata: admin onboarding and background-task state."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import system_metadata as svc

ROUTES = [
    route("getAdminOnboarding", lambda ctx, auth, c: svc.get_admin_onboarding(ctx)),
    route("updateAdminOnboarding", lambda ctx, auth, c: svc.update_admin_onboarding(ctx, c.body)),
    route("getReverseGeocodingState", lambda ctx, auth, c: svc.get_reverse_geocoding_state(ctx)),
    route("getVersionCheckState", lambda ctx, auth, c: svc.get_version_check_state(ctx)),
]
