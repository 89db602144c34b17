"""GET /share/<key> and /s/<slug>: the page a shared link opens, with Open Graph tags for link previews.

Upstream api.service.ts `ssr` + shared-link.service.ts `getMetadataTags`: valid link ⇒ 200 with og tags
(none for password links), invalid or expired ⇒ 404. Every user value goes through lodash-style escaping
(PR #16255, CVE-2026-40096: an album name must never close the attribute and add `http-equiv="refresh"`).
These routes must be mounted before frontdoor's catch-all.
"""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from immich_lite.api import frontdoor, webapp
from immich_lite.ctx import Ctx
from immich_lite.services import shared_link as svc

CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{tags}
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}</style>
</head><body>
<h1>{heading}</h1>
<p>{text}</p>
</body></html>"""


_LODASH_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
FALLBACK_DOMAIN = "https://my.immich.app"  # upstream getExternalDomain when neither config nor Host gives one


def _e(value: str) -> str:
    """lodash `escape`, as upstream's render: & < > " ' (so an album name can never leave its attribute)."""
    return "".join(_LODASH_ESCAPES.get(ch, ch) for ch in value)


def meta_tags(tags: dict[str, str]) -> str:
    """Upstream api.service.ts render(): the same tags, self-closing, in the same order."""
    title, description, image = _e(tags["title"]), _e(tags["description"]), _e(tags.get("imageUrl") or "")
    return (f'\n    <meta name="description" content="{description}" />\n\n'
            '    <!-- Facebook Meta Tags -->\n'
            '    <meta property="og:type" content="website" />\n'
            f'    <meta property="og:title" content="{title}" />\n'
            f'    <meta property="og:description" content="{description}" />\n'
            + (f'    <meta property="og:image" content="{image}" />' if image else ""))


def render(tags: dict[str, str] | None, *, valid: bool) -> str:
    meta = meta_tags(tags) if tags else ""
    if not valid:
        return _PAGE.format(title="immich-lite", tags="", heading="Link not found",
                            text="This shared link is invalid or has expired.")
    heading = _e(tags["title"]) if tags else "Shared with you"
    return _PAGE.format(title=heading, tags=meta, heading=heading,
                        text="Open this link in the Immich app or web client to view it.")


def _page(ctx: Ctx, param: str):  # type: ignore[no-untyped-def]
    async def page(request: Request) -> Response:
        value = request.path_params[param]
        host = request.headers.get("host", "")
        base = f"{request.url.scheme}://{host}" if host else FALLBACK_DOMAIN
        valid, tags = await run_in_threadpool(lambda: svc.metadata_tags(ctx, base_url=base, **{param: value}))
        web = frontdoor.web_root(ctx)
        if (await web.current()).index_html is not None:  # the web app's page with the link's tags (upstream ssr)
            if not webapp.accepts_html(request):
                raise webapp.not_acceptable(request)
            page = web.page(meta_tags(tags) if valid and tags else None)
            if page is not None:
                return webapp.html_response(page, 200 if valid else 404, request.method)
        return HTMLResponse(render(tags, valid=valid), status_code=200 if valid else 404,
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"})
    return page


def routes(ctx: Ctx) -> list[Route]:
    return [Route("/share/{key:path}", _page(ctx, "key"), methods=["GET", "HEAD"]),
            Route("/s/{slug:path}", _page(ctx, "slug"), methods=["GET", "HEAD"])]
