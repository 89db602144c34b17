"""A small library for the search tests, built through the API as the apps would: three users, photos whose
metadata comes from XMP sidecars (dates, GPS, cameras, descriptions with accents and CJK, ratings, keywords), real
corpus video and motion photo, albums, a shared album, people with faces, tags, a stack, trash, archive, locked.

    A (admin)  paris berlin tokyo nogps archived trashed locked video motion (+ its hidden video part)
    B          partner of A (in A's timeline): b_paris, b_archived, b_locked
    C          no partner of A: c_paris, in C's album "Shared by C" that A is a member of
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, login
from tests.helpers.upload import upload
from tests.helpers.xmp import sidecar
from tests.test_timeline import make_partner, tiny_jpeg

PARIS, BERLIN, TOKYO = (48.85341, 2.3488), (52.52437, 13.41053), (35.6895, 139.69171)  # upstream e2e places

# name: (owner, file name, sidecar fields, upload fields)
GENERATED: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]] = {
    "paris": ("A", "paris.jpg", dict(taken="2020-05-01T10:00:00+02:00", lat=PARIS[0], lon=PARIS[1], make="Canon",
                                     model="Canon EOS 7D", lens="EF24-105mm f/4L", rating=5,
                                     description="Crème brûlée at the café", keywords=("Food/Dessert",)),
              {"isFavorite": "true"}),
    "berlin": ("A", "berlin.jpg", dict(taken="2021-07-14T18:30:00+02:00", lat=BERLIN[0], lon=BERLIN[1],
                                       make="NIKON CORPORATION", model="NIKON D750", rating=3,
                                       description="Sunset over the Spree"), {}),
    "tokyo": ("A", "tokyo.jpg", dict(taken="2019-01-01T20:00:00+09:00", lat=TOKYO[0], lon=TOKYO[1], make="Apple",
                                     model="iPhone 7", description="東京タワー at night", keywords=("Travel/Japan",)),
              {}),
    "nogps": ("A", "nogps.jpg", dict(taken="2018-03-03T12:00:00+00:00", make="Canon", model="Canon EOS R5"), {}),
    "archived": ("A", "archived.jpg", dict(taken="2017-06-01T10:00:00+00:00", lat=PARIS[0], lon=PARIS[1],
                                           description="Old archive shot"), {}),
    "trashed": ("A", "trashed.jpg", dict(taken="2016-06-01T10:00:00+00:00", lat=BERLIN[0], lon=BERLIN[1],
                                         description="trash me"), {}),
    "locked": ("A", "locked.jpg", dict(taken="2015-06-01T10:00:00+00:00", description="secret diary"), {}),
    "b_paris": ("B", "IMG_B001.jpg", dict(taken="2022-02-02T12:00:00+01:00", lat=PARIS[0], lon=PARIS[1],
                                          description="Picnic near the Seine"), {}),
    "b_archived": ("B", "IMG_B002.jpg", dict(taken="2022-03-03T12:00:00+01:00", description="b archived"), {}),
    "b_locked": ("B", "IMG_B003.jpg", dict(taken="2022-04-04T12:00:00+01:00", description="b secret"), {}),
    "c_paris": ("C", "IMG_C001.jpg", dict(taken="2022-05-05T12:00:00+01:00", lat=PARIS[0], lon=PARIS[1],
                                          description="Crème from C"), {}),
}
CORPUS_FILES = {"video": ("A", CORPUS / "video" / "with-gps.mp4"),
                "motion": ("A", CORPUS / "motionphoto" / "motionphoto.heic")}


@dataclass
class Library:
    ctx: Any
    a: Actor
    b: Actor
    c: Actor
    a_elevated: Actor
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)    # id → name
    albums: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, bytes] = field(default_factory=dict)

    def name_set(self, items: list[dict[str, Any]]) -> set[str]:
        return {self.names.get(i["id"], i["id"]) for i in items}

    def visible_to_a(self) -> set[str]:
        """A's default search scope: own not-locked assets not in the trash, B's timeline assets."""
        return {"paris", "berlin", "tokyo", "nogps", "archived", "video", "motion", "motion_video", "b_paris"}


def _user(client: Any, admin: Actor, email: str, name: str) -> Actor:
    assert admin.post("/api/admin/users", json={"email": email, "name": name, "password": "pw-" + name}
                      ).status_code == 201
    data = login(client, email, "pw-" + name)
    return Actor(client, data["accessToken"], data["userId"], email, "pw-" + name)


def build(ctx: Any, client: Any, a: Actor) -> Library:
    b, c = _user(client, a, "b@immich.cloud", "B"), _user(client, a, "c@immich.cloud", "C")
    elevated_login = login(client, a.email, a.password)
    lib = Library(ctx, a, b, c, Actor(client, elevated_login["accessToken"], a.id, a.email, a.password))
    owners = {"A": a, "B": b, "C": c}
    for name, (owner, filename, meta, fields) in GENERATED.items():
        data = tiny_jpeg()
        r = upload(owners[owner], data=data, filename=filename, sidecar=sidecar(**meta), fields=fields)
        assert r.status_code == 201, r.text
        lib.ids[name] = r.json()["id"]
        import hashlib

        lib.checksums[name] = hashlib.sha1(data).digest()  # noqa: S324
    for name, (owner, path) in CORPUS_FILES.items():
        r = upload(owners[owner], Path(path))
        assert r.status_code == 201, r.text
        lib.ids[name] = r.json()["id"]
    jobs.drain(ctx)
    motion = a.get(f"/api/assets/{lib.ids['motion']}").json()
    lib.ids["motion_video"] = motion["livePhotoVideoId"]
    assert lib.ids["motion_video"], "the motion photo's video was not extracted"
    ids = lib.ids
    # visibility, trash
    assert a.put("/api/assets", json={"ids": [ids["archived"]], "visibility": "archive"}).status_code == 204
    assert b.put("/api/assets", json={"ids": [ids["b_archived"]], "visibility": "archive"}).status_code == 204
    for owner in (a, b):
        assert owner.post("/api/auth/pin-code", json={"pinCode": "123456"}).status_code in (200, 201, 204)
    assert lib.a_elevated.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code in (200, 204)
    assert lib.a_elevated.put(f"/api/assets/{ids['locked']}", json={"visibility": "locked"}).status_code == 200
    b_login = login(client, b.email, b.password)
    b_elevated = Actor(client, b_login["accessToken"], b.id, b.email, b.password)
    assert b_elevated.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code in (200, 204)
    assert b_elevated.put(f"/api/assets/{ids['b_locked']}", json={"visibility": "locked"}).status_code == 200
    assert a.delete("/api/assets", json={"ids": [ids["trashed"]]}).status_code == 204
    # partners, albums, people, tags, stack
    make_partner(ctx, by=b, to=a, in_timeline=True)
    for name, owner, members in (("summer", a, [ids["paris"], ids["berlin"]]), ("food", a, [ids["paris"]]),
                                 ("from_c", c, [ids["c_paris"]])):
        body: dict[str, Any] = {"albumName": {"summer": "Summer Holidays", "food": "Food",
                                              "from_c": "Shared by C"}[name], "assetIds": members}
        if name == "from_c":
            body["albumUsers"] = [{"userId": a.id, "role": "viewer"}]
        r = owner.post("/api/albums", json=body)
        assert r.status_code == 201, r.text
        lib.albums[name] = r.json()["id"]
    for key, person_name, assets in (("elodie", "Élodie Martin", ("paris", "berlin")),
                                     ("jon", "Jon Snow", ("berlin",))):
        r = a.post("/api/people", json={"name": person_name})
        assert r.status_code == 201, r.text
        lib.people[key] = r.json()["id"]
        for asset in assets:
            r = a.post("/api/faces", json={"assetId": ids[asset], "personId": lib.people[key], "imageWidth": 12,
                                           "imageHeight": 6, "x": 1, "y": 1, "width": 4, "height": 4})
            assert r.status_code in (200, 201, 204), r.text
    tags = {t["value"]: t["id"] for t in a.get("/api/tags").json()}
    lib.tags.update(food=tags["Food"], dessert=tags["Food/Dessert"], japan=tags["Travel/Japan"])
    assert a.post("/api/stacks", json={"assetIds": [ids["tokyo"], ids["nogps"]]}).status_code in (200, 201)
    with ctx.db.write() as conn:  # what the OCR job will write (no OCR engine yet: issue 15)
        conn.execute("INSERT INTO ocr_search (asset_id, text) VALUES (?, ?)",
                     (ids["tokyo"], "Tokyo Tower observation deck 営業中"))
    jobs.drain(ctx)
    lib.names = {v: k for k, v in ids.items()}
    return lib


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
