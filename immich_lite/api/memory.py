"""Memories."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import memory

ROUTES = [
    route("searchMemories", lambda ctx, auth, c: memory.search(ctx, auth, c.query)),
    route("createMemory", lambda ctx, auth, c: memory.create(ctx, auth, c.body)),
    route("memoriesStatistics", lambda ctx, auth, c: memory.statistics(ctx, auth, c.query)),
    route("getMemory", lambda ctx, auth, c: memory.get(ctx, auth, c.params["id"])),
    route("updateMemory", lambda ctx, auth, c: memory.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteMemory", lambda ctx, auth, c: memory.remove(ctx, auth, c.params["id"])),
    route("addMemoryAssets", lambda ctx, auth, c: memory.add_assets(ctx, auth, c.params["id"], c.body)),
    route("removeMemoryAssets", lambda ctx, auth, c: memory.remove_assets(ctx, auth, c.params["id"], c.body)),
]
