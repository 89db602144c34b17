"""POST /search/metadata (and statistics) through HTTP on the real app: every filter of MetadataSearchDto alone and in
combinations, scoping (partners, shared albums, shared links, locked), pagination, text with accents, prefixes and
wildcards, the `query` words the web app sends. The whole table runs twice: answered with the Tantivy index, then
with the index gone (SQL alone, as while it is being rebuilt); both must give the same answers."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from immich_lite import jobs
from immich_lite.services.search_index import index_of
from tests.conftest import assert_error, assert_schema
from tests.helpers.app import admin_app
from tests.helpers.search_library import Library, b64, build
from tests.helpers.upload import upload
from tests.test_timeline import tiny_jpeg

ALL = "visible"  # expected: everything A's default search sees
NOW = datetime.now(UTC)
YESTERDAY = (NOW - timedelta(days=1)).isoformat()
TOMORROW = (NOW + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    with admin_app(tmp_path_factory.mktemp("search") / "data", workers=1) as (app, admin):
        yield build(app.state.ctx, admin.client, admin)


def search(lib: Library, body: dict[str, Any], actor: Any = None, **params: Any) -> Any:
    r = (actor or lib.a).post("/api/search/metadata", json=body, params=params)
    assert r.status_code == 200, r.text
    return assert_schema(r, "searchAssets")["assets"]


def everything(lib: Library, body: dict[str, Any], actor: Any = None) -> list[dict[str, Any]]:
    """All pages of a search (size 2, to exercise paging everywhere)."""
    items, page = [], 1
    while True:
        assets = search(lib, {**body, "size": 2, "page": page}, actor)
        items += assets["items"]
        assert assets["count"] == len(assets["items"])
        if assets["nextPage"] is None:
            return items
        page = int(assets["nextPage"])


def _cases() -> list[tuple[str, dict[str, Any], Any]]:
    v = {"paris", "berlin", "tokyo", "nogps", "archived", "video", "motion", "motion_video", "b_paris"}
    return [
        ("all", {}, ALL),
        ("visibility timeline", {"visibility": "timeline"}, v - {"archived", "motion_video"}),
        ("visibility archive (never a partner's)", {"visibility": "archive"}, {"archived"}),
        ("visibility hidden", {"visibility": "hidden"}, {"motion_video"}),
        ("isFavorite true", {"isFavorite": True}, {"paris"}),
        ("isFavorite false", {"isFavorite": False}, v - {"paris"}),
        ("type VIDEO", {"type": "VIDEO"}, {"video", "motion_video"}),
        ("type IMAGE", {"type": "IMAGE"}, v - {"video", "motion_video"}),
        ("isMotion true", {"isMotion": True}, {"motion"}),
        ("isMotion false", {"isMotion": False}, v - {"motion"}),
        ("withDeleted", {"withDeleted": True}, v | {"trashed"}),
        ("trashedAfter", {"trashedAfter": YESTERDAY}, {"trashed"}),
        ("trashedBefore (none)", {"trashedBefore": YESTERDAY}, set()),
        ("trashedBefore", {"trashedBefore": TOMORROW}, {"trashed"}),
        ("takenAfter + takenBefore", {"takenAfter": "2020-01-01T00:00:00.000Z",
                                      "takenBefore": "2021-12-31T00:00:00.000Z"}, {"paris", "berlin"}),
        ("takenBefore (none)", {"takenBefore": "1900-01-01T00:00:00.000Z"}, set()),
        ("createdAfter", {"createdAfter": YESTERDAY}, ALL),
        ("createdBefore (none)", {"createdBefore": YESTERDAY}, set()),
        ("updatedBefore (none)", {"updatedBefore": YESTERDAY}, set()),
        ("updatedAfter", {"updatedAfter": YESTERDAY}, ALL),
        ("city", {"city": "Paris"}, {"paris", "archived", "b_paris"}),
        ("city null", {"city": None, "visibility": "timeline", "type": "IMAGE"}, {"nogps"}),
        ("state", {"state": "Île-de-France"}, {"paris", "archived", "b_paris"}),
        ("country", {"country": "Japan"}, {"tokyo"}),
        ("make", {"make": "Canon"}, {"paris", "nogps"}),
        ("make null", {"make": None, "visibility": "timeline", "type": "IMAGE"}, {"b_paris"}),
        ("model", {"model": "Canon EOS 7D"}, {"paris"}),
        ("lensModel", {"lensModel": "EF24-105mm f/4L"}, {"paris"}),
        ("rating", {"rating": 3}, {"berlin"}),
        ("rating null", {"rating": None, "type": "IMAGE", "visibility": "timeline"}, v - {"paris", "berlin",
                                                                                         "video", "motion_video",
                                                                                         "archived"}),
        ("originalFileName, any case", {"originalFileName": "PARIS"}, {"paris"}),
        ("originalFileName prefix of a partner's", {"originalFileName": "img_b"}, {"b_paris"}),
        ("originalFileName _ wildcard", {"originalFileName": "p_ris"}, {"paris"}),
        ("originalFileName % wildcard", {"originalFileName": "to%o."}, {"tokyo"}),
        ("originalFileName trimmed", {"originalFileName": "  berlin  "}, {"berlin"}),
        ("originalFileName short", {"originalFileName": "ky"}, {"tokyo"}),
        ("description without accents", {"description": "creme brulee"}, {"paris"}),
        ("description with other accents", {"description": "CAFÉ"}, {"paris"}),
        ("description prefix", {"description": "brûl"}, {"paris"}),
        ("description CJK", {"description": "東京"}, {"tokyo"}),
        ("description of a partner's", {"description": "picnic"}, {"b_paris"}),
        ("description, not another user's", {"description": "Crème"}, {"paris"}),
        ("description of a locked asset", {"description": "secret"}, set()),
        ("description of a trashed asset", {"description": "trash"}, set()),
        ("description of a trashed asset, withDeleted", {"description": "trash", "withDeleted": True}, {"trashed"}),
        ("description, literal text", {"description": "' OR 1=1 --"}, set()),
        ("originalPath", {"originalPath": "upload/"}, v - {"motion_video"}),  # upstream: encoded-video/..-MP.mp4
        ("ocr", {"ocr": "observation"}, {"tokyo"}),
        ("ocr with a typo", {"ocr": "obsrvation"}, {"tokyo"}),
        ("ocr, no match", {"ocr": "zebra"}, set()),
        ("libraryId null", {"libraryId": None}, ALL),
        ("personIds", lambda L: {"personIds": [L.people["elodie"]]}, {"paris", "berlin"}),
        ("personIds, all of them", lambda L: {"personIds": [L.people["elodie"], L.people["jon"]]}, {"berlin"}),
        ("tagIds, a parent tag", lambda L: {"tagIds": [L.tags["food"]]}, {"paris"}),
        ("tagIds", lambda L: {"tagIds": [L.tags["dessert"]]}, {"paris"}),
        ("tagIds, all of them", lambda L: {"tagIds": [L.tags["dessert"], L.tags["japan"]]}, set()),
        ("tagIds null: untagged", {"tagIds": None}, v - {"paris", "tokyo"}),
        ("albumIds", lambda L: {"albumIds": [L.albums["summer"]]}, {"paris", "berlin"}),
        ("albumIds, in all of them", lambda L: {"albumIds": [L.albums["summer"], L.albums["food"]]}, {"paris"}),
        ("albumIds, another user's shared album", lambda L: {"albumIds": [L.albums["from_c"]]}, {"c_paris"}),
        ("isNotInAlbum", {"isNotInAlbum": True}, v - {"paris", "berlin"}),
        ("isEncoded false", {"isEncoded": False, "type": "IMAGE"}, v - {"video", "motion_video"}),
        ("isOffline", {"isOffline": True}, set()),
        ("withStacked false", {"withStacked": False}, v - {"tokyo", "nogps"}),
        ("id", lambda L: {"id": L.ids["berlin"]}, {"berlin"}),
        ("id of another user's", lambda L: {"id": L.ids["c_paris"]}, set()),
        ("checksum hex", lambda L: {"checksum": L.checksums["tokyo"].hex()}, {"tokyo"}),
        ("checksum base64", lambda L: {"checksum": b64(L.checksums["tokyo"])}, {"tokyo"}),
        ("checksum garbage", {"checksum": "zz-not-a-checksum"}, set()),
        ("query: a description word", {"query": "spree"}, {"berlin"}),
        ("query: a person", {"query": "elodie"}, {"paris", "berlin"}),
        ("query: an album", {"query": "summer holidays"}, {"paris", "berlin"}),
        ("query: a tag", {"query": "dessert"}, {"paris"}),
        ("query: a camera", {"query": "canon"}, {"paris", "nogps"}),
        ("query: a place, with a typo", {"query": "tokio"}, {"tokyo"}),
        ("query: two words", {"query": "paris canon"}, {"paris"}),
        ("query: a prefix", {"query": "sunse"}, {"berlin"}),
        ("query: OCR text", {"query": "observation"}, {"tokyo"}),
        ("query: CJK", {"query": "東京タワー"}, {"tokyo"}),
        ("city + isFavorite", {"city": "Paris", "isFavorite": True}, {"paris"}),
        ("make + takenAfter", {"make": "Canon", "takenAfter": "2019-01-01T00:00:00.000Z"}, {"paris"}),
        ("description + city", {"description": "sunset", "city": "Berlin"}, {"berlin"}),
        ("text + two filters", {"originalFileName": "erl", "type": "IMAGE", "country": "Germany"}, {"berlin"}),
        ("person + album + make", lambda L: {"personIds": [L.people["elodie"]], "albumIds": [L.albums["summer"]],
                                             "make": "NIKON CORPORATION"}, {"berlin"}),
        ("query + filter", {"query": "paris", "visibility": "archive"}, {"archived"}),
        ("query + description", {"query": "canon", "description": "café"}, {"paris"}),
    ]


CASES = _cases()


def _run(lib: Library, dto: Any, expected: Any) -> None:
    body = dto(lib) if callable(dto) else dto
    want = lib.visible_to_a() if expected == ALL else expected
    items = everything(lib, body)
    got = [lib.names.get(i["id"], i["id"]) for i in items]
    assert len(got) == len(set(got)), f"duplicates across pages: {got}"
    assert set(got) == want, body
    stats = lib.a.post("/api/search/statistics", json={k: v for k, v in body.items() if k in _STATISTICS_KEYS})
    if set(body) <= _STATISTICS_KEYS and "albumIds" not in body:  # statistics always scope to me + partners
        assert stats.status_code == 200, stats.text
        assert assert_schema(stats, "searchAssetStatistics")["total"] == len(want), body


_STATISTICS_KEYS = {"libraryId", "type", "isEncoded", "isFavorite", "isMotion", "isOffline", "visibility",
                    "createdBefore", "createdAfter", "updatedBefore", "updatedAfter", "trashedBefore", "trashedAfter",
                    "takenBefore", "takenAfter", "city", "state", "country", "make", "model", "lensModel",
                    "isNotInAlbum", "personIds", "tagIds", "albumIds", "rating", "ocr", "description"}


@pytest.mark.parametrize(("name", "dto", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_with_index(lib: Library, name: str, dto: Any, expected: Any) -> None:
    assert index_of(lib.ctx).is_current()
    _run(lib, dto, expected)


def test_results_come_newest_first_and_page_as_upstream(lib: Library) -> None:
    body = {"visibility": "timeline", "type": "IMAGE", "isMotion": False}
    desc = [lib.names[i["id"]] for i in everything(lib, body)]
    assert desc == ["b_paris", "berlin", "paris", "tokyo", "nogps"]
    asc = [lib.names[i["id"]] for i in everything(lib, {**body, "order": "asc"})]
    assert asc == desc[::-1]
    first = search(lib, {**body, "size": 2})
    assert first["nextPage"] == "2" and first["count"] == 2 and first["total"] == 2
    last = search(lib, {**body, "size": 2, "page": 3})
    assert [lib.names[i["id"]] for i in last["items"]] == ["nogps"] and last["nextPage"] is None
    assert search(lib, {**body, "size": 2, "page": 9})["items"] == []


def test_items_are_mapped_as_upstream(lib: Library) -> None:
    plain = search(lib, {"id": lib.ids["paris"]})["items"][0]
    assert "exifInfo" not in plain and "owner" not in plain and "tags" not in plain and "stack" not in plain
    assert plain["isFavorite"] is True and plain["people"] == [] and plain["hasMetadata"] is True
    full = search(lib, {"id": lib.ids["paris"], "withExif": True, "withPeople": True})["items"][0]
    assert full["exifInfo"]["city"] == "Paris" and full["exifInfo"]["description"] == "Crème brûlée at the café"
    assert [p["name"] for p in full["people"]] == ["Élodie Martin"]
    partner = search(lib, {"id": lib.ids["b_paris"]})["items"][0]
    assert partner["ownerId"] == lib.b.id and partner["isFavorite"] is False


def test_partner_scope_follows_in_timeline(lib: Library) -> None:
    assert "b_paris" in lib.name_set(everything(lib, {}))
    assert lib.a.put(f"/api/partners/{lib.b.id}", json={"inTimeline": False}).status_code == 200
    try:
        assert "b_paris" not in lib.name_set(everything(lib, {}))
        assert lib.name_set(everything(lib, {"description": "picnic"})) == set()
    finally:
        assert lib.a.put(f"/api/partners/{lib.b.id}", json={"inTimeline": True}).status_code == 200


def test_partner_never_sees_my_archive_trash_or_locked(lib: Library) -> None:
    # B has no partnership towards A: B sees only B's own
    assert lib.name_set(everything(lib, {}, lib.b)) == {"b_paris", "b_archived"}
    lib.a.post("/api/partners", json={"sharedWithId": lib.b.id})
    assert lib.b.put(f"/api/partners/{lib.a.id}", json={"inTimeline": True}).status_code == 200
    try:
        seen = lib.name_set(everything(lib, {"withDeleted": True}, lib.b))
        assert seen == {"b_paris", "b_archived", "paris", "berlin", "tokyo", "nogps", "video", "motion",
                        "motion_video"}
        for dto in ({"visibility": "archive"}, {"description": "secret"}, {"trashedAfter": YESTERDAY}):
            assert not lib.name_set(everything(lib, dto, lib.b)) & {"archived", "trashed", "locked"}, dto
    finally:
        assert lib.a.delete(f"/api/partners/{lib.b.id}").status_code in (200, 204)


def test_locked_needs_an_elevated_session(lib: Library) -> None:
    assert_error(lib.a.post("/api/search/metadata", json={"visibility": "locked"}), 401,
                 "Elevated permission is required")
    assert_error(lib.a.post("/api/search/statistics", json={"visibility": "locked"}), 401,
                 "Elevated permission is required")
    assert lib.name_set(everything(lib, {"visibility": "locked"}, lib.a_elevated)) == {"locked"}
    # upstream: an elevated session searches every visibility by default (its own locked assets included)
    assert lib.name_set(everything(lib, {}, lib.a_elevated)) == lib.visible_to_a() | {"locked"}
    assert lib.name_set(everything(lib, {"description": "secret"}, lib.a_elevated)) == {"locked"}


def test_shared_link_is_limited_to_its_album(lib: Library) -> None:
    r = lib.a.post("/api/shared-links", json={"type": "ALBUM", "albumId": lib.albums["summer"], "showMetadata": False})
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    client = lib.a.client
    assert_error(client.post("/api/search/metadata", params={"key": key}, json={}), 400,
                 "Shared link access is only allowed in combination with an albumIds filter")
    r = client.post("/api/search/metadata", params={"key": key}, json={"albumIds": [lib.albums["summer"]]})
    assert r.status_code == 200, r.text
    items = r.json()["assets"]["items"]
    assert lib.name_set(items) == {"paris", "berlin"}
    assert all("originalFileName" not in i and "exifInfo" not in i for i in items)  # no metadata
    assert_error(client.post("/api/search/metadata", params={"key": key}, json={"albumIds": [lib.albums["food"]]}),
                 400)
    assert client.post("/api/search/random", params={"key": key}, json={}).status_code in (401, 403)


def test_album_scope_needs_access(lib: Library) -> None:
    r = lib.b.post("/api/search/metadata", json={"albumIds": [lib.albums["summer"]]})
    assert_error(r, 400, "Not found or no album.read access")


def test_bad_input_is_a_400(lib: Library) -> None:
    for body in ({"size": 0}, {"size": 1001}, {"page": 0}, {"visibility": "nope"}, {"albumIds": ["x"]},
                 {"takenAfter": "yesterday"}, {"rating": 9}, {"order": "sideways"}, {"personIds": "x"}):
        assert lib.a.post("/api/search/metadata", json=body).status_code == 400, body
    for text in ("(((", '"unbalanced', "field:*", "%_", "x" * 10_000, "🦄 مرحبا", "\\", "a\\"):
        for key in ("originalFileName", "description", "ocr", "query", "originalPath"):
            r = lib.a.post("/api/search/metadata", json={key: text})
            assert r.status_code == 200, (key, text, r.text)


def test_pending_changes_are_searched_before_the_index_has_them(lib: Library) -> None:
    assert lib.a.put("/api/queues/search", json={"isPaused": True}).status_code == 200
    try:
        r = lib.a.put(f"/api/assets/{lib.ids['nogps']}", json={"description": "Freshly written words"})
        assert r.status_code == 200
        for body in ({"description": "freshly"}, {"query": "freshly"}):
            assert lib.name_set(everything(lib, body)) == {"nogps"}, body
        lib.a.delete("/api/assets", json={"ids": [lib.ids["archived"]]})
        assert "archived" not in lib.name_set(everything(lib, {"query": "archive"}))
        assert lib.name_set(everything(lib, {"query": "archive", "withDeleted": True})) == {"archived"}
    finally:
        assert lib.a.put("/api/queues/search", json={"isPaused": False}).status_code == 200
        lib.a.post("/api/trash/restore/assets", json={"ids": [lib.ids["archived"]]})
        lib.a.put(f"/api/assets/{lib.ids['nogps']}", json={"description": ""})
        jobs.drain(lib.ctx)


def test_index_follows_edits(lib: Library) -> None:
    a = lib.a
    assert a.put(f"/api/people/{lib.people['jon']}", json={"name": "Aegon Targaryen"}).status_code == 200
    assert a.patch(f"/api/albums/{lib.albums['food']}", json={"albumName": "Desserts"}).status_code == 200
    jobs.drain(lib.ctx)
    try:
        assert lib.name_set(everything(lib, {"query": "aegon"})) == {"berlin"}
        assert lib.name_set(everything(lib, {"query": "jon"})) == set()
        assert lib.name_set(everything(lib, {"query": "desserts"})) == {"paris"}
    finally:
        a.put(f"/api/people/{lib.people['jon']}", json={"name": "Jon Snow"})
        a.patch(f"/api/albums/{lib.albums['food']}", json={"albumName": "Food"})
        jobs.drain(lib.ctx)
    assert lib.name_set(everything(lib, {"query": "jon"})) == {"berlin"}


def test_location_edit_renames_the_place(lib: Library) -> None:
    r = upload(lib.a, data=tiny_jpeg(), filename="moved.jpg")
    asset_id = r.json()["id"]
    jobs.drain(lib.ctx)
    try:
        assert lib.a.put(f"/api/assets/{asset_id}", json={"latitude": 35.6895, "longitude": 139.69171}
                         ).status_code == 200
        jobs.drain(lib.ctx)
        assert lib.a.get(f"/api/assets/{asset_id}").json()["exifInfo"]["city"] == "Tokyo"
        assert {i["id"] for i in everything(lib, {"city": "Tokyo"})} == {lib.ids["tokyo"], asset_id}
    finally:
        lib.a.delete("/api/assets", json={"ids": [asset_id], "force": True})
        jobs.drain(lib.ctx)


@pytest.fixture(scope="module")
def without_index(lib: Library) -> Library:
    idx = index_of(lib.ctx)
    idx.discard()
    assert not idx.is_current()
    return lib


@pytest.mark.parametrize(("name", "dto", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_without_index(without_index: Library, name: str, dto: Any, expected: Any) -> None:
    if name in ("ocr with a typo", "query: a place, with a typo"):
        expected = set()  # typo tolerance is the index's: SQL alone matches substrings (while a rebuild runs)
    _run(without_index, dto, expected)


def test_index_is_rebuilt_from_the_db(without_index: Library) -> None:
    lib = without_index
    assert lib.a.put("/api/jobs/search", json={"command": "start", "force": True}).status_code == 200
    jobs.drain(lib.ctx)
    assert index_of(lib.ctx).is_current()
    _run(lib, {"query": "tokio"}, {"tokyo"})
