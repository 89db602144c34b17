"""Map markers and reverse geocoding over HTTP (tiny JPEG uploads whose GPS comes from an XMP sidecar)."""
from __future__ import annotations

from typing import Any

import pytest

from immich_lite import jobs
from tests.conftest import Actor, assert_error, assert_invalid, assert_schema
from tests.test_timeline import make_album, make_partner, put

PARIS = (48.8583, 2.2919)
TOKYO = (35.7142, 139.7963)


def markers(actor: Actor, **params: Any) -> list[dict[str, Any]]:
    r = actor.get("/api/map/markers", params={k: str(v).lower() if isinstance(v, bool) else v
                                                for k, v in params.items()})
    assert r.status_code == 200, r.text
    return assert_schema(r, "getMapMarkers")  # type: ignore[no-any-return]


def ids_of(actor: Actor, **params: Any) -> list[str]:
    return [m["id"] for m in markers(actor, **params)]


def gps(actor: Actor, taken: str, where: tuple[float, float] = PARIS) -> str:
    return put(actor, taken=taken, lat=where[0], lon=where[1])


def test_only_assets_with_gps_newest_first(admin: Actor, ctx: Any) -> None:
    old = gps(admin, "2020-05-01T10:00:00+02:00")
    new = gps(admin, "2024-01-01T10:00:00+09:00", TOKYO)
    put(admin, "2022-01-01T10:00:00.000Z")  # no GPS
    jobs.drain(ctx)
    got = markers(admin)
    assert [m["id"] for m in got] == [new, old]
    assert got[0]["lat"] == pytest.approx(TOKYO[0], abs=1e-3) and got[0]["lon"] == pytest.approx(TOKYO[1], abs=1e-3)
    assert got[0]["country"] == "Japan" and got[0]["state"] == "Tokyo" and got[0]["city"]
    assert got[1]["country"] == "France"


def test_archive_favorite_date_and_trash_filters(admin: Actor, ctx: Any) -> None:
    plain = gps(admin, "2020-05-01T10:00:00+02:00")
    archived = gps(admin, "2021-05-01T10:00:00+02:00")
    favorite = gps(admin, "2022-05-01T10:00:00+02:00")
    trashed = gps(admin, "2023-05-01T10:00:00+02:00")
    locked = gps(admin, "2023-06-01T10:00:00+02:00")
    jobs.drain(ctx)
    admin.put(f"/api/assets/{archived}", json={"visibility": "archive"})
    admin.put(f"/api/assets/{favorite}", json={"isFavorite": True})
    admin.put(f"/api/assets/{locked}", json={"visibility": "locked"})
    admin.delete("/api/assets", json={"ids": [trashed]})
    assert ids_of(admin) == [favorite, plain]
    assert ids_of(admin, isArchived=False) == [favorite, plain]
    assert ids_of(admin, isArchived=True) == [favorite, archived, plain]
    assert ids_of(admin, isFavorite=True) == [favorite]
    assert ids_of(admin, isFavorite=False) == [plain]
    assert ids_of(admin, fileCreatedAfter="2021-01-01T00:00:00.000Z") == [favorite]
    assert ids_of(admin, fileCreatedBefore="2021-01-01T00:00:00Z") == [plain]
    assert ids_of(admin, isArchived=True, fileCreatedAfter="2021-01-01T00:00:00+00:00",
                  fileCreatedBefore="2022-01-01T00:00:00.000Z") == [archived]
    assert locked not in ids_of(admin, isArchived=True)


def test_partners_only_with_partners_and_never_their_archive_or_locked(admin: Actor, user: Actor, ctx: Any) -> None:
    mine = gps(admin, "2020-05-01T10:00:00+02:00")
    shared = gps(user, "2021-05-01T10:00:00+02:00")
    archived = gps(user, "2022-05-01T10:00:00+02:00")
    locked = gps(user, "2023-05-01T10:00:00+02:00")
    jobs.drain(ctx)
    user.put(f"/api/assets/{shared}", json={"isFavorite": True})
    user.put(f"/api/assets/{archived}", json={"visibility": "archive"})
    user.put(f"/api/assets/{locked}", json={"visibility": "locked"})
    make_partner(ctx, user, admin, in_timeline=False)  # the map takes every partner, in the timeline or not
    assert ids_of(admin) == [mine]
    assert ids_of(admin, withPartners=True) == [shared, mine]
    assert ids_of(admin, withPartners=True, isArchived=True) == [shared, mine]
    assert ids_of(admin, withPartners=True, isFavorite=True) == []  # their favourite is not mine
    assert ids_of(user) == [shared]  # sharing is one way


def test_shared_albums_only_with_shared_albums(admin: Actor, user: Actor, ctx: Any) -> None:
    mine = gps(user, "2020-05-01T10:00:00+02:00")
    in_album = gps(admin, "2021-05-01T10:00:00+02:00")
    locked = gps(admin, "2022-05-01T10:00:00+02:00")
    not_shared = gps(admin, "2023-05-01T10:00:00+02:00")
    jobs.drain(ctx)
    make_album(ctx, admin, [in_album, locked], members=(user,))
    with ctx.db.write() as conn:
        conn.execute("UPDATE asset SET visibility = 'locked' WHERE id = ?", (locked,))
    assert ids_of(user) == [mine]
    assert ids_of(user, withSharedAlbums=True) == [in_album, mine]
    assert not_shared not in ids_of(user, withSharedAlbums=True, withPartners=True, isArchived=True)


def test_reverse_geocode(admin: Actor) -> None:
    r = admin.get("/api/map/reverse-geocode", params={"lat": PARIS[0], "lon": PARIS[1]})
    [place] = assert_schema(r, "reverseGeocode")
    assert place["country"] == "France" and place["state"] == "Île-de-France" and place["city"]
    r = admin.get("/api/map/reverse-geocode", params={"lat": 0, "lon": -30})  # mid-Atlantic
    assert assert_schema(r, "reverseGeocode") == [{"city": None, "state": None, "country": None}]


@pytest.mark.parametrize(("params", "issue"), [
    ({"lat": 91, "lon": 0}, (["lat"], "Too big: expected number to be <=90")),
    ({"lat": 0, "lon": -181}, (["lon"], "Too small: expected number to be >=-180")),
    ({"lat": "x", "lon": 0}, (["lat"], "Invalid input: expected number, received NaN")),
    ({"lon": 0}, (["lat"], "Invalid input: expected number, received undefined")),
])
def test_reverse_geocode_validates(admin: Actor, params: dict[str, Any], issue: Any) -> None:
    assert_invalid(admin.get("/api/map/reverse-geocode", params=params), issue)
