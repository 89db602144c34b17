"""Server info (upstream ServerService + VersionService): version, features, public config, storage, statistics,
build versions and the server product key.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from immich_lite import IMMICH_VERSION, __version__, ids
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, NotFound
from immich_lite.repos import server as server_repo
from immich_lite.repos import system_metadata
from immich_lite.services import auth as auth_service
from immich_lite.services import system_config
from immich_lite.services import system_metadata as metadata_service

LICENSE = "license"
VERSION = ".".join(map(str, IMMICH_VERSION))
RELEASES = "https://github.com/immich-app/immich/releases"


def ping() -> dict[str, Any]:
    return {"res": "pong"}


def get_version() -> dict[str, Any]:
    major, minor, patch = IMMICH_VERSION
    return {"major": major, "minor": minor, "patch": patch, "prerelease": None}


# --- version history ------------------------------------------------------------------------------

def record_version(ctx: Ctx) -> None:
    """Immich: VersionService.onBootstrap: add the running version when it differs from the last one seen."""
    with ctx.db.write() as conn:
        latest = server_repo.get_latest_version(conn)
        if latest is None or latest["version"] != VERSION:
            server_repo.insert_version(conn, VERSION)


def get_version_history(ctx: Ctx) -> list[dict[str, Any]]:
    rows = server_repo.get_version_history(ctx.db.reader())
    if not rows:  # the lead's startup hook normally did this; a fresh test app may not have run it
        record_version(ctx)
        rows = server_repo.get_version_history(ctx.db.reader())
    return [{"id": r["id"], "createdAt": r["created_at"], "version": r["version"]} for r in rows]


def get_version_check(ctx: Ctx) -> dict[str, Any]:
    return metadata_service.get_version_check_state(ctx)


# --- about ----------------------------------------------------------------------------------------

def _first_line(*cmd: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().split("\n", 1)[0].strip()


@functools.cache
def build_versions() -> dict[str, str]:
    """The tools immich-lite really uses, asked once per process (upstream ServerInfoRepository.getBuildVersions).

    Node.js and ImageMagick are not used, so they are absent rather than invented.
    """
    out: dict[str, str] = {}
    if shutil.which("ffmpeg"):
        line = _first_line("ffmpeg", "-version")
        if line.startswith("ffmpeg version "):
            out["ffmpeg"] = line.removeprefix("ffmpeg version ").split(" ", 1)[0]
    try:
        import pyvips  # noqa: PLC0415 (only needed here, and heavy)

        out["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    except Exception:  # noqa: BLE001 (libvips missing or broken: report nothing)
        pass
    if shutil.which("exiftool"):
        version = _first_line("exiftool", "-ver")
        if version:
            out["exiftool"] = version
    return out


def get_about_info(ctx: Ctx) -> dict[str, Any]:
    version = f"v{VERSION}"
    licensed = system_metadata.get(ctx.db.reader(), LICENSE) is not None
    py = sys.version_info
    return {
        "version": version,
        "versionUrl": f"{RELEASES}/tag/{version}",
        "licensed": licensed,
        "build": f"immich-lite {__version__} (Python {py.major}.{py.minor}.{py.micro})",
        **build_versions(),
    }


def get_apk_links() -> dict[str, str]:
    base = f"{RELEASES}/download/v{VERSION}"
    return {
        "arm64v8a": f"{base}/app-arm64-v8a-release.apk",
        "armeabiv7a": f"{base}/app-armeabi-v7a-release.apk",
        "universal": f"{base}/app-release.apk",
        "x86_64": f"{base}/app-x86_64-release.apk",
    }


# --- storage --------------------------------------------------------------------------------------

def _to_fixed(value: float, digits: int) -> str:
    """JavaScript Number.prototype.toFixed: the exact binary value, ties rounded up."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def as_human_readable(size: int, precision: int = 1) -> str:
    """Immich: utils/bytes.ts asHumanReadable ('1.2 GiB')."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    magnitude, remainder = 0, float(size)
    while remainder >= 1024 and magnitude + 1 < len(units):
        magnitude += 1
        remainder /= 1024
    return f"{_to_fixed(remainder, 0 if magnitude == 0 else precision)} {units[magnitude]}"


def get_storage(ctx: Ctx) -> dict[str, Any]:
    """Disk figures of the data directory (upstream: statfs of the library folder)."""
    usage = shutil.disk_usage(ctx.storage.root)
    total, available, used = usage.total, usage.free, usage.used  # used = total - free blocks, as upstream
    percentage = float(_to_fixed(used / total * 100, 2)) if total else 0.0
    return {
        "diskSize": as_human_readable(total),
        "diskUse": as_human_readable(used),
        "diskAvailable": as_human_readable(available),
        "diskSizeRaw": total,
        "diskUseRaw": used,
        "diskAvailableRaw": available,
        "diskUsagePercentage": percentage,
    }


# --- features and public config -------------------------------------------------------------------

def _reverse_geocoding_available() -> bool:
    from immich_lite.media import geocode  # noqa: PLC0415 (keeps server info free of media imports at load)

    return geocode.available()


def get_features(ctx: Ctx) -> dict[str, bool]:
    """What this server can do: faces, OCR, smart search and duplicates (in process or through
    machineLearning.urls; smart search when a CLIP model is there); no OAuth, SMTP, config file or HLS yet."""
    from immich_lite.services import faces, ocr, smart_search  # noqa: PLC0415

    config = system_config.get_config(ctx)
    smart = smart_search.available(ctx, config)
    return {
        "smartSearch": smart,
        "facialRecognition": faces.enabled(config),
        "duplicateDetection": smart and smart_search.duplicates_enabled(config),
        "ocr": ocr.enabled(config),
        "map": bool(config["map"]["enabled"]),
        "reverseGeocoding": bool(config["reverseGeocoding"]["enabled"]) and _reverse_geocoding_available(),
        "importFaces": bool(config["metadata"]["faces"]["import"]),
        "sidecar": True,
        "search": True,
        "trash": bool(config["trash"]["enabled"]),
        "oauth": False,
        "oauthAutoLaunch": False,
        "passwordLogin": bool(config["passwordLogin"]["enabled"]),
        "configFile": False,
        "email": False,
        "realtimeTranscoding": False,
    }


def _in_maintenance(state: Any) -> bool:
    return isinstance(state, dict) and bool(state.get("isMaintenanceMode"))


def get_server_config(ctx: Ctx) -> dict[str, Any]:
    conn = ctx.db.reader()
    config = system_config.get_config(ctx, conn)
    onboarding = system_metadata.get(conn, metadata_service.ADMIN_ONBOARDING) or {}
    return {
        "loginPageMessage": config["server"]["loginPageMessage"],
        "trashDays": config["trash"]["days"],
        "userDeleteDelay": config["user"]["deleteDelay"],
        "oauthButtonText": config["oauth"]["buttonText"],
        "isInitialized": not auth_service.is_setup_available(ctx, conn),
        "isOnboarded": bool(onboarding.get("isOnboarded", False)),
        "externalDomain": config["server"]["externalDomain"],
        "publicUsers": config["server"]["publicUsers"],
        "mapDarkStyleUrl": config["map"]["darkStyle"],
        "mapLightStyleUrl": config["map"]["lightStyle"],
        # upstream's maintenance worker answers true; the web then shows its maintenance page
        "maintenanceMode": _in_maintenance(system_metadata.get(conn, "maintenance-mode")),
        "minFaces": config["machineLearning"]["facialRecognition"]["minFaces"],
    }


def get_supported_media_types() -> dict[str, list[str]]:
    from immich_lite.media import mime  # noqa: PLC0415

    return mime.media_types()


# --- statistics -----------------------------------------------------------------------------------

def get_statistics(ctx: Ctx) -> dict[str, Any]:
    totals = {"photos": 0, "videos": 0, "usage": 0, "usagePhotos": 0, "usageVideos": 0}
    by_user = []
    for r in server_repo.get_user_stats(ctx.db.reader()):
        row = {"userId": r["user_id"], "userName": r["user_name"], "photos": r["photos"], "videos": r["videos"],
               "usage": r["usage"], "usagePhotos": r["usage_photos"], "usageVideos": r["usage_videos"],
               "quotaSizeInBytes": r["quota_size_in_bytes"]}
        for k in totals:
            totals[k] += row[k]
        by_user.append(row)
    return {**totals, "usageByUser": by_user}


# --- product key ----------------------------------------------------------------------------------

# Immich: config.repository.ts productionKeys.server (base64 of a PEM public key)
SERVER_LICENSE_PUBLIC_KEY = (
    "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0FRRUFvcG5ZRGEwYS9k"
    "VTVJZUc3NGlFRQpNd2RBS2pzTmN6TGRDcVJkMVo5eTVUMndqTzdlWUlPZUpUc2wzNTBzUjBwNEtmU1VEU1h2QzlOcERwYzF0T0tsCjVzaEMv"
    "QXhwdlFBTENva0Y0anQ4dnJyZDlmQ2FYYzFUcVJiT21uaGl1Z0Q2dmtyME8vRmIzVURpM1UwVHZoUFAKbFBkdlNhd3pMcldaUExmbUhWVnJi"
    "clNLbW45SWVTZ3kwN3VrV1RJeUxzY2lOcnZuQnl3c0phUmVEdW9OV1BCSApVL21vMm1YYThtNHdNV2hpWGVoaUlPUXFNdVNVZ1BlQ3NXajhV"
    "VngxQ0dsUnpQREEwYlZOUXZlS1hXVnhjRUk2ClVMRWdKeTJGNDlsSDArYVlDbUJmN05FcjZWUTJXQjk1ZXZUS1hLdm4wcUlNN25nRmxjVUF3"
    "NmZ1VjFjTkNUSlMKNndJREFRQUIKLS0tLS1FTkQgUFVCTElDIEtFWS0tLS0tDQo="
)


def _der(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One DER element at pos: (tag, contents, next position)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def _rsa_public_key(pem_b64: str) -> tuple[int, int]:
    pem = base64.b64decode(pem_b64).decode()
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    _, spki, _ = _der(base64.b64decode(body), 0)
    _, _algorithm, pos = _der(spki, 0)
    _, bits, _ = _der(spki, pos)
    _, rsa_key, _ = _der(bits[1:], 0)  # skip the BIT STRING's unused-bits byte
    _, n, pos = _der(rsa_key, 0)
    _, e, _ = _der(rsa_key, pos)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _b64decode(text: str) -> bytes:
    """Like node's Buffer.from(text, 'base64'): both alphabets, stops at '=', skips anything else."""
    text = "".join(c for c in text.split("=", 1)[0].translate(str.maketrans("-_", "+/")) if c in _B64)
    return base64.b64decode(text + "=" * (-len(text) % 4)) if len(text) % 4 != 1 else b""


def verify_sha256(value: str, signature_b64: str, public_key_b64: str) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256, as upstream CryptoRepository.verifySha256 (node's createVerify)."""
    try:
        n, e = _rsa_public_key(public_key_b64)
        signature = _b64decode(signature_b64)
    except (ValueError, IndexError, UnicodeDecodeError):
        return False
    k = (n.bit_length() + 7) // 8
    s = int.from_bytes(signature, "big")
    if len(signature) != k or s >= n:
        return False
    t = _SHA256_DIGEST_INFO + hashlib.sha256(value.encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(pow(s, e, n).to_bytes(k, "big"), expected)


def get_license(ctx: Ctx) -> dict[str, Any]:
    value = system_metadata.get(ctx.db.reader(), LICENSE)
    if not value:
        raise NotFound("Not Found")
    return dict(value)


def set_license(ctx: Ctx, dto: dict[str, Any]) -> dict[str, Any]:
    """:raises BadRequest: not a server key, or the activation key was not signed for it."""
    key, activation = dto["licenseKey"], dto["activationKey"]
    if not key.startswith("IMSV-") or not verify_sha256(key, activation, SERVER_LICENSE_PUBLIC_KEY):
        raise BadRequest("Invalid license key")
    value = {"licenseKey": key, "activationKey": activation, "activatedAt": ids.now_iso()}
    with ctx.db.write() as conn:
        system_metadata.set(conn, LICENSE, value)
    return value


def delete_license(ctx: Ctx) -> None:
    with ctx.db.write() as conn:
        system_metadata.delete(conn, LICENSE)
