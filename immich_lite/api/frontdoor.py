"""Routes outside the spec: /.well-known/immich, the built-in front page, and upstream's 404 for unknown API paths."""
from __future__ import annotations

import html

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from immich_lite import IMMICH_VERSION, __version__
from immich_lite.api import webapp
from immich_lite.ctx import Ctx
from immich_lite.errors import NotFound, correlation_id, error_response
from immich_lite.repos import user as user_repo

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>immich-lite</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}
code{{background:#eef;padding:.1rem .3rem;border-radius:.2rem}} label{{display:block;margin:.6rem 0 .2rem}}
input{{width:100%;padding:.4rem;box-sizing:border-box}} button{{margin-top:1rem;padding:.5rem 1rem}}
#msg{{margin-top:1rem}}
</style></head><body>
<h1>immich-lite is running</h1>
<p>Version {version} (Immich API {api}).</p>
<p>In the Immich app, enter this server URL: <code>{url}</code></p>
{setup}
<h2>The web app</h2>
<p>This server serves the official Immich web app once it is installed: run
<code>immich-lite web install ghcr.io/immich-app/immich-server:v{api}</code> (or give it a directory or tarball
of the web build, or start with <code>--web-root DIR</code>), then reload this page.</p>
</body></html>"""

_SETUP = """<h2>Create the first admin</h2>
<p>No admin exists yet. The first account created here administers this server.</p>
<form id="signup">
<label for="name">Name</label><input id="name" name="name" required autocomplete="name">
<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email">
<label for="password">Password</label><input id="password" name="password" type="password" required
 autocomplete="new-password">
<button type="submit">Create admin</button></form><p id="msg" role="status"></p>
<script>
document.getElementById('signup').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target, msg = document.getElementById('msg');
  const body = {name: f.name.value, email: f.email.value, password: f.password.value};
  const r = await fetch('/api/auth/admin-sign-up', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                   body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({}));
  msg.textContent = r.ok ? 'Admin created. Log in from the Immich app.' : ('Error: ' + [].concat(data.message).join(', '));
  if (r.ok) f.remove();
});
</script>"""


def well_known(request: Request) -> JSONResponse:
    return JSONResponse({"api": {"endpoint": "/api"}})


def web_root(ctx: Ctx) -> webapp.WebRoot:
    web = ctx.extra.get("web")
    if web is None:
        web = ctx.extra["web"] = webapp.WebRoot(ctx.settings.web_path)
    return web


def make_front_page(ctx: Ctx):  # type: ignore[no-untyped-def]
    web = web_root(ctx)

    async def front_page(request: Request) -> Response:
        path = request.scope.get("state", {}).get("original_path") or request.url.path
        if request.url.path.startswith("/api"):
            raise NotFound(f"Cannot {request.method} {path}")
        index = await web.current()
        if index.index_html is not None:  # the web app: what WebAppFront left (its files are served there)
            if request.url.path.startswith(webapp.EXCLUDED):
                raise NotFound(f"Cannot {request.method} {path}")
            if not webapp.accepts_html(request):
                raise webapp.not_acceptable(request)
            return webapp.html_response(index.index_html, method=request.method)
        has_admin = await run_in_threadpool(lambda: user_repo.has_admin(ctx.db.reader()))
        base = f"{request.url.scheme}://{request.url.netloc}"
        page = _PAGE.format(version=html.escape(__version__), api=".".join(map(str, IMMICH_VERSION)),
                            url=html.escape(base), setup="" if has_admin else _SETUP)
        return HTMLResponse(page, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    return front_page


def make_custom_css(ctx: Ctx):  # type: ignore[no-untyped-def]
    async def custom_css(request: Request) -> Response:
        from immich_lite.services.system_config import get_custom_css  # noqa: PLC0415

        css = await run_in_threadpool(get_custom_css, ctx)
        return Response(css, media_type="text/css", headers={"X-Content-Type-Options": "nosniff"})
    return custom_css


def routes(ctx: Ctx) -> list[Route]:
    return [Route("/.well-known/immich", well_known, methods=["GET"]),
            Route("/custom.css", make_custom_css(ctx), methods=["GET"])]


def fallback_routes(ctx: Ctx) -> list[Route]:
    page = make_front_page(ctx)
    return [Route("/", page, methods=["GET", "HEAD"]), Route("/{path:path}", page, methods=["GET", "HEAD"])]


async def not_found(request: Request, exc: Exception) -> Response:
    """Starlette's 404/405 → upstream's Nest answer: 404 'Cannot METHOD /path'."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        path = request.scope.get("state", {}).get("original_path") or request.url.path
        return error_response(NotFound(f"Cannot {request.method} {path}"), correlation_id(request))
    err = NotFound(str(exc.detail))
    err.status = exc.status_code
    return error_response(err, correlation_id(request))
