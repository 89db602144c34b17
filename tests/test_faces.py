"""Faces found and grouped into people by the server itself (in-process engine, no network), through HTTP on the
real app, on the labelled photos of ../shared/corpus/faces (LABELS.tsv): 6 people, 13 photos; Obama has 5 faces
there, Biden 3, the others 2, and obama-and-biden.jpg shows an unnamed child too."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import pyvips

from immich_lite import jobs
from tests.conftest import CORPUS, assert_schema
from tests.helpers.app import admin_app
from tests.helpers.upload import upload

FACES = CORPUS / "faces"
pytest.importorskip("dlib")
if not (FACES / "LABELS.tsv").is_file():
    pytest.skip("../shared/corpus/faces is not here", allow_module_level=True)

LABELS = {row["file"]: (int(row["faces"]), [n.strip() for n in row["people (left to right)"].split(",")])
          for row in csv.DictReader((FACES / "LABELS.tsv").open(), delimiter="\t")}


def _who(name: str) -> str:
    return name.rsplit("-", 1)[0].removesuffix(".jpg") if name != "obama-and-biden.jpg" else "both"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with admin_app(tmp_path_factory.mktemp("faces") / "data", workers=2) as (app, admin):
        ids = {}
        for name in sorted(LABELS):
            r = upload(admin, FACES / name)
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        jobs.drain(app.state.ctx, timeout=600)
        yield app, admin, ids


def _people(admin: Any) -> list[dict[str, Any]]:
    return assert_schema(admin.get("/api/people", params={"withHidden": "true"}), "getAllPeople")["people"]


def _assets_of(admin: Any, person_id: str) -> set[str]:
    body = admin.post("/api/search/metadata", json={"personIds": [person_id], "size": 100}).json()
    return {a["originalFileName"] for a in body["assets"]["items"]}


def test_every_face_is_found(library: Any) -> None:
    _, admin, ids = library
    for name, (count, _) in LABELS.items():
        faces = assert_schema(admin.get("/api/faces", params={"id": ids[name]}), "getFaces")
        assert len(faces) == count, (name, len(faces))
        for f in faces:  # boxes in the preview's pixels, with its size, as upstream stores them
            assert 0 <= f["boundingBoxX1"] < f["boundingBoxX2"] <= f["imageWidth"]
            assert 0 <= f["boundingBoxY1"] < f["boundingBoxY2"] <= f["imageHeight"]


def test_with_upstreams_defaults_only_people_with_three_faces_become_persons(library: Any) -> None:
    _, admin, ids = library
    people = _people(admin)
    groups = sorted(sorted(_assets_of(admin, p["id"])) for p in people)
    obama = sorted(n for n in LABELS if n.startswith("obama"))
    biden = ["biden-1.jpg", "biden-2.jpg", "obama-and-biden.jpg"]
    assert groups == sorted([obama, biden]), groups
    for p in people:  # each person's thumbnail is a decodable face crop
        thumb = admin.get(f"/api/people/{p['id']}/thumbnail")
        assert thumb.status_code == 200
        image = pyvips.Image.new_from_buffer(thumb.content, "")
        assert image.width > 0 and image.height > 0
    info = assert_schema(admin.get(f"/api/assets/{ids['obama-1.jpg']}"), "getAssetInfo")
    assert [p["id"] for p in info["people"]] == [next(p["id"] for p in people
                                                     if "obama-1.jpg" in _assets_of(admin, p["id"]))]
    both = admin.get(f"/api/assets/{ids['obama-and-biden.jpg']}").json()
    assert len(both["people"]) == 2
    features = admin.get("/api/server/features").json()
    assert features["facialRecognition"] is True


def test_lowering_min_faces_groups_everyone_and_merge_reassign_delete_keep_counts(library: Any) -> None:
    app, admin, ids = library
    config = admin.get("/api/system-config").json()
    config["machineLearning"]["facialRecognition"]["minFaces"] = 2
    assert admin.put("/api/system-config", json=config).status_code == 200
    assert admin.put("/api/jobs/facialRecognition", json={"command": "start", "force": True}).status_code == 200
    jobs.drain(app.state.ctx, timeout=600)
    # GET /people lists unnamed people from the user's minimumFaces preference on (default 3), as upstream
    assert len(_people(admin)) == 2
    assert admin.put("/api/users/me/preferences", json={"people": {"minimumFaces": 2}}).status_code == 200
    people = _people(admin)
    groups = {frozenset(_assets_of(admin, p["id"])) for p in people}
    expected = {frozenset(n for n in LABELS if _who(n) == who or (n == "obama-and-biden.jpg" and who in
                                                                ("obama", "biden")))
                for who in ("obama", "biden", "kit-harington", "rose-leslie", "alex-lacamoire")}
    assert groups == expected, groups
    by_file = {min(_assets_of(admin, p["id"])): p["id"] for p in people}
    kit, rose = by_file["kit-harington-1.jpg"], by_file["rose-leslie-1.jpg"]
    # closestPersonId: people by how close their feature face is to Kit's, Kit first
    near = [p["id"] for p in admin.get("/api/people", params={"closestPersonId": kit}).json()["people"]]
    assert near[0] == kit and sorted(near) == sorted(p["id"] for p in people)
    conn = app.state.ctx.db.reader()
    kit_face = conn.execute("SELECT face_asset_id FROM person WHERE id = ?", (kit,)).fetchone()["face_asset_id"]
    dist = {r["id"]: r["d"] for r in conn.execute(
        "SELECT p.id, vec_distance_l2(s.embedding, (SELECT embedding FROM face_search WHERE face_id = ?)) AS d "
        "FROM person p JOIN face_search s ON s.face_id = p.face_asset_id", (kit_face,))}
    assert [dist[i] for i in near] == sorted(dist[i] for i in near)
    # merge Rose into Kit: 4 assets, Rose gone
    merged = admin.post(f"/api/people/{kit}/merge", json={"ids": [rose]}).json()
    assert merged == [{"id": rose, "success": True}]
    assert admin.get(f"/api/people/{kit}/statistics").json() == {"assets": 4}
    assert admin.get(f"/api/people/{rose}").status_code == 400
    # reassign one of those faces to a new person
    face = next(f for f in admin.get("/api/faces", params={"id": ids["rose-leslie-2.jpg"]}).json())
    new = admin.post("/api/people", json={"name": "Rose"}).json()
    assert admin.put(f"/api/faces/{new['id']}", json={"id": face["id"]}).status_code == 200  # person, face
    assert admin.get(f"/api/people/{kit}/statistics").json() == {"assets": 3}
    assert admin.get(f"/api/people/{new['id']}/statistics").json() == {"assets": 1}
    # deleting an asset removes its faces, from the people and from the vector index
    admin.delete("/api/assets", json={"ids": [ids["kit-harington-2.jpg"]], "force": True})
    jobs.drain(app.state.ctx, timeout=120)
    assert admin.get(f"/api/people/{kit}/statistics").json() == {"assets": 2}
    conn = app.state.ctx.db.reader()
    left = conn.execute("SELECT count(*) AS n FROM face_search WHERE face_id NOT IN (SELECT id FROM asset_face)")
    assert left.fetchone()["n"] == 0
    total = conn.execute("SELECT count(*) AS n FROM asset_face").fetchone()["n"]
    assert total == sum(c for n, (c, _) in LABELS.items() if n != "kit-harington-2.jpg")
    assert conn.execute("SELECT count(*) AS n FROM face_search").fetchone()["n"] == total


def test_refresh_faces_for_one_asset_keeps_its_faces(library: Any) -> None:
    app, admin, ids = library
    before = {f["id"] for f in admin.get("/api/faces", params={"id": ids["obama-2.jpg"]}).json()}
    r = admin.post("/api/assets/jobs", json={"assetIds": [ids["obama-2.jpg"]], "name": "refresh-faces"})
    assert r.status_code == 204, r.text
    jobs.drain(app.state.ctx, timeout=120)
    after = {f["id"] for f in admin.get("/api/faces", params={"id": ids["obama-2.jpg"]}).json()}
    assert after == before  # the same face found again (IoU > 0.5): kept, its embedding refreshed
    # the models are freed after idle (the scheduler calls this with 300 s) and load again on the next face job
    import time  # noqa: PLC0415

    from immich_lite.services import faces  # noqa: PLC0415

    engine = faces.engine(app.state.ctx)
    assert engine.loaded
    time.sleep(0.05)
    assert faces.unload_if_idle(app.state.ctx, 0.01) and not engine.loaded
    assert not faces.unload_if_idle(app.state.ctx, 0.01)  # nothing left to free
    admin.post("/api/assets/jobs", json={"assetIds": [ids["obama-3.jpg"]], "name": "refresh-faces"})
    jobs.drain(app.state.ctx, timeout=120)
    assert engine.loaded and len(admin.get("/api/faces", params={"id": ids["obama-3.jpg"]}).json()) == 1


def test_faces_off_means_no_detection(tmp_path: Path) -> None:
    from immich_lite.services import faces  # noqa: PLC0415

    with admin_app(tmp_path / "data", workers=1) as (app, admin):
        faces.engine(app.state.ctx).unload()  # one engine per process: another test may have loaded it
        config = admin.get("/api/system-config").json()
        config["machineLearning"]["facialRecognition"]["enabled"] = False
        assert admin.put("/api/system-config", json=config).status_code == 200
        asset = upload(admin, FACES / "obama-1.jpg").json()["id"]
        jobs.drain(app.state.ctx, timeout=120)
        assert admin.get("/api/faces", params={"id": asset}).json() == []
        assert admin.get("/api/server/features").json()["facialRecognition"] is False
        assert not faces.engine(app.state.ctx).loaded
        # switched on later: the "missing" queue-all finds the photos never looked at, "all" starts over
        config["machineLearning"]["facialRecognition"]["enabled"] = True
        assert admin.put("/api/system-config", json=config).status_code == 200
        assert admin.put("/api/jobs/faceDetection", json={"command": "start", "force": False}).status_code == 200
        jobs.drain(app.state.ctx, timeout=120)
        first = admin.get("/api/faces", params={"id": asset}).json()
        assert len(first) == 1
        assert admin.put("/api/jobs/faceDetection", json={"command": "start", "force": True}).status_code == 200
        jobs.drain(app.state.ctx, timeout=120)
        again = admin.get("/api/faces", params={"id": asset}).json()
        assert len(again) == 1 and again[0]["id"] != first[0]["id"]  # "all" deleted and detected anew


XMP_REGIONS = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
 xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#" xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
<mwg-rs:Regions rdf:parseType="Resource">
 <mwg-rs:AppliedToDimensions stDim:w="1000" stDim:h="800" stDim:unit="pixel"/>
 <mwg-rs:RegionList><rdf:Bag>
  <rdf:li><rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face">
   <mwg-rs:Area stArea:x="0.5" stArea:y="0.4" stArea:w="0.2" stArea:h="0.3" stArea:unit="normalized"/>
  </rdf:Description></rdf:li>
  <rdf:li><rdf:Description mwg-rs:Type="Face">
   <mwg-rs:Area stArea:x="0.1" stArea:y="0.1" stArea:w="0.1" stArea:h="0.1" stArea:unit="normalized"/>
  </rdf:Description></rdf:li>
 </rdf:Bag></mwg-rs:RegionList>
</mwg-rs:Regions></rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_xmp_face_regions_import_as_people(tmp_path: Path) -> None:
    with admin_app(tmp_path / "data", workers=1) as (app, admin):
        config = admin.get("/api/system-config").json()
        config["metadata"]["faces"]["import"] = True
        config["machineLearning"]["facialRecognition"]["enabled"] = False  # only what the file says
        assert admin.put("/api/system-config", json=config).status_code == 200
        assert admin.get("/api/server/features").json()["importFaces"] is True
        photo = (CORPUS / "jpeg/Sony_DSC-HX5V_2_.jpg").read_bytes()
        first = upload(admin, data=photo, filename="a.jpg",
                       sidecar=XMP_REGIONS.replace("{name}", "Grace Hopper").encode()).json()["id"]
        jobs.drain(app.state.ctx, timeout=120)
        second = upload(admin, data=photo + b"\\0", filename="b.jpg",
                        sidecar=XMP_REGIONS.replace("{name}", "grace hopper").encode()).json()["id"]
        jobs.drain(app.state.ctx, timeout=120)
        faces = assert_schema(admin.get("/api/faces", params={"id": first}), "getFaces")
        assert len(faces) == 1  # the region without a name is not a face of anyone
        f = faces[0]
        assert (f["imageWidth"], f["imageHeight"]) == (1000, 800)
        assert (f["boundingBoxX1"], f["boundingBoxY1"], f["boundingBoxX2"], f["boundingBoxY2"]) == (400, 200, 600, 440)
        assert f["sourceType"] == "exif" and f["person"]["name"] == "Grace Hopper"
        people = admin.get("/api/people").json()["people"]
        assert [p["name"] for p in people] == ["Grace Hopper"]  # one person, matched case-insensitively
        assert admin.get(f"/api/people/{people[0]['id']}/statistics").json() == {"assets": 2}
        assert admin.get(f"/api/people/{people[0]['id']}/thumbnail").status_code == 200
        info = admin.get(f"/api/assets/{second}").json()
        assert [p["name"] for p in info["people"]] == ["Grace Hopper"]
        # metadata refreshed: the exif faces are replaced, not doubled
        admin.post("/api/assets/jobs", json={"assetIds": [first], "name": "refresh-metadata"})
        jobs.drain(app.state.ctx, timeout=120)
        assert len(admin.get("/api/faces", params={"id": first}).json()) == 1


def test_closest_to_a_face_without_an_embedding_keeps_the_usual_order(library: Any) -> None:
    _, admin, ids = library
    usual = [p["id"] for p in admin.get("/api/people").json()["people"]]
    for face_id in ("00000000-0000-4000-8000-000000000000", ids["obama-1.jpg"]):  # unknown, not a face id
        r = admin.get("/api/people", params={"closestAssetId": face_id})
        assert r.status_code == 200 and [p["id"] for p in r.json()["people"]] == usual
