"""Partners: share my library one way; the receiver sets inTimeline; partner assets are readable, never writable."""
from __future__ import annotations

from typing import Any

from tests.conftest import CORPUS, Actor, assert_error, assert_schema
from tests.helpers.upload import upload


def test_create_list_update_remove(admin: Actor, user: Actor) -> None:
    r = admin.post("/api/partners", json={"sharedWithId": user.id})
    assert r.status_code == 201 and assert_schema(r, "createPartner")["id"] == user.id
    assert_error(admin.post("/api/partners", json={"sharedWithId": user.id}), 400, "Partner already exists")
    by = assert_schema(admin.get("/api/partners?direction=shared-by"), "getPartners")
    withme = assert_schema(user.get("/api/partners?direction=shared-with"), "getPartners")
    assert [p["id"] for p in by] == [user.id] and [p["id"] for p in withme] == [admin.id]
    body = assert_schema(user.put(f"/api/partners/{admin.id}", json={"inTimeline": True}), "updatePartner")
    assert body["inTimeline"] is True
    assert_error(admin.put(f"/api/partners/{user.id}", json={"inTimeline": True}), 400)
    assert admin.delete(f"/api/partners/{user.id}").status_code == 204
    assert_error(admin.delete(f"/api/partners/{user.id}"), 400, "Partner not found")


def test_cannot_partner_self_or_nobody(admin: Actor) -> None:
    assert_error(admin.post("/api/partners", json={"sharedWithId": admin.id}), 400, "Invalid user")
    assert_error(admin.post("/api/partners", json={"sharedWithId": "00000000-0000-4000-8000-000000000000"}), 400,
                 "Invalid user")


def test_partner_reads_but_never_writes(admin: Actor, user: Actor) -> None:
    a = upload(admin, CORPUS / "jpeg" / "mongolia.jpeg").json()["id"]
    archived = upload(admin, CORPUS / "png" / "png.png").json()["id"]
    admin.put(f"/api/assets/{archived}", json={"visibility": "archive"})
    assert_error(user.get(f"/api/assets/{a}"), 400)
    admin.post("/api/partners", json={"sharedWithId": user.id})
    assert user.get(f"/api/assets/{a}").status_code == 200
    assert user.get(f"/api/assets/{a}/original").status_code == 200
    assert_error(user.get(f"/api/assets/{archived}"), 400)  # archived stays private
    assert_error(user.put(f"/api/assets/{a}", json={"isFavorite": True}), 400)
    assert_error(user.delete("/api/assets", json={"ids": [a]}), 400)
