"""Tags (upstream TagController)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import tag

ROUTES = [
    route("getAllTags", lambda ctx, auth, c: tag.get_all(ctx, auth)),
    route("createTag", lambda ctx, auth, c: tag.create(ctx, auth, c.body)),
    route("upsertTags", lambda ctx, auth, c: tag.upsert(ctx, auth, c.body)),
    route("bulkTagAssets", lambda ctx, auth, c: tag.bulk_tag_assets(ctx, auth, c.body)),
    route("getTagById", lambda ctx, auth, c: tag.get(ctx, auth, c.params["id"])),
    route("updateTag", lambda ctx, auth, c: tag.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteTag", lambda ctx, auth, c: tag.delete(ctx, auth, c.params["id"])),
    route("tagAssets", lambda ctx, auth, c: tag.add_assets(ctx, auth, c.params["id"], c.body)),
    route("untagAssets", lambda ctx, auth, c: tag.remove_assets(ctx, auth, c.params["id"], c.body)),
]
