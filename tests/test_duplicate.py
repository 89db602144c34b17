"""Duplicates API: groups from asset.duplicateId, suggestions, resolve (merge/trash), dismiss, access."""
from __future__ import annotations

import os
import uuid
from typing import Any

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

PNG = (CORPUS / "png" / "png.png").read_bytes()


def _assets(actor: Actor, n: int, extra: int = 16) -> list[str]:
    out = []
    for i in range(n):
        r = upload(actor, data=PNG + os.urandom(extra + i), filename="d.png")
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def _group(actor: Actor, asset_ids: list[str]) -> str:
    dup = str(uuid.uuid4())
    assert actor.put("/api/assets", json={"ids": asset_ids, "duplicateId": dup}).status_code == 204
    return dup


def test_groups_and_suggestion(admin: Actor) -> None:
    a, b, c, lone = _assets(admin, 4)
    dup = _group(admin, [a, b, c])
    single = _group(admin, [lone])
    body = assert_schema(admin.get("/api/duplicates"), "getAssetDuplicates")
    assert len(body) == 1 and body[0]["duplicateId"] == dup
    assert {x["id"] for x in body[0]["assets"]} == {a, b, c}
    assert body[0]["suggestedKeepAssetIds"] == [c]  # the largest file
    assert all(x["duplicateId"] == dup for x in body[0]["assets"])
    # the singleton group was cleaned up
    assert admin.get(f"/api/assets/{lone}").json()["duplicateId"] is None
    assert single


def test_resolve_merges_into_keeper_and_trashes(admin: Actor, ctx: Any) -> None:
    a, b, c = _assets(admin, 3)
    dup = _group(admin, [a, b, c])
    admin.put(f"/api/assets/{b}", json={"isFavorite": True, "description": "from b", "rating": 4})
    admin.put(f"/api/assets/{c}", json={"description": "from c"})
    album = admin.post("/api/albums", json={"albumName": "dups", "assetIds": [c]}).json()
    tag = admin.put("/api/tags", json={"tags": ["kept/tag"]}).json()[0]
    admin.put(f"/api/tags/{tag['id']}/assets", json={"ids": [b]})

    bad = admin.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": dup, "keepAssetIds": [a], "trashAssetIds": [b]}]})
    assert assert_schema(bad, "resolveDuplicates") == [{
        "id": dup, "success": False, "error": "validation",
        "errorMessage": "Every asset must be in either keepAssetIds or trashAssetIds"}]
    both = admin.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": dup, "keepAssetIds": [a, b, c], "trashAssetIds": [b]}]}).json()
    assert both[0]["errorMessage"] == "An asset cannot be in both keepAssetIds and trashAssetIds"

    r = admin.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": dup, "keepAssetIds": [a], "trashAssetIds": [b, c]}]})
    assert assert_schema(r, "resolveDuplicates") == [{"id": dup, "success": True}]
    kept = admin.get(f"/api/assets/{a}").json()
    assert kept["duplicateId"] is None and kept["isFavorite"] is True
    assert kept["exifInfo"]["rating"] == 4 and set(kept["exifInfo"]["description"].split("\n")) == {"from b", "from c"}
    assert [t["value"] for t in kept["tags"]] == ["kept/tag"]
    assert ctx.db.reader().execute("SELECT 1 FROM album_asset WHERE album_id = ? AND asset_id = ?",
                                   (album["id"], a)).fetchone()
    for gone in (b, c):
        info = admin.get(f"/api/assets/{gone}").json()
        assert info["isTrashed"] is True and info["duplicateId"] is None
    assert admin.get("/api/duplicates").json() == []
    # the merged metadata is written to the keeper's sidecar and survives being read back from it
    jobs.drain(ctx, timeout=120)
    kept = admin.get(f"/api/assets/{a}").json()
    assert kept["exifInfo"]["rating"] == 4 and set(kept["exifInfo"]["description"].split("\n")) == {"from b", "from c"}
    assert [t["value"] for t in kept["tags"]] == ["kept/tag"]
    assert ctx.db.reader().execute("SELECT 1 FROM asset_file WHERE asset_id = ? AND type = 'sidecar'", (a,)).fetchone()


def test_resolve_keep_all_and_unknown_group(admin: Actor) -> None:
    a, b = _assets(admin, 2)
    dup = _group(admin, [a, b])
    r = admin.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": dup, "keepAssetIds": [a, b], "trashAssetIds": []}]})
    assert r.json() == [{"id": dup, "success": True}]
    assert admin.get(f"/api/assets/{a}").json()["isTrashed"] is False
    assert admin.get("/api/duplicates").json() == []
    assert_error(admin.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": str(uuid.uuid4()), "keepAssetIds": [], "trashAssetIds": []}]}), 400,
        "Not found or no duplicate.delete access")


def test_dismiss_one_and_many(admin: Actor) -> None:
    a, b, c, d = _assets(admin, 4)
    g1, g2 = _group(admin, [a, b]), _group(admin, [c, d])
    assert admin.delete(f"/api/duplicates/{g1}").status_code == 204
    assert [g["duplicateId"] for g in admin.get("/api/duplicates").json()] == [g2]
    assert admin.request("DELETE", "/api/duplicates", json={"ids": [g2]}).status_code == 204
    assert admin.get("/api/duplicates").json() == []
    assert admin.get(f"/api/assets/{c}").json()["duplicateId"] is None


def test_other_user_cannot_resolve_or_dismiss(client, admin: Actor) -> None:
    other = make_user(client, admin)
    a, b = _assets(admin, 2)
    dup = _group(admin, [a, b])
    assert other.get("/api/duplicates").json() == []
    assert_error(other.delete(f"/api/duplicates/{dup}"), 400, "Not found or no duplicate.delete access")
    assert_error(other.request("DELETE", "/api/duplicates", json={"ids": [dup]}), 400,
                 "Not found or no duplicate.delete access")
    assert_error(other.post("/api/duplicates/resolve", json={"groups": [
        {"duplicateId": dup, "keepAssetIds": [], "trashAssetIds": [a, b]}]}), 400,
        "Not found or no duplicate.delete access")
    assert len(admin.get("/api/duplicates").json()) == 1
