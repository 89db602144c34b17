"""Stacks API: create/merge, primary, remove, delete, search, access, events, asset info `stack`."""
from __future__ import annotations

import os
from typing import Any

from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

PNG = (CORPUS / "png" / "png.png").read_bytes()


def _assets(actor: Actor, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = upload(actor, data=PNG + os.urandom(16), filename="s.png")
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def _ids(stack: dict[str, Any]) -> list[str]:
    return [a["id"] for a in stack["assets"]]


def test_create_get_and_asset_info(admin: Actor, ctx: Any) -> None:
    events: list[tuple[str, str]] = []
    ctx.events.subscribe(lambda e, room, p: events.append((e, room)))
    a, b, c = _assets(admin, 3)
    stack = assert_schema(admin.post("/api/stacks", json={"assetIds": [b, a, c]}), "createStack")
    assert stack["primaryAssetId"] == b and _ids(stack)[0] == b and set(_ids(stack)) == {a, b, c}
    assert ("on_asset_stack_update", admin.id) in events
    assert assert_schema(admin.get(f"/api/stacks/{stack['id']}"), "getStack")["id"] == stack["id"]
    info = admin.get(f"/api/assets/{a}").json()["stack"]
    assert info == {"id": stack["id"], "primaryAssetId": b, "assetCount": 3}
    assert_error(admin.post("/api/stacks", json={"assetIds": [a]}), 400)


def test_create_merges_existing_stacks(admin: Actor) -> None:
    a, b, c, d = _assets(admin, 4)
    first = admin.post("/api/stacks", json={"assetIds": [a, b]}).json()
    second = admin.post("/api/stacks", json={"assetIds": [c, a, d]}).json()  # a is primary of `first`
    assert set(_ids(second)) == {a, b, c, d} and second["primaryAssetId"] == c
    assert_error(admin.get(f"/api/stacks/{first['id']}"), 400, "Not found or no stack.read access")
    stacks = assert_schema(admin.get("/api/stacks"), "searchStacks")
    assert [s["id"] for s in stacks] == [second["id"]]
    assert admin.get(f"/api/stacks?primaryAssetId={a}").json() == []
    assert [s["id"] for s in admin.get(f"/api/stacks?primaryAssetId={c}").json()] == [second["id"]]


def test_update_primary(admin: Actor) -> None:
    a, b, c = _assets(admin, 3)
    stack = admin.post("/api/stacks", json={"assetIds": [a, b]}).json()
    for method, primary in (("PUT", b), ("PATCH", a)):
        r = admin.request(method, f"/api/stacks/{stack['id']}", json={"primaryAssetId": primary})
        body = assert_schema(r, "updateStack")
        assert body["primaryAssetId"] == primary and _ids(body)[0] == primary
    assert_error(admin.put(f"/api/stacks/{stack['id']}", json={"primaryAssetId": c}), 400,
                 "Primary asset must be in the stack")


def test_remove_asset_from_stack(admin: Actor) -> None:
    a, b, c, d = _assets(admin, 4)
    stack = admin.post("/api/stacks", json={"assetIds": [a, b, c]}).json()
    sid = stack["id"]
    assert_error(admin.delete(f"/api/stacks/{sid}/assets/{a}"), 400, "Cannot remove stack's primary asset")
    assert_error(admin.delete(f"/api/stacks/{sid}/assets/{d}"), 400, "Asset not in stack")
    assert admin.delete(f"/api/stacks/{sid}/assets/{c}").status_code == 204
    assert admin.get(f"/api/assets/{c}").json().get("stack") is None
    assert set(_ids(admin.get(f"/api/stacks/{sid}").json())) == {a, b}
    # upstream keeps a stack even when only its primary is left
    assert admin.delete(f"/api/stacks/{sid}/assets/{b}").status_code == 204
    assert _ids(admin.get(f"/api/stacks/{sid}").json()) == [a]


def test_delete_stack_and_stacks(admin: Actor, ctx: Any) -> None:
    a, b, c, d = _assets(admin, 4)
    s1 = admin.post("/api/stacks", json={"assetIds": [a, b]}).json()
    s2 = admin.post("/api/stacks", json={"assetIds": [c, d]}).json()
    assert admin.delete(f"/api/stacks/{s1['id']}").status_code == 204
    assert admin.get(f"/api/assets/{b}").json().get("stack") is None
    assert admin.request("DELETE", "/api/stacks", json={"ids": [s2["id"]]}).status_code == 204
    assert admin.get("/api/stacks").json() == []
    n = ctx.db.reader().execute("SELECT count(*) AS n FROM stack_audit").fetchone()["n"]
    assert n == 2


def test_other_user_cannot_see_or_change(client, admin: Actor) -> None:
    other = make_user(client, admin)
    a, b = _assets(admin, 2)
    (mine,) = _assets(other, 1)
    stack = admin.post("/api/stacks", json={"assetIds": [a, b]}).json()
    sid = stack["id"]
    assert_error(other.get(f"/api/stacks/{sid}"), 400, "Not found or no stack.read access")
    assert_error(other.put(f"/api/stacks/{sid}", json={"primaryAssetId": b}), 400, "Not found or no stack.update access")
    assert_error(other.delete(f"/api/stacks/{sid}"), 400, "Not found or no stack.delete access")
    assert_error(other.request("DELETE", "/api/stacks", json={"ids": [sid]}), 400, "Not found or no stack.delete access")
    assert_error(other.delete(f"/api/stacks/{sid}/assets/{b}"), 400, "Not found or no stack.update access")
    assert_error(other.post("/api/stacks", json={"assetIds": [mine, a]}), 400, "Not found or no asset.update access")
    assert other.get("/api/stacks").json() == []
    assert len(admin.get(f"/api/stacks/{sid}").json()["assets"]) == 2
