"""Timeline buckets over HTTP: real uploads (corpus files and tiny JPEGs whose capture time comes from an XMP
sidecar), jobs drained, then GET /api/timeline/buckets and /api/timeline/bucket as the web calls them."""
from __future__ import annotations

import base64
import itertools
import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from immich_lite import ids, jobs
from immich_lite.app import route_table
from immich_lite.repos import timeline as repo
from tests.conftest import CORPUS, Actor, assert_error, assert_invalid, assert_schema, make_user
from tests.helpers.app import admin_app
from tests.helpers.upload import upload

WITH_PARTNERS_ERROR = "withPartners is only supported for non-archived, non-trashed, non-favorited, non-locked assets"
ROUTES = {r.op.id for r in route_table()}
_seq = itertools.count()
_JPEG: list[bytes] = []


# -- helpers (test_map.py uses them too) -----------------------------------------------------------------------

def tiny_jpeg() -> bytes:
    """A 12x6 JPEG with a unique tail, so every upload is a new asset (no duplicate short-cut)."""
    if not _JPEG:
        import pyvips

        _JPEG.append(pyvips.Image.black(12, 6).jpegsave_buffer())
    return _JPEG[0] + f"#{next(_seq)}".encode()


def xmp(taken: str, lat: float | None = None, lon: float | None = None) -> bytes:
    """An XMP sidecar carrying the capture time (with its UTC offset) and optionally GPS."""
    def dm(v: float, pos: str, neg: str) -> str:
        return f"{int(abs(v))},{(abs(v) % 1) * 60:.4f}{pos if v >= 0 else neg}"
    gps = f' exif:GPSLatitude="{dm(lat, "N", "S")}" exif:GPSLongitude="{dm(lon, "E", "W")}"' if lat is not None else ""
    return ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            f'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="{taken}"{gps}/></rdf:RDF>'
            '</x:xmpmeta><?xpacket end="w"?>').encode()


def put(actor: Actor, when: str = "2021-03-05T10:00:00.000Z", *, taken: str | None = None,
        lat: float | None = None, lon: float | None = None, **fields: str) -> str:
    """Upload a tiny JPEG: file dates `when`, or a sidecar capture time `taken` (+ GPS). Returns the asset id."""
    sidecar = xmp(taken, lat, lon) if taken else None
    r = upload(actor, data=tiny_jpeg(), filename=f"t{next(_seq)}.jpg", sidecar=sidecar,
               fields={"fileCreatedAt": when, "fileModifiedAt": when, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_partner(ctx: Any, by: Actor, to: Actor, in_timeline: bool = True) -> None:
    """`by` shares their library with `to` (through the Partners API when it is there)."""
    if "createPartner" in ROUTES:
        assert by.post("/api/partners", json={"sharedWithId": to.id}).status_code == 201
        if in_timeline:
            assert to.put(f"/api/partners/{by.id}", json={"inTimeline": True}).status_code == 200
        return
    now = ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO partner (shared_by_id, shared_with_id, in_timeline, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?)", (by.id, to.id, int(in_timeline), now, now))


def make_album(ctx: Any, owner: Actor, asset_ids: list[str], members: tuple[Actor, ...] = ()) -> str:
    if "createAlbum" in ROUTES:
        r = owner.post("/api/albums", json={"albumName": "A", "assetIds": asset_ids,
                                             "albumUsers": [{"userId": m.id, "role": "viewer"} for m in members]})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])
    album_id, now = ids.new_id(), ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO album (id, owner_id, album_name, created_at, updated_at) VALUES (?, ?, 'A', ?, ?)",
                     (album_id, owner.id, now, now))
        for a in asset_ids:
            conn.execute("INSERT INTO album_asset (album_id, asset_id, created_at) VALUES (?, ?, ?)", (album_id, a, now))
        for m in members:
            conn.execute("INSERT INTO album_user (album_id, user_id, role, created_at) VALUES (?, ?, 'viewer', ?)",
                         (album_id, m.id, now))
    return album_id


def make_link(ctx: Any, owner: Actor, album_id: str | None, show_exif: bool = True) -> str:
    """A shared link row (the Shared links API is another domain); returns the `key` query value."""
    raw = os.urandom(50)
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO shared_link (id, user_id, key, type, album_id, show_exif, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (ids.new_id(), owner.id, raw, "ALBUM" if album_id else "INDIVIDUAL",
                                                      album_id, int(show_exif), ids.now_iso()))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def elevate(actor: Actor) -> None:
    assert actor.post("/api/auth/pin-code", json={"pinCode": "123456"}).status_code in (200, 201, 204)
    assert actor.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code in (200, 201, 204)


def buckets(actor: Actor, **params: Any) -> dict[str, int]:
    r = actor.get("/api/timeline/buckets", params=_params(params))
    assert r.status_code == 200, r.text
    return {b["timeBucket"]: b["count"] for b in assert_schema(r, "getTimeBuckets")}


def bucket(actor: Actor, time_bucket: str, **params: Any) -> dict[str, Any]:
    r = actor.get("/api/timeline/bucket", params={"timeBucket": time_bucket, **_params(params)})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return assert_schema(r, "getTimeBucket")  # type: ignore[no-any-return]


def all_ids(actor: Actor, **params: Any) -> list[str]:
    """Every asset id of the timeline, month by month."""
    return [i for b in buckets(actor, **params) for i in bucket(actor, b, **params)["id"]]


def _params(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}


# -- a processed library, shared by the read-only tests ----------------------------------------------------------

CORPUS_FILES = ["jpeg/PXL_20231006_063000139.jpg", "jpeg/thompson-springs.jpg", "jpeg/DSCN0010.jpg",
                "jpeg/pixel_8.jpg"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with admin_app(tmp_path_factory.mktemp("timeline") / "data", workers=1) as (app, owner):
        named = {rel: upload(owner, CORPUS / rel).json()["id"] for rel in CORPUS_FILES}
        named["tokyo"] = put(owner, taken="2025-01-01T11:06:47+09:00", lat=35.7142, lon=139.7963)
        named["india"] = put(owner, taken="2023-03-08T12:31:05+05:30")
        named["late-october"] = put(owner, "2023-10-20T10:00:00.000Z")
        jobs.drain(app.state.ctx)
        yield owner, named, app.state.ctx


def test_buckets_count_assets_per_local_month(library: Any) -> None:
    owner, named, _ = library
    months = Counter(owner.get(f"/api/assets/{i}").json()["localDateTime"][:7] + "-01" for i in named.values())
    got = buckets(owner)
    assert got == dict(months)
    assert list(got) == sorted(got, reverse=True)  # desc by default
    assert list(buckets(owner, order="asc")) == sorted(got)


def test_bucket_columns_are_parallel_and_match_the_schema(library: Any) -> None:
    owner, named, _ = library
    seen = []
    for month, count in buckets(owner).items():
        body = bucket(owner, month, withCoordinates=True, withStacked=True)
        lengths = {k: len(v) for k, v in body.items()}
        assert set(lengths.values()) == {count}, lengths
        assert {"city", "country", "latitude", "longitude", "stack"} <= set(body)
        seen += body["id"]
    assert sorted(seen) == sorted(named.values())


def test_bucket_omits_optional_columns_unless_asked(library: Any) -> None:
    owner, named, _ = library
    body = bucket(owner, "2023-10-01")
    assert "latitude" not in body and "stack" not in body
    assert body["city"] and body["isImage"] == [True, True] and body["isFavorite"] == [False, False]


def test_bucket_order_within_a_month(library: Any) -> None:
    owner, named, _ = library
    late, early = named["late-october"], named["jpeg/PXL_20231006_063000139.jpg"]
    assert bucket(owner, "2023-10-01")["id"] == [late, early]
    assert bucket(owner, "2023-10-01", order="asc")["id"] == [early, late]


@pytest.mark.parametrize(("name", "hours"), [("tokyo", 9), ("india", 5.5), ("jpeg/PXL_20231006_063000139.jpg", 2),
                                             ("jpeg/thompson-springs.jpg", -7)])
def test_local_offset_hours_is_local_minus_utc(library: Any, name: str, hours: float) -> None:
    owner, named, _ = library
    info = owner.get(f"/api/assets/{named[name]}").json()
    body = bucket(owner, info["localDateTime"][:7] + "-01")
    i = body["id"].index(named[name])
    assert body["localOffsetHours"][i] == hours
    utc = ids.parse_iso(body["fileCreatedAt"][i])
    assert ids.iso(utc + timedelta(hours=hours)) == info["localDateTime"]  # what the web computes


def test_bucket_row_values(library: Any) -> None:
    owner, named, _ = library
    body = bucket(owner, "2025-01-01", withCoordinates=True)
    assert body["id"] == [named["tokyo"]] and body["ownerId"] == [owner.id]
    assert body["city"] == ["Asakusa"] and body["country"] == ["Japan"]
    assert body["latitude"][0] == pytest.approx(35.7142, abs=1e-3)
    assert body["ratio"] == [2.0] and body["visibility"] == ["timeline"] and body["isTrashed"] == [False]
    assert body["duration"] == [None] and body["livePhotoVideoId"] == [None] and body["projectionType"] == [None]
    thumbhash = body["thumbhash"][0]
    assert thumbhash and base64.b64decode(thumbhash)


def test_bbox_filters_by_coordinates(library: Any) -> None:
    owner, named, _ = library
    assert buckets(owner, bbox="2.2,48.8,2.4,48.9") == {"2023-10-01": 1}  # Paris
    assert bucket(owner, "2023-10-01", bbox="2.2,48.8,2.4,48.9")["id"] == [named["jpeg/PXL_20231006_063000139.jpg"]]
    # west > east crosses the antimeridian: Tokyo (139.8) and Colorado (-108.4), not Paris or Tuscany
    assert buckets(owner, bbox="130,-90,-100,90") == {"2025-01-01": 1, "2022-01-01": 1}


@pytest.mark.parametrize(("bbox", "issue"), [
    ("1,2,3", (["bbox"], "bbox must have 4 comma-separated numbers: west,south,east,north")),
    ("a,2,3,4", (["bbox"], "bbox parts must be valid numbers")),
    ("0,10,1,5", (["bbox", "north"], "North latitude must be greater than or equal to south latitude")),
    ("0,-91,1,5", (["bbox", "south"], "Too small: expected number to be >=-90")),
])
def test_bbox_is_validated(library: Any, bbox: str, issue: Any) -> None:
    owner, _, _ = library
    assert_invalid(owner.get("/api/timeline/buckets", params={"bbox": bbox}), issue)


@pytest.mark.parametrize("value", ["2023-10-15", "2023-10", "nonsense"])
def test_time_bucket_other_than_a_month_start_is_empty(library: Any, value: str) -> None:
    owner, _, _ = library
    assert bucket(owner, value)["id"] == []


def test_time_bucket_accepts_the_iso_form(library: Any) -> None:
    owner, _, _ = library
    assert len(bucket(owner, "2023-10-01T00:00:00.000Z")["id"]) == 2


def test_time_bucket_is_required(library: Any) -> None:
    owner, _, _ = library
    assert_error(owner.get("/api/timeline/bucket"), 400)


# -- filters (each on its own server) ----------------------------------------------------------------------------

def test_favorites(admin: Actor, ctx: Any) -> None:
    fav, plain = put(admin, "2021-03-05T10:00:00.000Z"), put(admin, "2021-03-06T10:00:00.000Z")
    jobs.drain(ctx)
    admin.put(f"/api/assets/{fav}", json={"isFavorite": True})
    assert all_ids(admin, isFavorite=True) == [fav]
    assert all_ids(admin, isFavorite=False) == [plain]
    assert bucket(admin, "2021-03-01")["isFavorite"] == [False, True]


def test_visibility_archive_timeline_and_default(admin: Actor, ctx: Any) -> None:
    shown, archived = put(admin, "2021-03-05T10:00:00.000Z"), put(admin, "2021-03-06T10:00:00.000Z")
    hidden = put(admin, "2021-03-07T10:00:00.000Z")
    jobs.drain(ctx)
    admin.put(f"/api/assets/{archived}", json={"visibility": "archive"})
    with ctx.db.write() as conn:  # hidden = a live photo's video part
        conn.execute("UPDATE asset SET visibility = 'hidden' WHERE id = ?", (hidden,))
    assert set(all_ids(admin)) == {shown, archived}  # no visibility = archive + timeline
    assert all_ids(admin, visibility="timeline") == [shown]
    assert all_ids(admin, visibility="archive") == [archived]
    assert all_ids(admin, visibility="hidden") == [hidden]
    assert bucket(admin, "2021-03-01")["visibility"] == ["archive", "timeline"]


def test_trashed_assets_only_with_is_trashed(admin: Actor, ctx: Any) -> None:
    kept, trashed = put(admin, "2021-03-05T10:00:00.000Z"), put(admin, "2021-03-06T10:00:00.000Z")
    jobs.drain(ctx)
    admin.delete("/api/assets", json={"ids": [trashed]})
    assert all_ids(admin) == [kept]
    assert all_ids(admin, isTrashed=True) == [trashed]
    assert bucket(admin, "2021-03-01", isTrashed=True)["isTrashed"] == [True]


def test_locked_needs_an_elevated_session(admin: Actor, ctx: Any) -> None:
    shown, locked = put(admin, "2021-03-05T10:00:00.000Z"), put(admin, "2021-03-06T10:00:00.000Z")
    jobs.drain(ctx)
    admin.put(f"/api/assets/{locked}", json={"visibility": "locked"})
    assert all_ids(admin) == [shown]
    assert_error(admin.get("/api/timeline/buckets", params={"visibility": "locked"}), 401,
                 "Elevated permission is required")
    assert_error(admin.get("/api/timeline/bucket", params={"visibility": "locked", "timeBucket": "2021-03-01"}), 401,
                 "Elevated permission is required")
    elevate(admin)
    assert all_ids(admin, visibility="locked") == [locked]
    assert all_ids(admin) == [shown]


def test_another_users_timeline_is_refused(admin: Actor, user: Actor, ctx: Any) -> None:
    put(admin)
    jobs.drain(ctx)
    for path, extra in (("/api/timeline/buckets", {}), ("/api/timeline/bucket", {"timeBucket": "2021-03-01"})):
        assert_error(user.get(path, params={"userId": admin.id, **extra}), 400, "Not found or no timeline.read access")
    assert buckets(user) == {}


@pytest.fixture
def partners(client: Any, admin: Actor, user: Actor, ctx: Any) -> Any:
    """user (B) shares with admin (A), in A's timeline; B has a timeline, an archived, a locked, a favourite asset."""
    b_assets = {name: put(user, f"2021-03-{day:02d}T10:00:00.000Z")
                for day, name in enumerate(["timeline", "archived", "locked", "favorite"], start=5)}
    mine = put(admin, "2021-03-20T10:00:00.000Z")
    jobs.drain(ctx)
    user.put(f"/api/assets/{b_assets['archived']}", json={"visibility": "archive"})
    user.put(f"/api/assets/{b_assets['locked']}", json={"visibility": "locked"})
    user.put(f"/api/assets/{b_assets['favorite']}", json={"isFavorite": True})
    make_partner(ctx, user, admin)
    return admin, user, mine, b_assets


def test_with_partners_shows_only_their_timeline_assets(partners: Any) -> None:
    a, b, mine, theirs = partners
    got = all_ids(a, visibility="timeline", withPartners=True, withStacked=True)
    assert set(got) == {mine, theirs["timeline"], theirs["favorite"]}
    body = bucket(a, "2021-03-01", visibility="timeline", withPartners=True)
    favourites = dict(zip(body["id"], body["isFavorite"]))
    assert favourites[theirs["favorite"]] is False  # a partner's favourite is theirs, not mine
    assert set(body["ownerId"]) == {a.id, b.id}


@pytest.mark.parametrize("params", [{}, {"visibility": "archive"}, {"visibility": "timeline", "isFavorite": True},
                                    {"visibility": "timeline", "isFavorite": False},
                                    {"visibility": "timeline", "isTrashed": True}])
def test_with_partners_refuses_other_filters(partners: Any, params: dict[str, Any]) -> None:
    a = partners[0]
    for path, extra in (("/api/timeline/buckets", {}), ("/api/timeline/bucket", {"timeBucket": "2021-03-01"})):
        assert_error(a.get(path, params=_params({"withPartners": True, **params, **extra})), 400, WITH_PARTNERS_ERROR)


def test_with_partners_and_locked_is_refused_even_when_elevated(partners: Any) -> None:
    a = partners[0]
    assert_error(a.get("/api/timeline/buckets", params={"withPartners": "true", "visibility": "locked"}), 401)
    elevate(a)
    assert_error(a.get("/api/timeline/buckets", params={"withPartners": "true", "visibility": "locked"}), 400,
                 WITH_PARTNERS_ERROR)


def test_partner_timeline_by_user_id_never_shows_their_archive_or_locked(partners: Any) -> None:
    a, b, _, theirs = partners
    assert set(all_ids(a, userId=b.id)) == {theirs["timeline"], theirs["favorite"]}  # stricter than upstream
    assert set(all_ids(a, userId=b.id, visibility="timeline")) == {theirs["timeline"], theirs["favorite"]}
    assert_error(a.get("/api/timeline/buckets", params={"userId": b.id, "visibility": "archive"}), 400,
                 "Not found or no archive.read access")
    elevate(a)
    assert_error(a.get("/api/timeline/buckets", params={"userId": b.id, "visibility": "locked"}), 400,
                 "You may not access another user's locked timeline")


def test_partner_outside_the_timeline_is_not_merged(client: Any, admin: Actor, ctx: Any) -> None:
    other = make_user(client, admin, "other@immich.cloud", "Other")
    theirs = put(other)
    mine = put(admin, "2021-03-20T10:00:00.000Z")
    jobs.drain(ctx)
    make_partner(ctx, other, admin, in_timeline=False)
    assert all_ids(admin, visibility="timeline", withPartners=True) == [mine]
    assert all_ids(admin, userId=other.id, visibility="timeline") == [theirs]  # still readable on its own page


def test_stacks_show_only_the_primary_with_its_count(admin: Actor, ctx: Any) -> None:
    first, second, third = (put(admin, f"2021-03-0{d}T10:00:00.000Z") for d in (5, 6, 7))
    single = put(admin, "2021-03-08T10:00:00.000Z")
    jobs.drain(ctx)
    stack_id, now = ids.new_id(), ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO stack (id, owner_id, primary_asset_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                     (stack_id, admin.id, second, now, now))
        conn.execute("UPDATE asset SET stack_id = ? WHERE id IN (?, ?, ?)", (stack_id, first, second, third))
    assert buckets(admin, withStacked=True) == {"2021-03-01": 2}
    body = bucket(admin, "2021-03-01", withStacked=True)
    assert body["id"] == [single, second]
    assert body["stack"] == [None, [stack_id, "3"]]
    assert len(bucket(admin, "2021-03-01")["id"]) == 4  # without withStacked every member shows


def test_album_timeline_and_its_shared_link(client: Any, admin: Actor, user: Actor, ctx: Any) -> None:
    inside = put(admin, "2021-03-05T10:00:00.000Z", taken="2021-03-05T10:00:00+01:00", lat=48.8583, lon=2.2919)
    outside = put(admin, "2021-04-05T10:00:00.000Z")
    jobs.drain(ctx)
    album = make_album(ctx, admin, [inside])
    assert all_ids(admin, albumId=album) == [inside]
    assert set(all_ids(admin)) == {inside, outside}
    assert_error(user.get("/api/timeline/buckets", params={"albumId": album}), 400, "Not found or no album.read access")

    key = make_link(ctx, admin, album)
    r = client.get("/api/timeline/buckets", params={"albumId": album, "key": key})
    assert r.status_code == 200 and r.json() == [{"timeBucket": "2021-03-01", "count": 1}]
    body = client.get("/api/timeline/bucket", params={"albumId": album, "key": key, "timeBucket": "2021-03-01",
                                                        "withCoordinates": "true"}).json()
    assert body["id"] == [inside] and body["city"] and body["latitude"]
    # the link reads its album only: not the owner's timeline, not another album
    assert_error(client.get("/api/timeline/buckets", params={"key": key}), 400, "Not found or no timeline.read access")
    other_album = make_album(ctx, admin, [outside])
    assert_error(client.get("/api/timeline/buckets", params={"key": key, "albumId": other_album}), 400,
                 "Not found or no album.read access")

    hidden = make_link(ctx, admin, album, show_exif=False)
    body = client.get("/api/timeline/bucket", params={"albumId": album, "key": hidden, "timeBucket": "2021-03-01",
                                                        "withCoordinates": "true"}).json()
    assert body["id"] == [inside]
    assert not {"city", "country", "latitude", "longitude"} & set(body)


def test_locked_asset_never_shows_in_a_shared_album(client: Any, admin: Actor, user: Actor, ctx: Any) -> None:
    a = put(admin, "2021-03-05T10:00:00.000Z")
    jobs.drain(ctx)
    album = make_album(ctx, admin, [a], members=(user,))
    with ctx.db.write() as conn:  # locked after it was shared (upstream issue #29526)
        conn.execute("UPDATE asset SET visibility = 'locked' WHERE id = ?", (a,))
    assert all_ids(user, albumId=album) == []
    elevate(user)
    assert all_ids(user, albumId=album, visibility="locked") == []


def test_person_and_tag_filters(admin: Actor, user: Actor, ctx: Any) -> None:
    face, tagged, other = (put(admin, f"2021-03-0{d}T10:00:00.000Z") for d in (5, 6, 7))
    jobs.drain(ctx)
    person, parent, child, now = ids.new_id(), ids.new_id(), ids.new_id(), ids.now_iso()
    with ctx.db.write() as conn:
        conn.execute("INSERT INTO person (id, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
                     (person, admin.id, now, now))
        conn.execute("INSERT INTO asset_face (id, asset_id, person_id, image_width, image_height, bounding_box_x1, "
                     "bounding_box_y1, bounding_box_x2, bounding_box_y2) VALUES (?, ?, ?, 12, 6, 0, 0, 5, 5)",
                     (ids.new_id(), face, person))
        conn.execute("INSERT INTO tag (id, user_id, value, created_at, updated_at) VALUES (?, ?, 'trips', ?, ?)",
                     (parent, admin.id, now, now))
        conn.execute("INSERT INTO tag (id, user_id, value, parent_id, created_at, updated_at) "
                     "VALUES (?, ?, 'trips/rome', ?, ?, ?)", (child, admin.id, parent, now, now))
        conn.execute("INSERT INTO tag_asset (tag_id, asset_id) VALUES (?, ?)", (child, tagged))
    assert all_ids(admin, personId=person) == [face]
    assert all_ids(admin, tagId=child) == [tagged]
    assert all_ids(admin, tagId=parent) == [tagged]  # a tag includes its children
    assert_error(user.get("/api/timeline/buckets", params={"tagId": parent}), 400, "Not found or no tag.read access")
    assert_error(user.get("/api/timeline/buckets", params={"personId": person}), 400,
                 "Not found or no person.read access")
    assert other not in all_ids(admin, personId=person)


def test_order_by_created_at_groups_by_upload_month(admin: Actor, ctx: Any) -> None:
    a = put(admin, "2001-03-05T10:00:00.000Z")
    jobs.drain(ctx)
    uploaded = admin.get(f"/api/assets/{a}").json()["createdAt"][:7] + "-01"
    assert buckets(admin, orderBy="createdAt") == {uploaded: 1}
    assert bucket(admin, uploaded, orderBy="createdAt")["id"] == [a]
    assert buckets(admin) == {"2001-03-01": 1}


# -- query plans ---------------------------------------------------------------------------------------------------

def _plan(ctx: Any, sql: str, args: list[Any]) -> str:
    return " | ".join(r["detail"] for r in ctx.db.reader().execute("EXPLAIN QUERY PLAN " + sql, args))


@pytest.mark.parametrize("params", [{}, {"visibility": "timeline", "with_stacked": True}, {"is_favorite": True}])
def test_buckets_query_walks_the_month_index_only(admin: Actor, ctx: Any, params: dict[str, Any]) -> None:
    f = repo.TimelineFilter(caller_id=admin.id, user_ids=[admin.id], **params)
    plan = _plan(ctx, *repo.time_buckets_sql(f))
    assert "USING INDEX asset_timeline_taken_idx (owner_id=?)" in plan, plan  # covering: no table, no temp b-tree
    assert "TEMP B-TREE" not in plan, plan
    f = repo.TimelineFilter(caller_id=admin.id, user_ids=[admin.id], order_by="createdAt", **params)
    plan = _plan(ctx, *repo.time_buckets_sql(f))
    assert "asset_timeline_created_idx (owner_id=?)" in plan and "TEMP B-TREE" not in plan, plan


def test_bucket_query_seeks_the_month(admin: Actor, ctx: Any) -> None:
    f = repo.TimelineFilter(caller_id=admin.id, user_ids=[admin.id], visibility="timeline")
    plan = _plan(ctx, *repo.time_bucket_sql("2021-03", f))
    assert "asset_timeline_taken_idx (owner_id=? AND <expr>=? AND visibility=?)" in plan, plan
    assert "SCAN a" not in plan, plan


def test_iso_pads_early_years_and_clamps_at_the_calendar_ends() -> None:
    from datetime import datetime
    from datetime import timezone as tz
    assert ids.iso(datetime(20, 5, 1, 12, 0, tzinfo=tz.utc)) == "0020-05-01T12:00:00.000Z"
    early = datetime(1, 1, 1, 0, 0, tzinfo=tz(timedelta(hours=14)))  # before year 1 once in UTC
    assert ids.iso(early) == "0001-01-01T00:00:00.000Z"
    late = datetime(9999, 12, 31, 23, 0, tzinfo=tz(timedelta(hours=-14)))
    assert ids.iso(late) == "9999-12-31T23:59:59.999Z"
