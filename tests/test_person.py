"""People and manual faces: CRUD, merge, reassign, statistics, thumbnails, access."""
from __future__ import annotations

from typing import Any

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, assert_error, assert_schema
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "el_torcal_rocks.jpg"
PNG = CORPUS / "png" / "png.png"


def _asset(actor: Actor, path: Any, name: str) -> str:
    r = upload(actor, path, filename=name)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _person(actor: Actor, **body: Any) -> dict[str, Any]:
    r = actor.post("/api/people", json=body)
    assert r.status_code == 201, r.text
    return assert_schema(r, "createPerson")


def _face(actor: Actor, asset_id: str, person_id: str, x: int = 10) -> None:
    r = actor.post("/api/faces", json={"assetId": asset_id, "personId": person_id, "imageWidth": 200,
                                       "imageHeight": 100, "x": x, "y": 10, "width": 50, "height": 50})
    assert r.status_code == 201, r.text


def test_people_faces_merge_reassign(admin: Actor, user: Actor, ctx: Any) -> None:
    a, b = _asset(admin, JPEG, "a.jpg"), _asset(admin, PNG, "b.png")
    jobs.drain(ctx)
    assert_error(admin.post("/api/people", json={"birthDate": "2999-01-01"}), 400)
    alice = _person(admin, name="Alice", birthDate="1990-02-03")
    assert alice["birthDate"] == "1990-02-03" and alice["thumbnailPath"] == "" and alice["isHidden"] is False
    assert_error(admin.get(f"/api/people/{alice['id']}/thumbnail"), 404)

    _face(admin, a, alice["id"])
    jobs.drain(ctx)
    r = admin.get(f"/api/people/{alice['id']}/thumbnail")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:3] == b"\xff\xd8\xff"
    faces = assert_schema(admin.get("/api/faces", params={"id": a}), "getFaces")
    assert len(faces) == 1 and faces[0]["person"]["id"] == alice["id"] and faces[0]["sourceType"] == "manual"
    assert faces[0]["boundingBoxX2"] == 60 and faces[0]["imageWidth"] == 200
    got = assert_schema(admin.get(f"/api/people/{alice['id']}"), "getPerson")
    assert got["thumbnailPath"] != ""

    people = assert_schema(admin.get("/api/people"), "getAllPeople")
    assert people["total"] == 1 and people["hidden"] == 0 and [p["id"] for p in people["people"]] == [alice["id"]]
    assert people["hasNextPage"] is False

    # updates, including the hidden PATCH twin
    r = admin.put(f"/api/people/{alice['id']}", json={"isFavorite": True, "color": "#ff0000"})
    upd = assert_schema(r, "updatePerson")
    assert upd["isFavorite"] is True and upd["color"] == "#ff0000" and upd["name"] == "Alice"
    assert_error(admin.put(f"/api/people/{alice['id']}", json={"birthDate": "2999-01-01"}), 400)
    r = admin.patch(f"/api/people/{alice['id']}", json={"isHidden": True})
    assert assert_schema(r, "updatePerson")["isHidden"] is True
    assert admin.get("/api/people").json()["people"] == []
    people = assert_schema(admin.get("/api/people", params={"withHidden": "true"}), "getAllPeople")
    assert people["hidden"] == 1 and len(people["people"]) == 1
    assert_error(admin.put(f"/api/people/{alice['id']}", json={"featureFaceAssetId": b}), 400,
                 "Invalid assetId for feature face or asset is offline")
    res = assert_schema(admin.put("/api/people", json={"people": [{"id": alice["id"], "isHidden": False},
                                                                 {"id": user.id, "name": "x"}]}), "updatePeople")
    assert res == [{"id": alice["id"], "success": True}, {"id": user.id, "success": False, "error": "unknown"}]

    # another user sees none of it
    assert_error(user.get(f"/api/people/{alice['id']}"), 400, "Not found or no person.read access")
    assert_error(user.get(f"/api/people/{alice['id']}/statistics"), 400, "Not found or no person.read access")
    assert_error(user.get(f"/api/people/{alice['id']}/thumbnail"), 400, "Not found or no person.read access")
    assert_error(user.get("/api/faces", params={"id": a}), 400, "Not found or no asset.read access")
    assert_error(user.post("/api/faces", json={"assetId": a, "personId": alice["id"], "imageWidth": 1,
                                               "imageHeight": 1, "x": 0, "y": 0, "width": 1, "height": 1}), 400)
    assert user.get("/api/people").json()["total"] == 0

    # merge: bob's faces move to alice, bob is gone
    bob = _person(admin, name="", birthDate="1980-01-01")
    _face(admin, b, bob["id"])
    stranger = _person(user, name="Eve")
    res = assert_schema(admin.post(f"/api/people/{alice['id']}/merge", json={"ids": [bob["id"], stranger["id"]]}),
                        "mergePerson")
    assert res == [{"id": bob["id"], "success": True},
                   {"id": stranger["id"], "success": False, "error": "no_permission"}]
    assert_error(admin.post(f"/api/people/{alice['id']}/merge", json={"ids": [alice["id"]]}), 400,
                 "Cannot merge a person into themselves")
    assert_error(admin.get(f"/api/people/{bob['id']}"), 400)
    stats = assert_schema(admin.get(f"/api/people/{alice['id']}/statistics"), "getPersonStatistics")
    assert stats == {"assets": 2}
    assert admin.get(f"/api/people/{alice['id']}").json()["birthDate"] == "1990-02-03"

    # reassign all of alice's faces on asset b to carol
    carol = _person(admin, name="Carol")
    r = admin.put(f"/api/people/{carol['id']}/reassign", json={"data": [{"assetId": b, "personId": alice["id"]}]})
    assert [p["id"] for p in assert_schema(r, "reassignFaces")] == [carol["id"]]
    assert admin.get(f"/api/people/{carol['id']}/statistics").json() == {"assets": 1}
    assert admin.get(f"/api/people/{alice['id']}/statistics").json() == {"assets": 1}
    jobs.drain(ctx)
    assert admin.get(f"/api/people/{carol['id']}/thumbnail").status_code == 200

    # reassign one face by id (path: person, body: face)
    face_b = admin.get("/api/faces", params={"id": b}).json()[0]
    r = admin.put(f"/api/faces/{alice['id']}", json={"id": face_b["id"]})
    assert assert_schema(r, "reassignFacesById")["id"] == alice["id"]
    assert admin.get(f"/api/people/{alice['id']}/statistics").json() == {"assets": 2}
    assert_error(user.put(f"/api/faces/{stranger['id']}", json={"id": face_b["id"]}), 400,
                 "Not found or no person.create access")

    # soft delete a face (not forced), then delete people
    assert_error(user.request("DELETE", f"/api/faces/{face_b['id']}", json={"force": False}), 400,
                 "Not found or no face.delete access")
    assert admin.request("DELETE", f"/api/faces/{face_b['id']}", json={"force": False}).status_code == 204
    assert admin.get("/api/faces", params={"id": b}).json() == []
    assert admin.get(f"/api/people/{alice['id']}/statistics").json() == {"assets": 1}
    assert ctx.db.reader().execute("SELECT deleted_at FROM asset_face WHERE id = ?",
                                   (face_b["id"],)).fetchone()["deleted_at"]
    assert admin.delete(f"/api/people/{carol['id']}").status_code == 204
    assert admin.request("DELETE", "/api/people", json={"ids": [alice["id"]]}).status_code == 204
    assert_error(admin.get(f"/api/people/{alice['id']}"), 400)
    assert admin.get("/api/people").json()["total"] == 0
    faces = admin.get("/api/faces", params={"id": a}).json()
    assert len(faces) == 1 and faces[0]["person"] is None
