"""OAuth is off in immich-lite: upstream's answers for a server without OAuth, and unlinking works."""
from __future__ import annotations

from typing import Any

from tests.conftest import Actor, assert_error, assert_schema


def test_authorize_and_callback_say_oauth_is_not_enabled(client: Any) -> None:
    assert_error(client.post("/api/oauth/authorize", json={"redirectUri": "app.immich:///oauth-callback"}), 400,
                 "OAuth is not enabled")
    assert_error(client.post("/api/oauth/callback", json={"url": "http://x/?code=1&state=2"}), 400,
                 "OAuth is not enabled")


def test_link_checks_state_then_refuses(admin: Actor) -> None:
    assert_error(admin.post("/api/oauth/link", json={"url": "http://x/?code=1"}), 400, "OAuth state is missing")
    r = admin.post("/api/oauth/link", json={"url": "http://x/", "state": "s", "codeVerifier": "v"})
    assert_error(r, 400, "OAuth is not enabled")


def test_unlink_clears_the_oauth_id(admin: Actor) -> None:
    body = assert_schema(admin.post("/api/oauth/unlink"), "unlinkOAuthAccount")
    assert body["oauthId"] == ""
    assert admin.post("/api/admin/auth/unlink-all").status_code == 204


def test_mobile_redirect_forwards_the_query(client: Any) -> None:
    r = client.get("/api/oauth/mobile-redirect?code=abc&state=xyz", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "app.immich:///oauth-callback?code=abc&state=xyz"
