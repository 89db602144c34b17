"""Tags API: hierarchy, bulk tagging, tag/untag results, cascade delete, tags on assets, access."""
from __future__ import annotations

import json
import os

from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

PNG = (CORPUS / "png" / "png.png").read_bytes()


def _asset(actor: Actor) -> str:
    r = upload(actor, data=PNG + os.urandom(16), filename="t.png")
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_upsert_hierarchy_and_list(admin: Actor) -> None:
    r = admin.put("/api/tags", json={"tags": ["a/b/c", "a/b/c", "d"]})
    leaves = assert_schema(r, "upsertTags")
    assert [t["value"] for t in leaves] == ["a/b/c", "d"]
    tags = assert_schema(admin.get("/api/tags"), "getAllTags")
    by = {t["value"]: t for t in tags}
    assert [t["value"] for t in tags] == ["a", "a/b", "a/b/c", "d"]
    assert "parentId" not in by["a"] and by["a/b"]["parentId"] == by["a"]["id"]
    assert by["a/b/c"]["parentId"] == by["a/b"]["id"] and by["a/b/c"]["name"] == "c"
    # idempotent
    again = admin.put("/api/tags", json={"tags": ["a/b/c"]}).json()
    assert again[0]["id"] == by["a/b/c"]["id"] and len(admin.get("/api/tags").json()) == 4


def test_create_get_update(admin: Actor) -> None:
    parent = assert_schema(admin.post("/api/tags", json={"name": "Trips"}), "createTag")
    child = assert_schema(admin.post("/api/tags", json={"name": "Mongolia", "parentId": parent["id"],
                                                        "color": "ff0000"}), "createTag")
    assert child["value"] == "Trips/Mongolia" and child["parentId"] == parent["id"] and child["color"] == "#ff0000"
    assert_error(admin.post("/api/tags", json={"name": "Mongolia", "parentId": parent["id"]}), 400,
                 "A tag with that name already exists")
    got = assert_schema(admin.get(f"/api/tags/{child['id']}"), "getTagById")
    assert got == child
    for method in ("PUT", "PATCH"):
        body = assert_schema(admin.request(method, f"/api/tags/{child['id']}", json={"color": "#000000"}), "updateTag")
        assert body["color"] == "#000000"


def test_tag_untag_results_and_asset_tags(client, admin: Actor, ctx) -> None:
    other = make_user(client, admin)
    a, b = _asset(admin), _asset(admin)
    foreign = _asset(other)
    tag = admin.put("/api/tags", json={"tags": ["x/y"]}).json()[0]
    r = admin.put(f"/api/tags/{tag['id']}/assets", json={"ids": [a, a, foreign]})
    assert assert_schema(r, "tagAssets") == [{"id": a, "success": True}, {"id": a, "success": False, "error": "duplicate"},
                                             {"id": foreign, "success": False, "error": "no_permission"}]
    info = admin.get(f"/api/assets/{a}").json()
    assert [t["value"] for t in info["tags"]] == ["x/y"]
    exif = ctx.db.reader().execute("SELECT tags, locked_properties FROM asset_exif WHERE asset_id = ?", (a,)).fetchone()
    assert json.loads(exif["tags"]) == ["x/y"] and "tags" in json.loads(exif["locked_properties"])
    r = admin.request("DELETE", f"/api/tags/{tag['id']}/assets", json={"ids": [a, b]})
    assert assert_schema(r, "untagAssets") == [{"id": a, "success": True},
                                               {"id": b, "success": False, "error": "not_found"}]
    assert admin.get(f"/api/assets/{a}").json()["tags"] == []


def test_bulk_tag_assets_skips_foreign(client, admin: Actor) -> None:
    other = make_user(client, admin)
    a, b, foreign = _asset(admin), _asset(admin), _asset(other)
    t1, t2 = admin.put("/api/tags", json={"tags": ["one", "two"]}).json()
    foreign_tag = other.put("/api/tags", json={"tags": ["theirs"]}).json()[0]
    r = admin.put("/api/tags/assets", json={"tagIds": [t1["id"], t2["id"], foreign_tag["id"]],
                                            "assetIds": [a, b, foreign]})
    assert assert_schema(r, "bulkTagAssets") == {"count": 4}
    r = admin.put("/api/tags/assets", json={"tagIds": [t1["id"]], "assetIds": [a]})
    assert r.json() == {"count": 0}
    assert {t["value"] for t in admin.get(f"/api/assets/{b}").json()["tags"]} == {"one", "two"}
    assert other.get(f"/api/assets/{foreign}").json()["tags"] == []


def test_delete_parent_deletes_children(admin: Actor) -> None:
    a = _asset(admin)
    tags = {t["value"]: t for t in (admin.put("/api/tags", json={"tags": ["p/q/r", "s"]}) and
                                    admin.get("/api/tags").json())}
    admin.put(f"/api/tags/{tags['p/q/r']['id']}/assets", json={"ids": [a]})
    assert admin.delete(f"/api/tags/{tags['p']['id']}").status_code == 204
    assert [t["value"] for t in admin.get("/api/tags").json()] == ["s"]
    assert admin.get(f"/api/assets/{a}").json()["tags"] == []
    assert_error(admin.get(f"/api/tags/{tags['p/q']['id']}"), 400, "Not found or no tag.read access")


def test_other_user_cannot_touch_tag(client, admin: Actor) -> None:
    other = make_user(client, admin)
    tag = admin.post("/api/tags", json={"name": "private"}).json()
    assert_error(other.get(f"/api/tags/{tag['id']}"), 400, "Not found or no tag.read access")
    assert_error(other.put(f"/api/tags/{tag['id']}", json={"color": "#fff"}), 400, "Not found or no tag.update access")
    assert_error(other.delete(f"/api/tags/{tag['id']}"), 400, "Not found or no tag.delete access")
    assert_error(other.put(f"/api/tags/{tag['id']}/assets", json={"ids": []}), 400, "Not found or no tag.asset access")
    assert_error(other.post("/api/tags", json={"name": "x", "parentId": tag["id"]}), 400,
                 "Not found or no tag.read access")
    assert other.get("/api/tags").json() == []
    # the same value may exist per user
    assert other.post("/api/tags", json={"name": "private"}).status_code == 201
