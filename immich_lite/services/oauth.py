"""OAuth as upstream answers it while OAuth is off. immich-lite has no OAuth client yet, so OAuth stays off:
authorize/callback/link refuse with upstream's messages, and unlinking (which needs no provider) works.
"""
from __future__ import annotations

from typing import Any

from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user_admin
from immich_lite.errors import BadRequest
from immich_lite.repos import user as user_repo

MOBILE_REDIRECT = "app.immich:///oauth-callback"


def mobile_redirect(query: str) -> str:
    return f"{MOBILE_REDIRECT}?{query}"


def authorize(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    raise BadRequest("OAuth is not enabled")


def callback(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    raise BadRequest("OAuth is not enabled")


def backchannel_logout(ctx: Ctx) -> None:
    raise BadRequest("Received backchannel logout request but OAuth is not enabled")


def link(ctx: Ctx, auth: AuthContext, dto: dict[str, Any], cookies: dict[str, str]) -> dict[str, Any]:
    if not (dto.get("state") or cookies.get("immich_oauth_state")):
        raise BadRequest("OAuth state is missing")
    if not (dto.get("codeVerifier") or cookies.get("immich_oauth_code_verifier")):
        raise BadRequest("OAuth code verifier is missing")
    raise BadRequest("OAuth is not enabled")


def unlink(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    with ctx.db.write() as conn:
        user = user_repo.update(conn, auth.user_id, oauth_id="")
        license_ = user_repo.get_metadata(conn, auth.user_id, "license")
    return map_user_admin(user, license_)


def unlink_all(ctx: Ctx) -> None:
    with ctx.db.write() as conn:
        conn.execute("UPDATE \"user\" SET oauth_id = '' WHERE oauth_id != ''")
