"""Sending files from disk: Range (206/416) via Starlette's FileResponse, plus ETag/Last-Modified → 304."""
from __future__ import annotations

from email.utils import parsedate_to_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from immich_lite.services.asset_media import FileInfo, Redirect


def content_disposition(kind: str, filename: str) -> str:
    # RFC 6266/5987: no raw CR/LF or quotes from user data ever reach the header
    safe = "".join(c for c in filename if c.isprintable() and c not in '"\\\r\n')
    return f"{kind}; filename*=UTF-8''{quote(safe, safe='')}"


def send(request: Request, result: FileInfo | Redirect, disposition: str = "inline") -> Response:
    if isinstance(result, Redirect):
        return RedirectResponse(result.location, status_code=302)
    st = result.path.stat()
    headers = {
        "Cache-Control": result.cache,
        "Content-Disposition": content_disposition(disposition, result.filename),
        "X-Content-Type-Options": "nosniff",
    }
    if not result.content_type.startswith(("image/", "video/", "audio/")) or result.content_type == "image/svg+xml":
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        headers["Content-Disposition"] = content_disposition("attachment", result.filename)
    resp = FileResponse(result.path, media_type=result.content_type, headers=headers, stat_result=st)
    etag = resp.headers.get("etag", "")
    inm = request.headers.get("if-none-match")
    if inm is not None:
        if etag and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            return _not_modified(resp)
    elif (ims := request.headers.get("if-modified-since")) is not None:
        try:
            if int(st.st_mtime) <= parsedate_to_datetime(ims).timestamp():
                return _not_modified(resp)
        except (TypeError, ValueError):
            pass
    return resp


def _not_modified(resp: FileResponse) -> Response:
    keep = {k: v for k, v in resp.headers.items() if k in ("etag", "last-modified", "cache-control")}
    return Response(status_code=304, headers=keep)
