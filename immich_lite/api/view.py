"""Folder view (upstream ViewController)."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import view

ROUTES = [
    route("getUniqueOriginalPaths", lambda ctx, auth, c: view.unique_paths(ctx, auth)),
    route("getAssetsByOriginalPath", lambda ctx, auth, c: view.assets_by_path(ctx, auth, c.query["path"])),
]
