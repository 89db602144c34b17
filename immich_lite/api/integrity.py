"""Maintenance (admin): integrity reports — summary, paged list, CSV export, flagged file download, item delete.

The reports are written by the IntegrityCheck jobs (services/integrity.py; POST /jobs integrity-* names).
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from starlette.responses import FileResponse, Response

from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.services import integrity as svc

NO_CACHE = "private, no-cache, no-transform"  # upstream CacheControl.PrivateWithoutCache


def get_summary(ctx: Ctx, auth: Any, call: Call) -> dict[str, int]:
    return svc.summary(ctx)


def get_report(ctx: Ctx, auth: Any, call: Call) -> dict[str, Any]:
    q = call.query
    return svc.report(ctx, q["type"], q.get("cursor"), q.get("limit"))


def get_csv(ctx: Ctx, auth: Any, call: Call) -> Response:
    type_ = call.params["type"]
    body = "".join(svc.csv_lines(ctx, type_))
    name = quote(f"{int(time.time() * 1000)}-{type_}.csv")
    return Response(body, media_type="text/csv", headers={
        "Cache-Control": NO_CACHE, "Content-Disposition": f'attachment; filename="{name}"'})


def get_file(ctx: Ctx, auth: Any, call: Call) -> Response:
    path = svc.report_file(ctx, call.params["id"])
    return FileResponse(path, media_type="application/octet-stream", filename=path.name,
                        headers={"Cache-Control": NO_CACHE})


def delete_item(ctx: Ctx, auth: Any, call: Call) -> None:
    svc.delete_item(ctx, call.params["id"])


ROUTES = [
    route("getIntegrityReportSummary", get_summary),
    route("getIntegrityReport", get_report),
    route("getIntegrityReportCsv", get_csv),
    route("getIntegrityReportFile", get_file),
    route("deleteIntegrityReport", delete_item),
]
