"""Assets (info, updates, deletion, statistics, key/value metadata) and trash."""
from __future__ import annotations

from immich_lite.api.routing import route
from immich_lite.services import asset, asset_edit, ocr, trash

ROUTES = [
    route("getAssetStatistics", lambda ctx, auth, c: asset.statistics(ctx, auth, c.query)),
    route("getAssetInfo", lambda ctx, auth, c: asset.get(ctx, auth, c.params["id"])),
    route("updateAsset", lambda ctx, auth, c: asset.update(ctx, auth, c.params["id"], c.body), patch_twin=True),
    route("updateAssets", lambda ctx, auth, c: asset.update_all(ctx, auth, c.body), patch_twin=True),
    route("deleteAssets", lambda ctx, auth, c: asset.delete_all(ctx, auth, c.body)),
    route("getAssetMetadata", lambda ctx, auth, c: asset.get_metadata(ctx, auth, c.params["id"])),
    route("getAssetMetadataByKey",
          lambda ctx, auth, c: asset.get_metadata_by_key(ctx, auth, c.params["id"], c.params["key"])),
    route("updateAssetMetadata", lambda ctx, auth, c: asset.upsert_metadata(ctx, auth, c.params["id"], c.body)),
    route("deleteAssetMetadata", lambda ctx, auth, c: asset.delete_metadata(ctx, auth, c.params["id"], c.params["key"])),
    route("updateBulkAssetMetadata", lambda ctx, auth, c: asset.upsert_bulk_metadata(ctx, auth, c.body)),
    route("deleteBulkAssetMetadata", lambda ctx, auth, c: asset.delete_bulk_metadata(ctx, auth, c.body)),
    route("copyAsset", lambda ctx, auth, c: asset.copy(ctx, auth, c.body)),
    route("runAssetJobs", lambda ctx, auth, c: asset.run_jobs(ctx, auth, c.body)),
    route("getAssetEdits", lambda ctx, auth, c: asset_edit.get(ctx, auth, c.params["id"])),
    route("editAsset", lambda ctx, auth, c: asset_edit.edit(ctx, auth, c.params["id"], c.body)),
    route("removeAssetEdits", lambda ctx, auth, c: asset_edit.remove(ctx, auth, c.params["id"])),
    route("getAssetOcr", lambda ctx, auth, c: ocr.get_ocr(ctx, auth, c.params["id"])),
    # Trash
    route("restoreTrash", lambda ctx, auth, c: trash.restore(ctx, auth)),
    route("restoreAssets", lambda ctx, auth, c: trash.restore_assets(ctx, auth, c.body)),
    route("emptyTrash", lambda ctx, auth, c: trash.empty(ctx, auth)),
]
