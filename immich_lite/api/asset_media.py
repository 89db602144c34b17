"""Upload, bulk upload check, and the byte routes: original, thumbnail, video playback."""
from __future__ import annotations

import shutil
from typing import Any

from starlette.responses import JSONResponse, Response

from immich_lite import ids
from immich_lite.api import files, multipart
from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, disk_full_error
from immich_lite.services import asset_media as svc

SLACK = 1024 * 1024  # form fields and sidecar around the file; the exact quota check is in svc.create
# free space an upload must leave on the data dir's filesystem: the database, its WAL and the thumbnails of what
# is already there must still fit (a full disk is where SQLite refuses writes)
FREE_SPACE_MARGIN = 64 * 1024 * 1024


def _check_free_space(ctx: Ctx, call: Call) -> None:
    """Refuse before a byte is written when the body (its Content-Length) would not leave FREE_SPACE_MARGIN."""
    assert call.request is not None
    try:
        length = max(0, int(call.request.headers.get("content-length") or 0))
    except ValueError:
        length = 0
    free = shutil.disk_usage(ctx.storage.root).free
    if free < length + FREE_SPACE_MARGIN:
        raise disk_full_error(f"{free // 2**20} MiB free, an upload of {length // 2**20} MiB refused")


def _before_upload(ctx: Ctx, auth: Any, call: Call) -> tuple[bytes | None, str | None, int | None]:
    """Database reads before the body: the x-immich-checksum duplicate pre-check and the remaining quota."""
    assert call.request is not None
    claimed = None
    if header := call.request.headers.get("x-immich-checksum"):
        claimed = svc.parse_checksum(header)
        if claimed is None:
            raise BadRequest("Invalid x-immich-checksum header")
        if dup := svc.find_duplicate(ctx, auth, claimed):
            return claimed, dup, None  # a duplicate is answered even on a full disk: nothing is written
    _check_free_space(ctx, call)
    return claimed, None, svc.remaining_quota(ctx, auth)


async def upload(ctx: Ctx, auth: Any, call: Call) -> Response:
    request = call.request
    assert request is not None
    claimed, dup, quota = call.prepared
    if dup is not None:
        return JSONResponse({"id": dup, "status": "duplicate"}, status_code=200)
    asset_id = ids.new_id()

    def create(form: multipart.Form) -> tuple[dict[str, Any], int]:  # in a worker thread, every file fsynced
        if claimed is not None and form.checksums.get("assetData") not in (None, claimed):
            raise BadRequest("The file's checksum does not match x-immich-checksum")
        return svc.create(ctx, auth, asset_id, form.fields, form.files, form.checksums)

    form = await multipart.receive(
        request, file_fields={"assetData", "sidecarData"}, check_file=svc.check_file,
        new_temp=lambda field, _name: svc.temp_path(ctx, asset_id, field),
        max_bytes=None if quota is None else quota + SLACK, commit=("assetData", create))
    body, status = form.result
    if status != 201:  # a duplicate found at commit time: its temp file was not moved into place
        await form.abort()
    return JSONResponse(body, status_code=status)


def _query_string(call: Call) -> str:
    q = call.request.url.query if call.request else ""
    return f"?{q}" if q else ""


ROUTES = [
    route("uploadAsset", upload, raw=True, prepare=_before_upload),
    route("checkBulkUpload", lambda ctx, auth, c: svc.bulk_upload_check(ctx, auth, c.body)),
    route("downloadAsset", lambda ctx, auth, c: files.send(
        c.request, svc.original(ctx, auth, c.params["id"], bool(c.query.get("edited"))))),
    route("viewAsset", lambda ctx, auth, c: files.send(
        c.request, svc.thumbnail(ctx, auth, c.params["id"], c.query.get("size", "thumbnail"), _query_string(c),
        bool(c.query.get("edited"))))),
    route("playAssetVideo", lambda ctx, auth, c: files.send(c.request, svc.playback(ctx, auth, c.params["id"]))),
]
