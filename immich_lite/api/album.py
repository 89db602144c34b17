"""Albums: listing, CRUD, assets, members, statistics and map markers."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import album

ROUTES = [
    route("getAllAlbums", lambda ctx, auth, c: album.get_all(ctx, auth, c.query)),
    route("createAlbum", lambda ctx, auth, c: album.create(ctx, auth, c.body)),
    route("getAlbumStatistics", lambda ctx, auth, c: album.get_statistics(ctx, auth)),
    route("getAlbumInfo", lambda ctx, auth, c: album.get(ctx, auth, c.params["id"])),
    route("updateAlbumInfo", lambda ctx, auth, c: album.update(ctx, auth, c.params["id"], c.body)),
    route("deleteAlbum", lambda ctx, auth, c: album.delete(ctx, auth, c.params["id"])),
    route("getAlbumMapMarkers", lambda ctx, auth, c: album.get_map_markers(ctx, auth, c.params["id"])),
    route("addAssetsToAlbum", lambda ctx, auth, c: album.add_assets(ctx, auth, c.params["id"], c.body)),
    route("addAssetsToAlbums", lambda ctx, auth, c: album.add_assets_to_albums(ctx, auth, c.body)),
    route("removeAssetFromAlbum", lambda ctx, auth, c: album.remove_assets(ctx, auth, c.params["id"], c.body)),
    route("addUsersToAlbum", lambda ctx, auth, c: album.add_users(ctx, auth, c.params["id"], c.body)),
    route("updateAlbumUser", lambda ctx, auth, c: album.update_user(ctx, auth, c.params["id"], c.params["userId"],
                                                                    c.body)),
    route("removeUserFromAlbum",
          lambda ctx, auth, c: album.remove_user(ctx, auth, c.params["id"], c.params["userId"])),
]
