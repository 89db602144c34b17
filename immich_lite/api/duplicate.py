"""Duplicates (upstream DuplicateController)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import duplicate

ROUTES = [
    route("getAssetDuplicates", lambda ctx, auth, c: duplicate.get_all(ctx, auth)),
    route("resolveDuplicates", lambda ctx, auth, c: duplicate.resolve(ctx, auth, c.body)),
    route("deleteDuplicates", lambda ctx, auth, c: duplicate.delete_all(ctx, auth, c.body)),
    route("deleteDuplicate", lambda ctx, auth, c: duplicate.delete(ctx, auth, c.params["id"])),
]
