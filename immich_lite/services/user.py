"""The caller's own account: profile, onboarding, product key, profile image, heatmap (upstream UserService)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse

from immich_lite import auth as authn
from immich_lite import ids
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.dto.user import map_user, map_user_admin
from immich_lite.errors import BadRequest, NotFound, invalid
from immich_lite.jobs import JobName, JobStatus, QueueName, enqueue, register
from immich_lite.repos import user as repo
from immich_lite.services import system_config
from immich_lite.storage import commit_file

log = logging.getLogger("immich_lite.user")


def _find_or_fail(conn: Any, user_id: str, with_deleted: bool = False) -> dict[str, Any]:
    user = repo.get(conn, user_id, with_deleted=with_deleted)
    if not user:
        raise BadRequest("User not found")
    return user


def search(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    """Everyone when `server.publicUsers` is on (the default) or the caller is an admin; else only the caller."""
    conn = ctx.db.reader()
    public = system_config.get_config(ctx).get("server", {}).get("publicUsers", True)
    if auth.is_admin or public:
        return [map_user(u) for u in repo.search(conn)]
    me = repo.get(conn, auth.user_id)
    return [map_user(me)] if me else []


def get_me(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    conn = ctx.db.reader()
    user = _find_or_fail(conn, auth.user_id)
    return map_user_admin(user, repo.get_metadata(conn, auth.user_id, "license"))


def update_me(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    """email, name, avatarColor and (deprecated) password; nothing else reaches the row (PR #1154)."""
    values: dict[str, Any] = {}
    for key, column in (("email", "email"), ("name", "name"), ("avatarColor", "avatar_color")):
        if key in dto:  # only avatarColor may be null (back to the email-derived colour)
            values[column] = dto[key]
    if dto.get("password"):
        values["password"] = authn.hash_password(dto["password"])
        values["should_change_password"] = 0
    with ctx.db.write() as conn:
        if dto.get("email"):
            other = repo.get_by_email(conn, dto["email"], with_deleted=True)
            if other and other["id"] != auth.user_id:
                raise BadRequest("Email is not available")
        _find_or_fail(conn, auth.user_id)
        user = repo.update(conn, auth.user_id, **values)
        license_ = repo.get_metadata(conn, auth.user_id, "license")
    return map_user_admin(user, license_)


def get(ctx: Ctx, user_id: str) -> dict[str, Any]:
    return map_user(_find_or_fail(ctx.db.reader(), user_id))


# --- onboarding -------------------------------------------------------------------------------

def get_onboarding(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    value = repo.get_metadata(ctx.db.reader(), auth.user_id, "onboarding") or {}
    return {"isOnboarded": bool(value.get("isOnboarded", False))}


def set_onboarding(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        repo.set_metadata(conn, auth.user_id, "onboarding", {"isOnboarded": dto["isOnboarded"]})
    return {"isOnboarded": dto["isOnboarded"]}


def delete_onboarding(ctx: Ctx, auth: AuthContext) -> None:
    with ctx.db.write() as conn:
        repo.delete_metadata(conn, auth.user_id, "onboarding")


# --- product key (license) --------------------------------------------------------------------
# Immich: config.repository.ts productionKeys (SPKI, base64 DER). An activation key is an RSA PKCS#1 v1.5
# SHA-256 signature of the license key by FUTO; either the client or the server key may have signed it.

PRODUCTION_KEYS = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv/7S32cRA5++1NnVDsCMspP/jJHIMqOJXFnh4NwA2Opz+RMfdco92PsOgh+wwQeE"
    "v1U2c2pjzTiQ/2lrKq/kzJRlXwc4cUesQDMJOF+P2qONPbAJkXvCXYBULitCIkoLwfhSGNjyIKaRDhd/tNyN8+hNRZnYT1hSIj9SCkKxUCOz"
    "atPV4mCDerS+bE+gEUeWp99V9azvF0FImnTWpQSwc8wEZgOMh4svh6aicwdzkPCwELak0VaBH31BEUCQLb9+AItHAUtJCKxhb5Wjs1s9brXf"
    "i0vrpgcZ/6DanY2qfSPznOmvD2FrrlS1q4JJN3Vo7Ww/0Yy/yMcmzTWZhGuhUQIDAQAB",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAopnYDa0a/dU5IeG74iEEMwdAKjsNczLdCqRd1Z9y5T2wjO7eYIOeJTsl350sR0p4"
    "KfSUDSXvC9NpDpc1tOKl5shC/AxpvQALCokF4jt8vrrd9fCaXc1TqRbOmnhiugD6vkr0O/Fb3UDi3U0TvhPPlPdvSawzLrWZPLfmHVVrbrSK"
    "mn9IeSgy07ukWTIyLsciNrvnBywsJaReDuoNWPBHU/mo2mXa8m4wMWhiXehiIOQqMuSUgPeCsWj8UVx1CGlRzPDA0bVNQveKXWVxcEI6ULEg"
    "Jy2F49lH0+aYCmBf7NEr6VQ2WB95evTKXKvn0qIM7ngFlcUAw6fuV1cNCTJS6wIDAQAB",
)
LICENSE_PUBLIC_KEYS: tuple[str, ...] = PRODUCTION_KEYS  # tests swap in upstream's staging keys
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at pos."""
    tag, length, pos = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        length, pos = int.from_bytes(data[pos:pos + n], "big"), pos + n
    return tag, pos, pos + length


def _rsa_key(spki_b64: str) -> tuple[int, int]:
    der = base64.b64decode(spki_b64)
    _, start, _ = _der(der, 0)                  # SubjectPublicKeyInfo
    _, _, alg_end = _der(der, start)            # AlgorithmIdentifier (rsaEncryption)
    _, bits, _ = _der(der, alg_end)             # BIT STRING; first byte = unused bits
    _, seq, _ = _der(der, bits + 1)             # RSAPublicKey
    _, n_start, n_end = _der(der, seq)
    _, e_start, e_end = _der(der, n_end)
    return int.from_bytes(der[n_start:n_end], "big"), int.from_bytes(der[e_start:e_end], "big")


def _b64_lenient(text: str) -> bytes:
    # like Node's Buffer.from(s, 'base64'): either alphabet, junk skipped, stops at padding
    text = text.split("=", 1)[0].replace("-", "+").replace("_", "/")
    text = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "+/"))
    text = text[: len(text) - (len(text) % 4 == 1)]
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verify_sha256(value: str, signature_b64: str, spki_b64: str) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256 (Node crypto.createVerify('SHA256'))."""
    n, e = _rsa_key(spki_b64)
    k = (n.bit_length() + 7) // 8
    sig = _b64_lenient(signature_b64)
    if len(sig) != k or int.from_bytes(sig, "big") >= n:
        return False
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    digest = _SHA256_DIGEST_INFO + hashlib.sha256(value.encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(digest) - 3) + b"\x00" + digest
    return hmac.compare_digest(em, expected)


def get_license(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    value = repo.get_metadata(ctx.db.reader(), auth.user_id, "license")
    if not value:
        raise NotFound("Not Found")
    return {"licenseKey": value["licenseKey"], "activationKey": value["activationKey"],
            "activatedAt": value["activatedAt"]}


def set_license(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    key, activation = dto["licenseKey"], dto["activationKey"]
    if not key.startswith(("IMCL-", "IMSV-")):
        raise BadRequest("Invalid license key")
    if not any(verify_sha256(key, activation, pk) for pk in LICENSE_PUBLIC_KEYS):
        raise BadRequest("Invalid license key")
    value = {"licenseKey": key, "activationKey": activation, "activatedAt": ids.now_iso()}
    with ctx.db.write() as conn:
        repo.set_metadata(conn, auth.user_id, "license", value)
    return value


def delete_license(ctx: Ctx, auth: AuthContext) -> None:
    with ctx.db.write() as conn:
        repo.delete_metadata(conn, auth.user_id, "license")


# --- profile image ----------------------------------------------------------------------------
# Immich 3.1: the upload is re-encoded as a thumbnail (config image.thumbnail: webp, 250 px short side,
# quality 80) into profile/<userId>/<uuid>.<format>; the upload itself is discarded. Re-encoding also means
# an SVG or a polyglot never reaches a browser as uploaded.

PROFILE_EXTENSIONS = frozenset({".avif", ".dng", ".heic", ".heif", ".jpeg", ".jpg", ".png", ".webp", ".svg"})
_CONTENT_TYPES = {".webp": "image/webp", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".png": "image/png",
                  ".avif": "image/avif", ".heic": "image/heic", ".heif": "image/heif"}


def check_profile_filename(filename: str) -> str:
    """The upload's extension, or 400 as upstream AssetMediaService.canUploadFile."""
    ext = Path(filename).suffix.lower()
    if ext not in PROFILE_EXTENSIONS:
        raise BadRequest(f"Unsupported file type {filename}")
    return ext


MAX_SVG_BYTES = 5 * 1024 * 1024


def _render_profile_image(src: Path, dest: Path, fmt: str, size: int, quality: int) -> None:
    import pyvips  # noqa: PLC0415 (heavy import, only needed here)

    try:
        _thumbnail(pyvips, src, dest, fmt, size, quality)
    except pyvips.Error:
        # pyvips-binary reads a HEIC header but has no HEVC decoder: decode with pillow-heif, then retry
        _thumbnail(pyvips, _heif_to_png(src), dest, fmt, size, quality)


def _thumbnail(pyvips: Any, src: Path, dest: Path, fmt: str, size: int, quality: int) -> None:
    with open(src, "rb") as f:
        svg = b"<svg" in f.read(4096).lower()
    if svg and src.stat().st_size > MAX_SVG_BYTES:
        raise ValueError("SVG too large")
    data = src.read_bytes() if svg else b""
    if svg:  # from a buffer librsvg has no base directory, so an SVG cannot pull in neighbouring files
        head = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")
    else:
        head = pyvips.Image.new_from_file(str(src), access="sequential", fail_on="error")
    w, h = head.width, head.height
    if head.get_typeof("orientation") and head.get("orientation") in (5, 6, 7, 8):
        w, h = h, w
    big = 10_000_000  # sharp resize(size, size, {fit: 'outside', withoutEnlargement: true})
    width, height = (big, size) if w >= h else (size, big)
    if svg:
        image = pyvips.Image.thumbnail_buffer(data, width, height=height, size="down", fail_on="error")
    else:
        image = pyvips.Image.thumbnail(str(src), width, height=height, size="down", fail_on="error")
    if image.hasalpha() and fmt == "jpeg":
        image = image.flatten(background=[255, 255, 255])
    if fmt == "jpeg":
        image.jpegsave(str(dest), Q=quality, subsample_mode="off" if quality >= 80 else "auto", strip=True)
    else:
        image.webpsave(str(dest), Q=quality, strip=True)


def _heif_to_png(src: Path) -> Path:
    from PIL import Image  # noqa: PLC0415
    from pillow_heif import register_heif_opener  # noqa: PLC0415

    register_heif_opener()
    out = src.with_suffix(".png.tmp")
    with Image.open(src) as im:
        im.save(out, format="PNG")
    return out


def create_profile_image(ctx: Ctx, auth: AuthContext, upload: Path) -> dict[str, Any]:
    """Re-encode the uploaded temp file, move it into place, point the user at it, then drop the old one."""
    thumb = system_config.get_config(ctx).get("image", {}).get("thumbnail", {})
    fmt = "jpeg" if thumb.get("format") == "jpeg" else "webp"
    rendered = ctx.storage.tmp_path(f".{fmt}")
    try:
        try:
            _render_profile_image(upload, rendered, fmt, int(thumb.get("size", 250)), int(thumb.get("quality", 80)))
        except Exception as e:  # noqa: BLE001 (any decoder failure is the client's bad file)
            log.info("unable to process profile image for %s: %s", auth.user_id, e)
            raise BadRequest("Unable to process profile image") from None
        dest = ctx.storage.profile_path(auth.user_id, str(uuid.uuid4()), f".{fmt}")
        commit_file(rendered, dest)
        try:
            with ctx.db.write() as conn:
                old = _find_or_fail(conn, auth.user_id)["profile_image_path"]
                user = repo.update(conn, auth.user_id, profile_image_path=ctx.storage.relative(dest),
                                   profile_changed_at=ids.now_iso())
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
    finally:
        for leftover in (upload, rendered, upload.with_suffix(".png.tmp")):
            leftover.unlink(missing_ok=True)
    ctx.storage.remove([old])
    return {"userId": user["id"], "profileImagePath": user["profile_image_path"],
            "profileChangedAt": user["profile_changed_at"]}


def delete_profile_image(ctx: Ctx, auth: AuthContext) -> None:
    with ctx.db.write() as conn:
        user = _find_or_fail(conn, auth.user_id)
        if user["profile_image_path"] == "":
            raise BadRequest("Can't delete a missing profile Image")
        repo.update(conn, auth.user_id, profile_image_path="", profile_changed_at=ids.now_iso())
    ctx.storage.remove([user["profile_image_path"]])


def get_profile_image(ctx: Ctx, user_id: str) -> FileResponse:
    """404 alike for unknown users, users without a picture and missing files (no existence oracle)."""
    user = repo.get(ctx.db.reader(), user_id)
    path = ctx.storage.absolute(user["profile_image_path"]) if user and user["profile_image_path"] else None
    if path is None or not path.is_file():
        raise NotFound("Not Found")
    media_type = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type)


# --- calendar heatmap -------------------------------------------------------------------------

MAX_HEATMAP_DAYS = 3660  # not upstream: bounds the response (from=0001-01-01 would be 3.6 M entries)


def calendar_heatmap(ctx: Ctx, user_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """Per-UTC-day counts over [from, to], default the 52 weeks up to today (upstream getCalendarHeatmap)."""
    to = date.fromisoformat(query["to"][:10]) if query.get("to") else ids.utcnow().date()
    start = date.fromisoformat(query["from"][:10]) if query.get("from") else to - timedelta(weeks=52, days=-1)
    if query.get("from") and query.get("to") and start > to:
        raise invalid(["from"], "from must be before to")
    if (to - start).days >= MAX_HEATMAP_DAYS:
        raise invalid(["to"], f"the period must not be longer than {MAX_HEATMAP_DAYS} days")
    column = "local_date_time" if query.get("type") == "Taken" else "created_at"
    counts = repo.daily_asset_counts(ctx.db.reader(), user_id, column, start.isoformat(),
                                     (to + timedelta(days=1)).isoformat())
    series = [{"date": d.isoformat(), "count": counts.get(d.isoformat(), 0)}
              for d in (start + timedelta(days=i) for i in range((to - start).days + 1))]
    return {"from": start.isoformat(), "to": to.isoformat(), "series": series,
            "totalCount": sum(item["count"] for item in series)}


def get_my_calendar_heatmap(ctx: Ctx, auth: AuthContext, query: dict[str, Any]) -> dict[str, Any]:
    return calendar_heatmap(ctx, auth.user_id, query)


# --- background jobs: hard deletion -----------------------------------------------------------

def _delete_delay(ctx: Ctx) -> timedelta:
    return timedelta(days=int(system_config.get_config(ctx).get("user", {}).get("deleteDelay", 7)))


@register(JobName.USER_DELETE, QueueName.BACKGROUND_TASK)
def handle_user_delete(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Remove a trashed user's folders and rows (albums, assets, sessions cascade) once due, or now if forced."""
    user = repo.get(ctx.db.reader(), data["id"], with_deleted=True)
    if not user:
        return JobStatus.SKIPPED
    due = ids.iso(ids.utcnow() - _delete_delay(ctx))
    if not data.get("force") and not (user["deleted_at"] and user["deleted_at"] < due):
        log.warning("Skipped user that was not ready for deletion: id=%s", user["id"])
        return JobStatus.SKIPPED
    root = ctx.storage.root
    for folder in (root / "library" / (user["storage_label"] or user["id"]), root / "upload" / user["id"],
                   root / "profile" / user["id"], root / "thumbs" / user["id"], root / "encoded-video" / user["id"]):
        shutil.rmtree(folder, ignore_errors=True)
    with ctx.db.write() as conn:
        repo.delete(conn, user["id"])
    if ctx.events:
        ctx.events.emit("on_user_delete", "all", user["id"])
    return JobStatus.SUCCESS


@register(JobName.USER_SYNC_USAGE, QueueName.BACKGROUND_TASK)
def handle_user_sync_usage(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Nightly (nightlyTasks.syncQuotaUsage): every user's quota usage recounted from their originals."""
    with ctx.db.write() as conn:
        fixed = repo.sync_usage(conn)
    if fixed:
        log.info("quota usage recounted: %d user(s) corrected", fixed)
    return JobStatus.SUCCESS


@register(JobName.USER_DELETE_CHECK, QueueName.BACKGROUND_TASK)
def handle_user_delete_check(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """Nightly: queue UserDelete for every user trashed longer than `user.deleteDelay` days."""
    with ctx.db.write() as conn:
        for user_id in repo.get_deleted_before(conn, str(ids.iso(ids.utcnow() - _delete_delay(ctx)))):
            enqueue(conn, JobName.USER_DELETE, {"id": user_id})
    return JobStatus.SUCCESS
