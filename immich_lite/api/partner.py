"""Partners."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import partner

ROUTES = [
    route("getPartners", lambda ctx, auth, c: partner.search(ctx, auth, c.query["direction"])),
    route("createPartner", lambda ctx, auth, c: partner.create(ctx, auth, c.body["sharedWithId"])),
    route("createPartnerDeprecated", lambda ctx, auth, c: partner.create(ctx, auth, c.params["id"])),
    route("updatePartner", lambda ctx, auth, c: partner.update(ctx, auth, c.params["id"], c.body)),
    route("removePartner", lambda ctx, auth, c: partner.remove(ctx, auth, c.params["id"])),
]
