"""Users: the caller's account, preferences, onboarding, product key and profile image."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from immich_lite.api.routing import Call, route
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest
from immich_lite.services import preferences
from immich_lite.services import user as svc


async def stream_file_part(ctx: Ctx, request: Request, field: str, accept: Callable[[str], Any]) -> Path:
    """Write the first file part named `field` of a multipart body to a temp file, never holding it in memory.

    `accept(filename)` runs as soon as the part's headers arrive and may raise to refuse the upload.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadRequest("Invalid multipart/form-data request")
    dest = ctx.storage.tmp_path()
    st: dict[str, Any] = {"hf": b"", "hv": b"", "disp": b"", "target": False, "found": False}
    pending: list[bytes] = []

    def on_part_begin() -> None:
        st.update(hf=b"", hv=b"", disp=b"", target=False)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        st["hf"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        st["hv"] += data[start:end]

    def on_header_end() -> None:
        if st["hf"].lower() == b"content-disposition":
            st["disp"] = st["hv"]
        st.update(hf=b"", hv=b"")

    def on_headers_finished() -> None:
        _, opts = parse_options_header(st["disp"])
        if not st["found"] and opts.get(b"name") == field.encode() and b"filename" in opts:
            accept(opts[b"filename"].decode("utf-8", "replace"))
            st.update(target=True, found=True)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st["target"]:
            pending.append(data[start:end])

    def on_part_end() -> None:
        st["target"] = False

    parser = MultipartParser(params[b"boundary"], {  # type: ignore[arg-type]
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end})
    try:
        with open(dest, "wb") as f:
            async for chunk in request.stream():
                parser.write(chunk)
                if pending:
                    data = b"".join(pending)
                    pending.clear()
                    await run_in_threadpool(f.write, data)
            parser.finalize()
    except MultipartParseError:
        dest.unlink(missing_ok=True)
        raise BadRequest("Invalid multipart/form-data request") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if not st["found"]:
        dest.unlink(missing_ok=True)
        raise BadRequest([f"{field} should not be empty"])
    return dest


async def _create_profile_image(ctx: Ctx, auth: Any, call: Call) -> Response:
    assert call.request is not None
    upload = await stream_file_part(ctx, call.request, "file", svc.check_profile_filename)
    body = await run_in_threadpool(svc.create_profile_image, ctx, auth, upload)
    return JSONResponse(body, status_code=201)


ROUTES = [
    # /users/me... and /users/profile-image before /users/{id}
    route("getMyUser", lambda ctx, auth, c: svc.get_me(ctx, auth)),
    route("updateMyUser", lambda ctx, auth, c: svc.update_me(ctx, auth, c.body), patch_twin=True),
    route("getMyPreferences", lambda ctx, auth, c: preferences.get_mine(ctx, auth)),
    route("updateMyPreferences", lambda ctx, auth, c: preferences.update_mine(ctx, auth, c.body), patch_twin=True),
    route("getMyCalendarHeatmap", lambda ctx, auth, c: svc.get_my_calendar_heatmap(ctx, auth, c.query)),
    route("getUserLicense", lambda ctx, auth, c: svc.get_license(ctx, auth)),
    route("setUserLicense", lambda ctx, auth, c: svc.set_license(ctx, auth, c.body)),
    route("deleteUserLicense", lambda ctx, auth, c: svc.delete_license(ctx, auth)),
    route("getUserOnboarding", lambda ctx, auth, c: svc.get_onboarding(ctx, auth)),
    route("setUserOnboarding", lambda ctx, auth, c: svc.set_onboarding(ctx, auth, c.body)),
    route("deleteUserOnboarding", lambda ctx, auth, c: svc.delete_onboarding(ctx, auth)),
    route("createProfileImage", _create_profile_image, raw=True),
    route("deleteProfileImage", lambda ctx, auth, c: svc.delete_profile_image(ctx, auth)),
    route("searchUsers", lambda ctx, auth, c: svc.search(ctx, auth)),
    route("getUser", lambda ctx, auth, c: svc.get(ctx, c.params["id"])),
    route("getProfileImage", lambda ctx, auth, c: svc.get_profile_image(ctx, c.params["id"])),
]
