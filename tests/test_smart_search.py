"""Smart search and duplicate detection end to end, through HTTP on the real app, with a tiny CLIP model in
upstream's layout generated in the test (tests/helpers/tiny_clip.py: its embeddings follow an image's dominant
colour and a text's colour words), run in process on onnxruntime. Photos are generated with pyvips."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pyvips

from immich_lite import jobs
from tests.conftest import Actor, assert_error, assert_schema, login, make_user
from tests.helpers.app import admin_app
from tests.helpers.upload import upload

pytest.importorskip("onnxruntime")
tiny_clip = pytest.importorskip("tests.helpers.tiny_clip")

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def photo(rgb: tuple[int, int, int], *, noise: int = 0, quality: int = 90, size: int = 640) -> bytes:
    image = (pyvips.Image.black(size, size * 3 // 4) + list(rgb)).cast("uchar")
    if noise:  # a near-identical copy: a few grey pixels and another JPEG quality
        image = image.draw_rect([128, 128, 128], 10, 10, noise, noise, fill=True)
    return image.copy(interpretation="srgb").jpegsave_buffer(Q=quality)


def smart(actor: Actor, body: dict[str, Any]) -> Any:
    return actor.post("/api/search/smart", json=body)


def names(resp: Any) -> list[str]:
    body = assert_schema(resp, "searchSmart")
    return [a["originalFileName"] for a in body["assets"]["items"]]


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("smart") / "data"
    tiny_clip.make_tiny_clip(data / "models")  # the default model name, where --models-dir defaults to
    with admin_app(data, workers=2) as (app, admin):
        features = admin.get("/api/server/features").json()
        assert features["smartSearch"] is True and features["duplicateDetection"] is True
        ids = {}
        for name, rgb in COLOURS.items():
            r = upload(admin, data=photo(rgb), filename=f"{name}.jpg")
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        r = upload(admin, data=photo(COLOURS["red"], noise=12, quality=75), filename="red-copy.jpg")
        ids["red-copy"] = r.json()["id"]
        r = upload(admin, data=photo((60, 160, 70), noise=240), filename="green-fav.jpg", fields={"isFavorite": "true"})
        ids["green-fav"] = r.json()["id"]
        other = make_user(admin.client, admin, "other@immich.cloud", "Other")
        r = upload(other, data=photo(COLOURS["red"], noise=30), filename="others-red.jpg")
        ids["others-red"] = r.json()["id"]
        jobs.drain(app.state.ctx, timeout=300)
        yield app, admin, other, ids


def test_text_query_ranks_by_meaning(lib: Any) -> None:
    _, admin, _, _ = lib
    top = names(smart(admin, {"query": "red"}))
    assert set(top[:2]) == {"red.jpg", "red-copy.jpg"}, top
    assert names(smart(admin, {"query": "a photo of a blue car"}))[0] == "blue.jpg"
    assert set(names(smart(admin, {"query": "green"}))[:2]) == {"green.jpg", "green-fav.jpg"}
    assert len(top) == 5  # every asset of mine, nearest first; never another user's


def test_query_by_asset(lib: Any) -> None:
    _, admin, _, ids = lib
    found = names(smart(admin, {"queryAssetId": ids["blue"]}))
    assert found[0] == "blue.jpg"
    assert_error(smart(admin, {}), 400, "Either `query` or `queryAssetId` must be set")


def test_filters_and_paging(lib: Any) -> None:
    _, admin, _, _ = lib
    assert names(smart(admin, {"query": "green", "isFavorite": True})) == ["green-fav.jpg"]
    assert names(smart(admin, {"query": "red", "type": "VIDEO"})) == []
    first = assert_schema(smart(admin, {"query": "red", "size": 2}), "searchSmart")["assets"]
    assert first["nextPage"] == "2" and first["count"] == 2
    second = assert_schema(smart(admin, {"query": "red", "size": 2, "page": 2}), "searchSmart")["assets"]
    third = assert_schema(smart(admin, {"query": "red", "size": 2, "page": 3}), "searchSmart")["assets"]
    seen = [a["originalFileName"] for a in first["items"] + second["items"] + third["items"]]
    assert seen == names(smart(admin, {"query": "red"})) and third["nextPage"] is None


def test_access_scoping_and_locked(lib: Any) -> None:
    _, admin, other, ids = lib
    assert names(smart(other, {"query": "red"})) == ["others-red.jpg"]
    # another user's asset as the query: no access
    assert smart(other, {"queryAssetId": ids["red"]}).status_code == 400
    assert_error(smart(admin, {"query": "red", "visibility": "locked"}), 401, "Elevated permission is required")
    # locked assets only for an elevated session
    assert admin.post("/api/auth/pin-code", json={"pinCode": "123456"}).status_code in (200, 201, 204)
    session = login(admin.client, admin.email, admin.password)
    elevated = Actor(admin.client, session["accessToken"], admin.id, admin.email, admin.password)
    assert elevated.post("/api/auth/session/unlock", json={"pinCode": "123456"}).status_code in (200, 204)
    assert elevated.put(f"/api/assets/{ids['blue']}", json={"visibility": "locked"}).status_code == 200
    try:
        assert "blue.jpg" not in names(smart(admin, {"query": "blue"}))
        assert names(smart(elevated, {"query": "blue", "visibility": "locked"})) == ["blue.jpg"]
    finally:
        assert elevated.put(f"/api/assets/{ids['blue']}", json={"visibility": "timeline"}).status_code == 200


def test_duplicates_are_found_for_near_identical_uploads_only(lib: Any) -> None:
    _, admin, other, ids = lib
    groups = assert_schema(admin.get("/api/duplicates"), "getAssetDuplicates")
    found = [sorted(a["originalFileName"] for a in g["assets"]) for g in groups]
    assert found == [["red-copy.jpg", "red.jpg"]], found
    # per owner: the other user's red photo is in no group of theirs (alone) and not in mine
    assert admin.get("/api/duplicates").json()[0]["duplicateId"]
    assert other.get("/api/duplicates").json() == []
    info = admin.get(f"/api/assets/{ids['red']}").json()
    assert info["duplicateId"] == groups[0]["duplicateId"]


def test_deleting_an_asset_removes_its_embedding(lib: Any) -> None:
    app, admin, _, _ = lib
    r = upload(admin, data=photo((200, 200, 30)), filename="yellow.jpg")
    jobs.drain(app.state.ctx, timeout=120)
    asset = r.json()["id"]
    assert "yellow.jpg" in names(smart(admin, {"query": "yellow"}))[:1]
    assert admin.delete("/api/assets", json={"ids": [asset], "force": True}).status_code == 204
    jobs.drain(app.state.ctx, timeout=120)
    assert "yellow.jpg" not in names(smart(admin, {"query": "yellow"}))
    conn = app.state.ctx.db.reader()
    assert conn.execute("SELECT count(*) AS n FROM smart_search WHERE asset_id = ?", (asset,)).fetchone()["n"] == 0


def test_changing_the_model_embeds_everything_again_without_mixing(lib: Any, tmp_path: Path) -> None:
    app, admin, _, _ = lib
    ctx = app.state.ctx
    tiny_clip.make_tiny_clip(ctx.settings.models_path, "XLM-Roberta-Large-Vit-B-16Plus", dim=640, seed=3)
    config = admin.get("/api/system-config").json()
    old = config["machineLearning"]["clip"]["modelName"]
    config["machineLearning"]["clip"]["modelName"] = "XLM-Roberta-Large-Vit-B-16Plus"
    try:
        assert admin.put("/api/system-config", json=config).status_code == 200
        conn = ctx.db.reader()
        assert conn.execute("SELECT count(*) AS n FROM smart_search").fetchone()["n"] == 0  # emptied with the change
        jobs.drain(ctx, timeout=300)
        sizes = {len(r["embedding"]) for r in conn.execute("SELECT embedding FROM smart_search")}
        assert sizes == {640 * 4}
        assert names(smart(admin, {"query": "blue"}))[0] == "blue.jpg"
    finally:
        config["machineLearning"]["clip"]["modelName"] = old
        assert admin.put("/api/system-config", json=config).status_code == 200
        jobs.drain(ctx, timeout=300)


def test_without_a_model_smart_search_is_off(tmp_path: Path) -> None:
    with admin_app(tmp_path / "data", workers=1) as (app, admin):
        features = admin.get("/api/server/features").json()
        assert features["smartSearch"] is False and features["duplicateDetection"] is False
        upload(admin, data=photo(COLOURS["red"]), filename="red.jpg")
        jobs.drain(app.state.ctx, timeout=120)
        conn = app.state.ctx.db.reader()
        assert conn.execute("SELECT count(*) AS n FROM job WHERE name = 'SmartSearch'").fetchone()["n"] == 0
        resp = smart(admin, {"query": "red"})
        assert resp.status_code == 400 and "not found" in resp.json()["message"]
        # switched off: upstream's own answer
        config = admin.get("/api/system-config").json()
        config["machineLearning"]["clip"]["enabled"] = False
        assert admin.put("/api/system-config", json=config).status_code == 200
        assert_error(smart(admin, {"query": "red"}), 400, "Smart search is not enabled")
