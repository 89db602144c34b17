"""Stacks (upstream StackController)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import stack

ROUTES = [
    route("searchStacks", lambda ctx, auth, c: stack.search(ctx, auth, c.query)),
    route("createStack", lambda ctx, auth, c: stack.create(ctx, auth, c.body)),
    route("deleteStacks", lambda ctx, auth, c: stack.delete_all(ctx, auth, c.body)),
    route("getStack", lambda ctx, auth, c: stack.get(ctx, auth, c.params["id"])),
    route("updateStack", lambda ctx, auth, c: stack.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("deleteStack", lambda ctx, auth, c: stack.delete(ctx, auth, c.params["id"])),
    route("removeAssetFromStack",
          lambda ctx, auth, c: stack.remove_asset(ctx, auth, c.params["id"], c.params["assetId"])),
]
