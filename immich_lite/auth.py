"""Who is calling: credential resolution (API-NOTES §5.1), route checks, tokens and password hashing."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from immich_lite import ids
from immich_lite.errors import Forbidden, Unauthorized

SALT_ROUNDS = 10  # Immich: constants.ts SALT_ROUNDS
SESSION_REFRESH_SECONDS = 3600
PIN_TTL_SECONDS = 15 * 60
PIN_SLIDE_SECONDS = 5 * 60
COOKIE_ACCESS = "immich_access_token"
COOKIE_AUTH_TYPE = "immich_auth_type"
COOKIE_IS_AUTH = "immich_is_authenticated"
COOKIE_SHARED_LINK = "immich_shared_link_token"

# bcrypt of a random string: compared against when the email is unknown, so timing does not leak it
_DUMMY_HASH = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(SALT_ROUNDS))


@dataclass
class Credentials:
    """What the request presented; pulled from headers/query/cookies by the HTTP layer."""
    headers: dict[str, str]
    query: dict[str, str]
    cookies: dict[str, str]
    user_agent: str = ""
    client_ip: str = ""
    secure: bool = False


@dataclass
class AuthContext:
    user: dict[str, Any]
    session: dict[str, Any] | None = None
    api_key: dict[str, Any] | None = None
    shared_link: dict[str, Any] | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    @property
    def is_admin(self) -> bool:
        return bool(self.user["is_admin"])

    @property
    def is_elevated(self) -> bool:
        """PIN-unlocked session: needed for locked assets. API keys and shared links never are."""
        if not self.session or not self.session.get("pin_expires_at"):
            return False
        return str(self.session["pin_expires_at"]) > ids.now_iso()


def sha256(value: str | bytes) -> bytes:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).digest()


def new_token() -> str:
    # Immich: crypto.repository.ts randomBytesAsText: base64 of 32 bytes without non-word characters
    return base64.b64encode(secrets.token_bytes(32)).decode().replace("+", "").replace("/", "").replace("=", "")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(SALT_ROUNDS)).decode()


def check_password(password: str, hashed: str | None) -> bool:
    """Always runs bcrypt, also for unknown users (constant time)."""
    candidate = hashed.encode() if hashed else _DUMMY_HASH
    ok = bcrypt.checkpw(password.encode()[:72], candidate)
    return ok and bool(hashed)


def has_permissions(granted: frozenset[str], required: list[str] | tuple[str, ...]) -> bool:
    # Immich: utils/access.ts isGranted: 'all' grants everything, otherwise a superset is required
    return "all" in granted or all(p in granted for p in required)


def _first(*values: str | None) -> str | None:
    for v in values:
        if v:
            return v
    return None


def session_token(c: Credentials) -> str | None:
    bearer = None
    authz = c.headers.get("authorization", "")
    if authz[:7].lower() == "bearer ":
        bearer = authz[7:].strip()
    return _first(c.headers.get("x-immich-user-token"), c.headers.get("x-immich-session-token"),
                  c.query.get("sessionKey"), bearer, c.cookies.get(COOKIE_ACCESS))


def shared_link_token(link: dict[str, Any]) -> str:
    # Immich: shared-link.service.ts: the cookie carries sha256(`${id}-${password}`) as base64url
    raw = hashlib.sha256(f"{link['id']}-{link['password']}".encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_share_key(key: str) -> bytes | None:
    try:
        if len(key) == 100:
            return bytes.fromhex(key)
        return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    except ValueError:
        return None


def resolve(conn: Any, c: Credentials) -> AuthContext | None:
    """Credential order as upstream AuthService.validate; None when nothing was presented.

    :raises Unauthorized: a credential was presented but is invalid.
    """
    share_key = _first(c.headers.get("x-immich-share-key"), c.query.get("key"))
    share_slug = _first(c.headers.get("x-immich-share-slug"), c.query.get("slug"))
    if share_key or share_slug:
        return _resolve_shared_link(conn, c, share_key, share_slug)
    token = session_token(c)
    if token:
        row = conn.execute(
            "SELECT s.*, u.id AS u_id FROM session s JOIN \"user\" u ON u.id = s.user_id "
            "WHERE s.token = ? AND u.deleted_at IS NULL", (sha256(token),)).fetchone()
        if not row or (row["expires_at"] and row["expires_at"] < ids.now_iso()):
            raise Unauthorized("Invalid user token")
        user = conn.execute('SELECT * FROM "user" WHERE id = ?', (row["user_id"],)).fetchone()
        return AuthContext(user=user, session=row, permissions=frozenset({"all"}))
    api_key = _first(c.headers.get("x-api-key"), c.query.get("apiKey"))
    if api_key:
        row = conn.execute(
            "SELECT k.* FROM api_key k JOIN \"user\" u ON u.id = k.user_id "
            "WHERE k.key = ? AND u.deleted_at IS NULL", (sha256(api_key),)).fetchone()
        if not row:
            raise Unauthorized("Invalid API key")
        user = conn.execute('SELECT * FROM "user" WHERE id = ?', (row["user_id"],)).fetchone()
        return AuthContext(user=user, api_key=row, permissions=frozenset(json.loads(row["permissions"])))
    return None


def _resolve_shared_link(conn: Any, c: Credentials, key: str | None, slug: str | None) -> AuthContext:
    link = None
    if key:
        raw = decode_share_key(key)
        if raw:
            link = conn.execute("SELECT * FROM shared_link WHERE key = ?", (raw,)).fetchone()
    elif slug:
        link = conn.execute("SELECT * FROM shared_link WHERE slug = ?", (slug,)).fetchone()
    if not link:
        raise Unauthorized("Invalid share key")
    user = conn.execute('SELECT * FROM "user" WHERE id = ? AND deleted_at IS NULL', (link["user_id"],)).fetchone()
    if not user or (link["expires_at"] and link["expires_at"] <= ids.now_iso()):
        raise Unauthorized("Invalid share key")
    if link["password"]:
        # Enforced on every shared route, not just /shared-links/me (upstream gap, issue #29599)
        token = c.cookies.get(COOKIE_SHARED_LINK, "")
        if not hmac.compare_digest(token, shared_link_token(link)):
            raise Unauthorized("Password required")
    return AuthContext(user=user, shared_link=link, permissions=frozenset())


# Upstream marks these `@Authenticated({ permission: false })`: any API key may call them.
NO_PERMISSION_CHECK = frozenset({"getMyApiKey"})


def check_route(auth: AuthContext, *, admin: bool, shared_link: bool, permission: str | None,
                op_id: str = "") -> None:
    """Upstream AuthService.authenticate route checks, in its order.

    :raises Forbidden: wrong kind of caller for this route.
    """
    if admin and not auth.is_admin:
        raise Forbidden("Forbidden")
    if auth.shared_link is not None:
        if not shared_link:
            raise Forbidden("Forbidden")
        return
    if auth.api_key is not None and op_id not in NO_PERMISSION_CHECK:
        needed = permission or "all"  # routes that declare nothing need 'all' (fail closed, PR #20113)
        if not has_permissions(auth.permissions, [needed]):
            raise Forbidden(f"Missing required permission: {needed}")
