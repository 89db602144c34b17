"""Memories: CRUD, assets, statistics, and the on-this-day generation job."""
from __future__ import annotations

from datetime import date
from typing import Any

from immich_lite import jobs
from immich_lite.repos import system_metadata
from immich_lite.services import memory as memory_service
from tests.conftest import CORPUS, Actor, assert_error, assert_schema, make_user
from tests.helpers.upload import upload

JPEG = CORPUS / "jpeg" / "el_torcal_rocks.jpg"
PNG = CORPUS / "png" / "png.png"
NO_ID = "00000000-0000-4000-8000-000000000000"


def _asset(actor: Actor, path: Any = JPEG, name: str = "a.jpg") -> str:
    r = upload(actor, path, filename=name)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _memory(actor: Actor, **body: Any) -> Any:
    return actor.post("/api/memories", json={"type": "on_this_day", "data": {"year": 2020},
                                             "memoryAt": "2020-06-15T00:00:00.000Z", **body})


def test_memory_crud_and_assets(client: Any, admin: Actor, user: Actor, ctx: Any) -> None:
    a, b = _asset(admin, JPEG, "a.jpg"), _asset(admin, PNG, "b.png")
    foreign = _asset(user, JPEG, "u.jpg")
    jobs.drain(ctx)
    r = _memory(admin, assetIds=[a, foreign])
    created = assert_schema(r, "createMemory")
    assert r.status_code == 201 and [x["id"] for x in created["assets"]] == [a]  # no share access: dropped
    assert created["isSaved"] is False and created["data"] == {"year": 2020} and created["ownerId"] == admin.id
    mid = created["id"]

    got = assert_schema(admin.get(f"/api/memories/{mid}"), "getMemory")
    assert got["id"] == mid
    assert_error(user.get(f"/api/memories/{mid}"), 400, "Not found or no memory.read access")

    r = admin.put(f"/api/memories/{mid}", json={"isSaved": True, "seenAt": "2024-01-02T03:04:05.000Z"})
    upd = assert_schema(r, "updateMemory")
    assert upd["isSaved"] is True and upd["seenAt"] == "2024-01-02T03:04:05.000Z"
    r = admin.patch(f"/api/memories/{mid}", json={"memoryAt": "2019-06-15T00:00:00.000Z"})
    assert assert_schema(r, "updateMemory")["memoryAt"] == "2019-06-15T00:00:00.000Z"
    assert_error(admin.put(f"/api/memories/{mid}", json={}), 400)
    assert_error(user.put(f"/api/memories/{mid}", json={"isSaved": False}), 400, "Not found or no memory.update access")

    r = admin.put(f"/api/memories/{mid}/assets", json={"ids": [a, b, foreign]})
    res = assert_schema(r, "addMemoryAssets")
    assert res == [{"id": a, "success": False, "error": "duplicate"}, {"id": b, "success": True},
                   {"id": foreign, "success": False, "error": "no_permission"}]
    assert len(admin.get(f"/api/memories/{mid}").json()["assets"]) == 2
    r = admin.request("DELETE", f"/api/memories/{mid}/assets", json={"ids": [b, NO_ID]})
    res = assert_schema(r, "removeMemoryAssets")
    assert res == [{"id": b, "success": True}, {"id": NO_ID, "success": False, "error": "not_found"}]

    # a second, empty memory: counted, but search drops memories without assets
    _memory(admin, memoryAt="2021-06-15T00:00:00.000Z", data={"year": 2021})
    found = assert_schema(admin.get("/api/memories"), "searchMemories")
    assert [m["id"] for m in found] == [mid]
    stats = assert_schema(admin.get("/api/memories/statistics"), "memoriesStatistics")
    assert stats == {"total": 2}
    assert admin.get("/api/memories/statistics", params={"isSaved": "true"}).json() == {"total": 1}
    assert user.get("/api/memories/statistics").json() == {"total": 0}
    assert user.get("/api/memories").json() == []

    assert_error(user.delete(f"/api/memories/{mid}"), 400, "Not found or no memory.delete access")
    assert admin.delete(f"/api/memories/{mid}").status_code == 204
    assert_error(admin.get(f"/api/memories/{mid}"), 400)
    assert admin.get("/api/memories/statistics").json() == {"total": 1}


def test_generate_on_this_day(admin: Actor, user: Actor, ctx: Any) -> None:
    dated = {"2020-06-15T10:00:00.000Z": _asset(admin, JPEG, "a.jpg"),
             "2021-06-16T08:00:00.000Z": _asset(admin, PNG, "b.png"),
             "2022-01-01T08:00:00.000Z": _asset(admin, CORPUS / "jpeg" / "time-created.jpg", "c.jpg"),
             "2024-06-15T08:00:00.000Z": _asset(admin, CORPUS / "png" / "sampleWithExifData.png", "d.png")}  # same year as "today": not a memory
    jobs.drain(ctx)
    for when, aid in dated.items():
        r = admin.put(f"/api/assets/{aid}", json={"dateTimeOriginal": when})
        assert r.status_code == 200, r.text

    assert jobs.is_registered("MemoryGenerate")
    # the startup nightly run may already have done "today" (the real one): start from a clean state
    with ctx.db.write() as conn:
        system_metadata.delete(conn, memory_service.MEMORIES_STATE)
        conn.execute("DELETE FROM memory")
    assert memory_service.generate(ctx, date(2024, 6, 15)) == 2
    assert memory_service.generate(ctx, date(2024, 6, 15)) == 0  # idempotent per day
    assert memory_service.generate(ctx, date(2024, 6, 16)) == 0  # 06-19 has nothing

    found = assert_schema(admin.get("/api/memories", params={"for": "2024-06-15"}), "searchMemories")
    assert len(found) == 1
    m = found[0]
    assert m["data"] == {"year": 2020} and m["memoryAt"] == "2020-06-15T00:00:00.000Z"
    assert m["showAt"] == "2024-06-15T00:00:00.000Z" and m["hideAt"] == "2024-06-15T23:59:59.999Z"
    assert [a["id"] for a in m["assets"]] == [dated["2020-06-15T10:00:00.000Z"]]
    nxt = admin.get("/api/memories", params={"for": "2024-06-16"}).json()
    assert [x["data"]["year"] for x in nxt] == [2021]
    assert admin.get("/api/memories", params={"order": "asc"}).json()[0]["data"]["year"] == 2020
    assert len(admin.get("/api/memories", params={"size": 1}).json()) == 1
    assert admin.get("/api/memories/statistics", params={"for": "2024-06-20"}).json() == {"total": 0}
    assert user.get("/api/memories").json() == []

