"""Login, logout, admin sign-up, passwords, PIN codes and session elevation (upstream AuthService)."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.auth import AuthContext, Credentials
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user_admin
from immich_lite.errors import BadRequest, TooManyRequests, Unauthorized
from immich_lite.repos import session as session_repo
from immich_lite.repos import system_metadata
from immich_lite.repos import user as user_repo
from immich_lite.services import session as session_service
from immich_lite.services import system_config

THROTTLE_WINDOW = 15 * 60


def is_setup_available(ctx: Ctx, conn: Any) -> bool:
    return ctx.settings.allow_setup and not user_repo.has_admin(conn)


def sign_up_admin(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        if not is_setup_available(ctx, conn):
            raise BadRequest("The server already has an admin")
        if user_repo.get_by_email(conn, dto["email"], with_deleted=True):
            raise BadRequest("Email is not available")
        user = user_repo.insert(conn, email=dto["email"], name=dto["name"],
                                password=authn.hash_password(dto["password"]), is_admin=1,
                                storage_label="admin", should_change_password=1)
    return map_user_admin(user)


# --- throttling: upstream has none; a LAN appliance should (RELIABILITY §1.21) ------------------

def _buckets(email: str, ip: str) -> tuple[str, str]:
    # per account *and address*, so a stranger cannot lock the owner out from elsewhere; plus per address
    return f"acct:{email.lower()}|{ip}", f"ip:{ip}"


def _check_throttle(ctx: Ctx, conn: Any, email: str, ip: str) -> None:
    limit = ctx.settings.login_max_failures
    since = time.time() - THROTTLE_WINDOW
    acct, addr = _buckets(email, ip)
    for bucket, cap in ((acct, limit), (addr, limit * 5)):
        row = conn.execute("SELECT count(*) AS n, min(at) AS first FROM login_attempt WHERE bucket = ? AND at > ?",
                           (bucket, since)).fetchone()
        if row["n"] >= cap:
            retry = max(1, int(row["first"] + THROTTLE_WINDOW - time.time()))
            raise TooManyRequests("Too many failed login attempts, try again later",
                                  headers={"Retry-After": str(retry)})


def _record_failure(ctx: Ctx, email: str, ip: str) -> None:
    now = time.time()
    with ctx.db.write() as conn:
        for bucket in _buckets(email, ip):
            conn.execute("INSERT INTO login_attempt (bucket, at) VALUES (?, ?)", (bucket, now))
        conn.execute("DELETE FROM login_attempt WHERE at < ?", (now - THROTTLE_WINDOW,))


def login(ctx: Ctx, dto: dict[str, Any], c: Credentials) -> tuple[dict[str, Any], str]:
    """Returns (LoginResponseDto, token). Always runs bcrypt so unknown emails take as long as known ones."""
    conn = ctx.db.reader()
    config = system_config.get_config(ctx)
    if not config["passwordLogin"]["enabled"]:
        raise Unauthorized("Password login has been disabled")
    _check_throttle(ctx, conn, dto["email"], c.client_ip)
    user = user_repo.get_by_email(conn, dto["email"])
    ok = authn.check_password(dto["password"], user["password"] if user else None)
    if not ok or not user:
        _record_failure(ctx, dto["email"], c.client_ip)
        raise Unauthorized("Incorrect email or password")
    with ctx.db.write() as wconn:
        token = session_service.create_login_session(wconn, user["id"], c)
        wconn.execute("DELETE FROM login_attempt WHERE bucket = ?", (_buckets(dto["email"], c.client_ip)[0],))
    onboarding = user_repo.get_metadata(conn, user["id"], "onboarding") or {}
    return {
        "accessToken": token,
        "userId": user["id"],
        "userEmail": user["email"],
        "name": user["name"],
        "isAdmin": bool(user["is_admin"]),
        "profileImagePath": user["profile_image_path"],
        "shouldChangePassword": bool(user["should_change_password"]),
        "isOnboarded": bool(onboarding.get("isOnboarded", False)),
    }, token


def logout(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    if auth.session:
        with ctx.db.write() as conn:
            session_repo.delete(conn, auth.session["id"])
        if ctx.events:
            ctx.events.emit("on_session_delete", auth.session["id"], auth.session["id"])
    return {"successful": True, "redirectUri": "/auth/login"}


def change_password(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        user = user_repo.get(conn, auth.user_id)
        assert user is not None
        if not authn.check_password(dto["password"], user["password"]):
            raise BadRequest("Wrong password")
        user = user_repo.update(conn, auth.user_id, password=authn.hash_password(dto["newPassword"]),
                                should_change_password=0)
        gone: list[str] = []
        if dto.get("invalidateSessions"):
            gone = session_repo.delete_all_for_user(conn, auth.user_id,
                                                    except_id=auth.session["id"] if auth.session else None)
        license_ = user_repo.get_metadata(conn, auth.user_id, "license")
    if ctx.events:
        for sid in gone:
            ctx.events.emit("on_session_delete", sid, sid)
    return map_user_admin(user, license_)


def get_status(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    user = user_repo.get(ctx.db.reader(), auth.user_id)
    assert user is not None
    out: dict[str, Any] = {"pinCode": bool(user["pin_code"]), "password": bool(user["password"]),
                           "isElevated": auth.is_elevated}
    if auth.session:
        if auth.session["expires_at"]:
            out["expiresAt"] = auth.session["expires_at"]
        if auth.session["pin_expires_at"]:
            out["pinExpiresAt"] = auth.session["pin_expires_at"]
    return out


def setup_pin_code(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        user = user_repo.get(conn, auth.user_id)
        assert user is not None
        if user["pin_code"]:
            raise BadRequest("User already has a PIN code")
        user_repo.update(conn, auth.user_id, pin_code=authn.hash_password(dto["pinCode"]))


def _verify_pin_or_password(user: dict[str, Any], dto: dict[str, Any]) -> None:
    if dto.get("pinCode") is not None:
        if not user["pin_code"] or not authn.check_password(dto["pinCode"], user["pin_code"]):
            raise BadRequest("Wrong PIN code")
    elif dto.get("password") is not None:
        if not authn.check_password(dto["password"], user["password"]):
            raise BadRequest("Wrong password")
    else:
        raise BadRequest("Either password or pinCode is required")


def change_pin_code(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        user = user_repo.get(conn, auth.user_id)
        assert user is not None
        _verify_pin_or_password(user, dto)
        user_repo.update(conn, auth.user_id, pin_code=authn.hash_password(dto["newPinCode"]))


def reset_pin_code(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        user = user_repo.get(conn, auth.user_id)
        assert user is not None
        _verify_pin_or_password(user, dto)
        user_repo.update(conn, auth.user_id, pin_code=None)
        conn.execute("UPDATE session SET pin_expires_at = NULL WHERE user_id = ?", (auth.user_id,))


def unlock_session(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> None:
    if not auth.session:
        raise BadRequest("This endpoint can only be used with a session token")
    with ctx.db.write() as conn:
        user = user_repo.get(conn, auth.user_id)
        assert user is not None
        if not user["pin_code"]:
            raise BadRequest("PIN code is not set up")
        _verify_pin_or_password(user, dto)
        until = ids.iso(ids.utcnow() + timedelta(seconds=authn.PIN_TTL_SECONDS))
        session_repo.update(conn, auth.session["id"], pin_expires_at=until)


def lock_session(ctx: Ctx, auth: AuthContext) -> None:
    if not auth.session:
        raise BadRequest("This endpoint can only be used with a session token")
    with ctx.db.write() as conn:
        session_repo.update(conn, auth.session["id"], pin_expires_at=None)


def admin_onboarding(ctx: Ctx) -> dict[str, Any]:
    value = system_metadata.get(ctx.db.reader(), "admin-onboarding") or {}
    return {"isOnboarded": bool(value.get("isOnboarded", False))}
