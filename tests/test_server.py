"""GET /server/*: version, features, public config, about, storage, statistics, media types, product key."""
from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from immich_lite import IMMICH_VERSION, ids
from immich_lite.services import server as server_service
from tests.conftest import ADMIN, assert_error, assert_schema, make_user

PUBLIC = ["/api/server/ping", "/api/server/version", "/api/server/version-history", "/api/server/features",
          "/api/server/config", "/api/server/media-types"]
SERVER_KEY = "IMSV-" + "-".join(["AB12"] * 8)


@pytest.mark.parametrize("path", PUBLIC)
def test_public_route_works_without_auth(client: Any, path: str) -> None:
    assert client.get(path).status_code == 200


def test_ping_answers_pong(client: Any) -> None:
    r = client.get("/api/server/ping")
    assert assert_schema(r, "pingServer") == {"res": "pong"}


def test_version_is_the_protocol_version(client: Any) -> None:
    body = assert_schema(client.get("/api/server/version"), "getServerVersion")
    assert (body["major"], body["minor"], body["patch"]) == IMMICH_VERSION == (3, 1, 0)
    assert body["prerelease"] is None


def test_version_history_lists_the_current_version(client: Any) -> None:
    body = assert_schema(client.get("/api/server/version-history"), "getVersionHistory")
    assert [row["version"] for row in body] == ["3.1.0"]


def test_record_version_adds_nothing_when_unchanged(client: Any, ctx: Any) -> None:
    server_service.record_version(ctx)
    server_service.record_version(ctx)
    assert len(client.get("/api/server/version-history").json()) == 1


def test_record_version_adds_an_upgrade_newest_first(client: Any, ctx: Any) -> None:
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO version_history (id, created_at, version) VALUES (?, ?, ?)",
                     (ids.new_id(), "2025-01-01T00:00:00.000Z", "2.7.5"))
    server_service.record_version(ctx)
    body = assert_schema(client.get("/api/server/version-history"), "getVersionHistory")
    assert [row["version"] for row in body] == ["3.1.0", "2.7.5"]


def test_features_report_faces_and_ocr_but_no_smart_search_without_a_model(client: Any) -> None:
    body = assert_schema(client.get("/api/server/features"), "getServerFeatures")
    # no CLIP model in <data-dir>/models and no ML URL up: smart search and duplicates off (tests/test_smart_search
    # covers them on); OAuth, email, config file and HLS are not built
    off = ["smartSearch", "duplicateDetection", "oauth", "oauthAutoLaunch", "email", "configFile",
           "realtimeTranscoding"]
    assert {k: body[k] for k in off} == dict.fromkeys(off, False)
    assert body["facialRecognition"] is True and body["ocr"] is True  # in process, on by default as upstream
    assert body["trash"] and body["map"] and body["search"] and body["sidecar"] and body["passwordLogin"]


def test_features_follow_the_config(client: Any, admin: Any) -> None:
    config = admin.get("/api/system-config").json()
    config["trash"]["enabled"] = False
    config["map"]["enabled"] = False
    assert admin.put("/api/system-config", json=config).status_code == 200
    body = assert_schema(client.get("/api/server/features"), "getServerFeatures")
    assert body["trash"] is False and body["map"] is False


def test_config_is_not_initialized_before_admin_sign_up(client: Any) -> None:
    body = assert_schema(client.get("/api/server/config"), "getServerConfig")
    assert body["isInitialized"] is False and body["isOnboarded"] is False


def test_config_is_initialized_after_admin_sign_up(client: Any) -> None:
    assert client.post("/api/auth/admin-sign-up", json=ADMIN).status_code == 201
    assert client.get("/api/server/config").json()["isInitialized"] is True


def test_config_defaults_match_upstream(client: Any) -> None:
    body = assert_schema(client.get("/api/server/config"), "getServerConfig")
    assert body == {
        "loginPageMessage": "", "trashDays": 30, "userDeleteDelay": 7, "oauthButtonText": "Login with OAuth",
        "isInitialized": False, "isOnboarded": False, "externalDomain": "", "publicUsers": True,
        "mapDarkStyleUrl": "https://tiles.immich.cloud/v1/style/dark.json",
        "mapLightStyleUrl": "https://tiles.immich.cloud/v1/style/light.json", "maintenanceMode": False,
        "minFaces": 3,
    }


def test_config_reflects_system_config(client: Any, admin: Any) -> None:
    config = admin.get("/api/system-config").json()
    config["trash"]["days"] = 12
    config["server"]["loginPageMessage"] = "Hello"
    admin.put("/api/system-config", json=config)
    body = client.get("/api/server/config").json()
    assert (body["trashDays"], body["loginPageMessage"]) == (12, "Hello")


def test_about_reports_version_and_real_tools(admin: Any) -> None:
    body = assert_schema(admin.get("/api/server/about"), "getAboutInfo")
    assert body["version"] == "v3.1.0"
    assert body["versionUrl"] == "https://github.com/immich-app/immich/releases/tag/v3.1.0"
    assert body["licensed"] is False
    assert "nodejs" not in body and "imagemagick" not in body
    import pyvips

    assert body["libvips"] == f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    if shutil.which("exiftool"):
        assert body["exiftool"] == subprocess.run(["exiftool", "-ver"], capture_output=True, text=True).stdout.strip()


def test_apk_links_point_at_the_reported_release(admin: Any) -> None:
    body = assert_schema(admin.get("/api/server/apk-links"), "getApkLinks")
    assert body["universal"] == "https://github.com/immich-app/immich/releases/download/v3.1.0/app-release.apk"


def test_storage_matches_disk_usage(admin: Any, ctx: Any) -> None:
    body = assert_schema(admin.get("/api/server/storage"), "getStorage")
    usage = shutil.disk_usage(ctx.storage.root)
    assert body["diskSizeRaw"] == usage.total
    assert abs(body["diskAvailableRaw"] - usage.free) < 64 * 1024 * 1024  # other processes write meanwhile
    assert abs(body["diskUseRaw"] - usage.used) < 64 * 1024 * 1024
    assert body["diskSize"] == server_service.as_human_readable(usage.total)
    assert body["diskUsagePercentage"] == pytest.approx(usage.used / usage.total * 100, abs=0.1)


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1280, "1.3 KiB"),
                                        (1288490189, "1.2 GiB"), (5 * 1024**4, "5.0 TiB")])
def test_human_readable_sizes_as_upstream(size: int, text: str) -> None:
    assert server_service.as_human_readable(size) == text


def test_statistics_is_admin_only(user: Any) -> None:
    assert_error(user.get("/api/server/statistics"), 403)


def _asset(ctx: Any, owner: str, kind: str, size: int, visibility: str = "timeline", trashed: bool = False) -> None:
    now = ids.now_iso()
    asset_id = ids.new_id()
    with ctx.db.write() as conn:
        conn.execute(
            "INSERT INTO asset (id, owner_id, type, original_path, original_file_name, checksum, file_created_at,"
            " file_modified_at, local_date_time, created_at, updated_at, visibility, deleted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (asset_id, owner, kind, f"/x/{asset_id}", "f", asset_id.encode(), now, now, now, now, now, visibility,
             now if trashed else None))
        conn.execute("INSERT INTO asset_exif (asset_id, file_size_in_byte) VALUES (?, ?)", (asset_id, size))


def test_statistics_count_assets_per_user(client: Any, admin: Any, ctx: Any) -> None:
    bob = make_user(client, admin, "bob@immich.cloud", "Bob")
    _asset(ctx, admin.id, "IMAGE", 100)
    _asset(ctx, admin.id, "VIDEO", 1000)
    _asset(ctx, admin.id, "VIDEO", 10, visibility="hidden")  # a live photo's motion part: usage, not a count
    _asset(ctx, admin.id, "IMAGE", 5000, trashed=True)  # in the trash: not counted
    _asset(ctx, bob.id, "IMAGE", 7)
    body = assert_schema(admin.get("/api/server/statistics"), "getServerStatistics")
    assert (body["photos"], body["videos"], body["usage"], body["usagePhotos"], body["usageVideos"]) == \
        (2, 1, 1117, 107, 1010)
    mine, bobs = body["usageByUser"]
    assert (mine["userId"], mine["photos"], mine["videos"], mine["usage"]) == (admin.id, 1, 1, 1110)
    assert (bobs["userName"], bobs["usage"], bobs["quotaSizeInBytes"]) == ("Bob", 7, None)


def test_media_types_list_extensions(client: Any) -> None:
    body = assert_schema(client.get("/api/server/media-types"), "getSupportedMediaTypes")
    assert ".jpg" in body["image"] and ".heic" in body["image"] and ".dng" in body["image"]
    assert ".mp4" in body["video"] and ".mov" in body["video"]
    assert body["sidecar"] == [".xmp"]


def test_version_check_is_null_when_never_checked(admin: Any) -> None:
    body = assert_schema(admin.get("/api/server/version-check"), "getVersionCheck")
    assert body == {"checkedAt": None, "releaseVersion": None}


def test_license_is_404_when_none(admin: Any) -> None:
    assert_error(admin.get("/api/server/license"), 404)


def test_license_routes_are_admin_only(user: Any) -> None:
    assert_error(user.get("/api/server/license"), 403)
    assert_error(user.put("/api/server/license", json={"licenseKey": SERVER_KEY, "activationKey": "x"}), 403)


def test_license_rejects_a_client_key(admin: Any) -> None:
    key = "IMCL-" + "-".join(["AB12"] * 8)
    assert_error(admin.put("/api/server/license", json={"licenseKey": key, "activationKey": "x"}), 400,
                 "Invalid license key")


def test_license_rejects_a_bad_activation_key(admin: Any) -> None:
    r = admin.put("/api/server/license", json={"licenseKey": SERVER_KEY, "activationKey": base64.b64encode(
        b"\x01" * 256).decode()})
    assert_error(r, 400, "Invalid license key")


def test_license_rejects_a_malformed_key(admin: Any) -> None:
    assert_error(admin.put("/api/server/license", json={"licenseKey": "IMSV-1", "activationKey": "x"}), 400)


def _signing_key(tmp: Path) -> tuple[Path, str]:
    """A throwaway RSA key: (private key file, base64 of the public PEM, as upstream stores its key)."""
    private = tmp / "key.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout"], check=True,
                            capture_output=True).stdout
    return private, base64.b64encode(public).decode()


def _sign(private: Path, value: str) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(private)], input=value.encode(), check=True,
                         capture_output=True).stdout
    return base64.b64encode(out).decode()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to sign a test key")
def test_license_round_trip_with_a_signed_key(admin: Any, tmp_path: Path, monkeypatch: Any) -> None:
    private, public = _signing_key(tmp_path)
    monkeypatch.setattr(server_service, "SERVER_LICENSE_PUBLIC_KEY", public)
    dto = {"licenseKey": SERVER_KEY, "activationKey": _sign(private, SERVER_KEY)}
    body = assert_schema(admin.put("/api/server/license", json=dto), "setServerLicense")
    assert body["licenseKey"] == SERVER_KEY and body["activatedAt"]
    assert assert_schema(admin.get("/api/server/license"), "getServerLicense") == body
    assert admin.get("/api/server/about").json()["licensed"] is True
    assert admin.delete("/api/server/license").status_code == 204
    assert_error(admin.get("/api/server/license"), 404)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to sign a test key")
def test_verify_sha256_rejects_a_signature_for_another_value(tmp_path: Path) -> None:
    private, public = _signing_key(tmp_path)
    assert server_service.verify_sha256("a", _sign(private, "a"), public)
    assert not server_service.verify_sha256("b", _sign(private, "a"), public)



# Immich's staging server key and the product key its e2e suite activates with it (e2e server.e2e-spec.ts):
# a real signature, so the verifier is checked against upstream's own data, base64url activation key included.
STAGING_SERVER_KEY = (
    "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0FRRUE3Sy8yd3ZLUS9N"
    "dU8ydi9MUm5saAoyUy9zTHhDOGJiTEw1UUlKOGowQ3BVZW40YURlY2dYMUpKUmtGNlpUVUtpNTdTbEhtS3RSM2JOTzJmdTBUUVg5Ck5WMEJz"
    "VzllZVB0MmlTMWl4VVFmTzRObjdvTjZzbEtac01qd29RNGtGRGFmM3VHTlZJc0dMb3UxVWRLUVhpeDEKUlRHcXVTb3NZVjNWRlk3Q1hGYTVW"
    "aENBL3poVXNsNGFuVXp3eEF6M01jUFVlTXBaenYvbVZiQlRKVzBPSytWZgpWQUJvMXdYMkVBanpBekVHVzQ3Vko4czhnMnQrNHNPaHFBNStM"
    "QjBKVzlORUg5QUpweGZzWE4zSzVtM00yNUJVClZXcTlRYStIdHRENnJ0bnAvcUFweXVkWUdwZk9HYTRCUlZTR1MxMURZM0xrb2FlRzYwUEU5"
    "NHpoYjduOHpMWkgKelFJREFRQUIKLS0tLS1FTkQgUFVCTElDIEtFWS0tLS0tDQo="
)
E2E_LICENSE = {
    "licenseKey": "IMSV-6ECZ-91TE-WZRM-Q7AQ-MBN4-UW48-2CPT-71X9",
    "activationKey": (
        "4kJUNUWMq13J14zqPFm1NodRcI6MV6DeOGvQNIgrM8Sc9nv669wyEVvFw1Nz4Kb1W7zLWblOtXEQzpRRqC4r4fKjewJxfbpeo9sEsqAVIf"
        "l4Ero-Vp1Dg21-sVdDGZEAy2oeTCXAyCT5d1JqrqR6N1qTAm4xOx9ujXQRFYhjRG8uwudw7_Q49pF18Tj5OEv9qCqElxztoNck4i6O_azs"
        "msoOQrLIENIWPh3EynBN3ESpYERdCgXO8MlWeuG14_V1HbNjnJPZDuvYg__YfMzoOEtfm1sCqEaJ2Ww-BaX7yGfuCL4XsuZlCQQNHjfscy"
        "_WywVfIZPKCiW8QR74i0cSzQ"
    ),
}


def test_verify_sha256_accepts_upstreams_e2e_license() -> None:
    assert server_service.verify_sha256(E2E_LICENSE["licenseKey"], E2E_LICENSE["activationKey"], STAGING_SERVER_KEY)


def test_verify_sha256_rejects_a_tampered_activation_key() -> None:
    tampered = "invalid" + E2E_LICENSE["activationKey"]
    assert not server_service.verify_sha256(E2E_LICENSE["licenseKey"], tampered, STAGING_SERVER_KEY)


def test_production_key_rejects_the_staging_license(admin: Any) -> None:
    assert_error(admin.put("/api/server/license", json=E2E_LICENSE), 400, "Invalid license key")
