"""External libraries (upstream LibraryController; admin only, enforced from the spec's x-immich-admin-only)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import library

ROUTES = [
    route("getAllLibraries", lambda ctx, auth, c: library.get_all(ctx)),
    route("createLibrary", lambda ctx, auth, c: library.create(ctx, c.body)),
    route("getLibrary", lambda ctx, auth, c: library.get(ctx, c.params["id"])),
    route("updateLibrary", lambda ctx, auth, c: library.update(ctx, c.params["id"], c.body), patch_twin=True),
    route("deleteLibrary", lambda ctx, auth, c: library.delete(ctx, c.params["id"])),
    route("getLibraryStatistics", lambda ctx, auth, c: library.statistics(ctx, c.params["id"])),
    route("validate", lambda ctx, auth, c: library.validate(ctx, c.params["id"], c.body)),
    route("scanLibrary", lambda ctx, auth, c: library.queue_scan(ctx, c.params["id"])),
]
