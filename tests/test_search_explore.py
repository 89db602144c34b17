"""Suggestions, explore, cities, places, people, random, large assets, statistics and smart search through HTTP,
against the search test library (tests/helpers/search_library.py), with the index and without."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from immich_lite import jobs
from immich_lite.services.search_index import index_of
from tests.conftest import assert_error, assert_schema
from tests.helpers.app import admin_app
from tests.helpers.search_library import BERLIN, TOKYO, Library, build
from tests.helpers.upload import upload
from tests.helpers.xmp import sidecar
from tests.test_timeline import tiny_jpeg


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    with admin_app(tmp_path_factory.mktemp("explore") / "data", workers=1) as (app, admin):
        library = build(app.state.ctx, admin.client, admin)
        # five more photos in Berlin (six in all: shown by explore), three more in Tokyo (four: not shown)
        for i, (place, n) in enumerate(((BERLIN, 5), (TOKYO, 3))):
            for k in range(n):
                meta = sidecar(taken=f"2024-0{i + 1}-0{k + 1}T12:00:00+00:00", lat=place[0], lon=place[1])
                r = upload(admin, data=tiny_jpeg(), filename=f"extra-{i}-{k}.jpg", sidecar=meta)
                assert r.status_code == 201
                library.ids[f"extra-{i}-{k}"] = r.json()["id"]
        jobs.drain(library.ctx)
        library.names = {v: k for k, v in library.ids.items()}
        yield library


@pytest.fixture(params=["index", "sql"])
def mode(request: pytest.FixtureRequest, lib: Library) -> Iterator[str]:
    """Each test runs against the index, then with it removed (answers from SQL alone), then rebuilt."""
    idx = index_of(lib.ctx)
    if request.param == "sql":
        idx.discard()
    else:
        if not idx.is_current():
            assert lib.a.put("/api/jobs/search", json={"command": "start", "force": True}).status_code == 200
            jobs.drain(lib.ctx)
        assert idx.is_current()
    yield request.param


def suggestions(actor: Any, **params: Any) -> list[Any]:
    r = actor.get("/api/search/suggestions", params=params)
    assert r.status_code == 200, r.text
    return assert_schema(r, "getSearchSuggestions") if None not in r.json() else r.json()


SUGGESTIONS = [
    ({"type": "country"}, ["France", "Germany", "India", "Japan", "United Kingdom"]),
    ({"type": "country", "includeNull": "true"}, ["France", "Germany", "India", "Japan", "United Kingdom", None]),
    ({"type": "state"}, ["England", "Île-de-France", "Karnataka", "State of Berlin", "Tokyo"]),
    ({"type": "state", "country": "France"}, ["Île-de-France"]),
    ({"type": "city"}, ["Bengaluru", "Berlin", "Crystal Palace", "Paris", "Tokyo"]),
    ({"type": "city", "country": "Germany"}, ["Berlin"]),
    ({"type": "city", "country": "Japan", "state": "Tokyo"}, ["Tokyo"]),
    ({"type": "city", "state": "Nowhere"}, []),
    ({"type": "camera-make"}, ["Apple", "Canon", "NIKON CORPORATION", "samsung"]),
    ({"type": "camera-model", "make": "Canon"}, ["Canon EOS 7D", "Canon EOS R5"]),
    ({"type": "camera-model", "lensModel": "EF24-105mm f/4L"}, ["Canon EOS 7D"]),
    ({"type": "camera-lens-model", "make": "Canon"}, ["EF24-105mm f/4L"]),
    ({"type": "camera-lens-model", "make": "Canon", "model": "Canon EOS R5"}, []),
]


@pytest.mark.parametrize(("params", "expected"), SUGGESTIONS, ids=[str(p) for p, _ in SUGGESTIONS])
def test_suggestions_narrow_and_sort_as_upstream(lib: Library, mode: str, params: dict[str, Any],
                                                 expected: list[Any]) -> None:
    assert suggestions(lib.a, **params) == expected


def test_suggestions_follow_scope_and_changes(lib: Library, mode: str) -> None:
    assert suggestions(lib.b, type="country") == ["France"]  # B: only B's own timeline
    assert suggestions(lib.c, type="city") == ["Paris"]
    assert lib.a.put("/api/queues/search", json={"isPaused": True}).status_code == 200
    try:  # a change the index has not seen yet counts at once
        assert lib.a.put("/api/assets", json={"ids": [lib.ids["motion"]], "visibility": "archive"}).status_code == 204
        assert "India" not in suggestions(lib.a, type="country")
    finally:
        lib.a.put("/api/assets", json={"ids": [lib.ids["motion"]], "visibility": "timeline"})
        assert lib.a.put("/api/queues/search", json={"isPaused": False}).status_code == 200
        jobs.drain(lib.ctx)
    assert "India" in suggestions(lib.a, type="country")


def test_suggestions_reject_an_unknown_type(lib: Library) -> None:
    assert lib.a.get("/api/search/suggestions", params={"type": "colour"}).status_code == 400
    assert lib.a.get("/api/search/suggestions").status_code == 400


def test_explore_shows_cities_with_five_photos_and_recent_uploads(lib: Library, mode: str) -> None:
    r = lib.a.get("/api/search/explore")
    body = assert_schema(r, "getExploreData")
    by_field = {f["fieldName"]: f["items"] for f in body}
    assert list(by_field) == ["exifInfo.city", "createdAt"]
    cities = by_field["exifInfo.city"]
    assert [c["value"] for c in cities] == ["Berlin"]  # 6 photos; Tokyo has 4, Paris 2 of mine
    newest_berlin = cities[0]["data"]
    assert newest_berlin["id"] == lib.ids["extra-0-4"] and newest_berlin["exifInfo"]["city"] == "Berlin"
    recent = by_field["createdAt"]
    assert len(recent) == 12
    names = [lib.names[i["data"]["id"]] for i in recent]
    assert set(names) <= {"paris", "berlin", "tokyo", "nogps", "motion"} | {n for n in lib.ids if n.startswith("extra")}
    assert [i["value"] for i in recent] == sorted((i["value"] for i in recent), reverse=True)
    assert all(i["value"] == i["data"]["createdAt"] for i in recent)


def test_cities_one_photo_each(lib: Library, mode: str) -> None:
    body = assert_schema(lib.a.get("/api/search/cities"), "getAssetsByCity")
    assert [a["exifInfo"]["city"] for a in body] == ["Bengaluru", "Berlin", "Paris", "Tokyo"]
    assert [lib.names[a["id"]] for a in body] == ["motion", "extra-0-4", "b_paris", "extra-1-2"]


PLACES = [("Paris", "Paris"), ("paris", "Paris"), ("Sao Paulo", "São Paulo"), ("Berlni", "Berlin"),
          ("new york", "New York City"), ("Tokio", "Tokyo")]


@pytest.mark.parametrize(("name", "first"), PLACES)
def test_places_by_name(lib: Library, name: str, first: str) -> None:
    body = assert_schema(lib.a.get("/api/search/places", params={"name": name}), "searchPlaces")
    assert body[0]["name"] == first
    assert len(body) <= 20 and all({"name", "latitude", "longitude"} <= set(p) for p in body)


def test_places_answer_many_and_admin_names(lib: Library) -> None:
    body = lib.a.get("/api/search/places", params={"name": "Paris"}).json()
    assert len(body) > 10 and body[0]["admin1name"] == "Île-de-France"
    assert any(p.get("admin2name") for p in body)
    assert lib.a.get("/api/search/places", params={"name": "!!"}).json() == []
    assert lib.a.get("/api/search/places").status_code == 400


def test_people_by_name(lib: Library) -> None:
    def names(**params: Any) -> list[str]:
        r = lib.a.get("/api/search/person", params=params)
        return [p["name"] for p in assert_schema(r, "searchPerson")]

    assert names(name="jo") == ["Jon Snow"]
    assert names(name="elodie") == ["Élodie Martin"]
    assert names(name="martin") == ["Élodie Martin"]
    assert names(name="snoww") == ["Jon Snow"]  # a near miss, as pg_trgm word similarity allows
    assert names(name="zzz") == []
    assert lib.a.put(f"/api/people/{lib.people['jon']}", json={"isHidden": True}).status_code == 200
    try:
        assert names(name="jon") == []
        assert names(name="jon", withHidden="true") == ["Jon Snow"]
    finally:
        lib.a.put(f"/api/people/{lib.people['jon']}", json={"isHidden": False})
    assert lib.b.get("/api/search/person", params={"name": "jon"}).json() == []


def test_random_stays_in_scope(lib: Library, mode: str) -> None:
    seen: set[str] = set()
    for _ in range(15):
        r = lib.a.post("/api/search/random", json={"size": 3})
        items = assert_schema(r, "searchRandom")
        assert len(items) == 3
        seen |= lib.name_set(items)
    allowed = lib.visible_to_a() | {n for n in lib.ids if n.startswith("extra")}
    assert seen <= allowed and len(seen) > 3
    only = lib.a.post("/api/search/random", json={"size": 5, "city": "Tokyo", "withExif": True}).json()
    assert {i["exifInfo"]["city"] for i in only} == {"Tokyo"} and len(only) == 4


def test_large_assets_biggest_first_and_in_scope(lib: Library, mode: str) -> None:
    r = lib.a.post("/api/search/large-assets", params={"size": 3})
    items = assert_schema(r, "searchLargeAssets")
    assert [lib.names[i["id"]] for i in items][:1] == ["motion"]
    sizes = [i["exifInfo"]["fileSizeInByte"] for i in items]  # always there: the web's Large files page shows it
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 3_000_000
    big = lib.a.post("/api/search/large-assets", params={"minFileSize": 1_000_000, "withExif": "true"}).json()
    assert {lib.names[i["id"]] for i in big} == {"motion", "motion_video"} and all(i["exifInfo"] for i in big)
    everything = lib.a.post("/api/search/large-assets", params={"size": 1000}).json()
    assert lib.name_set(everything) <= lib.visible_to_a() | {n for n in lib.ids if n.startswith("extra")}
    assert lib.b.post("/api/search/large-assets", params={"size": 1000}).json()  # B's own
    assert not lib.name_set(lib.b.post("/api/search/large-assets", params={"size": 1000}).json()) & {
        "locked", "archived", "trashed", "paris"}
    assert_error(lib.a.post("/api/search/large-assets", params={"visibility": "locked"}), 401,
                 "Elevated permission is required")


def test_statistics_counts(lib: Library, mode: str) -> None:
    def total(body: dict[str, Any]) -> int:
        return int(assert_schema(lib.a.post("/api/search/statistics", json=body), "searchAssetStatistics")["total"])

    assert total({"city": "Berlin"}) == 6
    assert total({"city": "Berlin", "description": "sunset"}) == 1
    assert total({"visibility": "archive"}) == 1


def test_smart_search_without_a_clip_model(lib: Library) -> None:
    # CLIP is on by default (upstream), but this server has no model and no ML URL answers: a 400 that says so
    resp = lib.a.post("/api/search/smart", json={"query": "a dog"})
    assert resp.status_code == 400 and resp.json()["message"].startswith("Smart search is not available: CLIP model")
    assert lib.a.get("/api/server/features").json()["smartSearch"] is False
    assert_error(lib.a.post("/api/search/smart", json={"query": "x", "visibility": "locked"}), 401,
                 "Elevated permission is required")
    assert lib.a.get("/api/server/features").json()["search"] is True
