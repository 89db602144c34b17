"""Text in photos end to end, through HTTP on the real app: the Ocr job after thumbnails (in process, rapidocr's
shipped models), GET /assets/{id}/ocr, the `ocr` search filter, the sync stream's AssetOcrV1 / AssetOcrDeleteV1,
features.ocr, and the queue commands. Images: a rendered sign made in the test and corpus photos with print."""
from __future__ import annotations

from typing import Any

import pytest
import pyvips

from immich_lite import jobs
from tests.conftest import CORPUS, assert_schema
from tests.helpers.app import admin_app
from tests.helpers.mobile import MobileApp
from tests.helpers.upload import upload

pytest.importorskip("rapidocr")
CORPUS_TEXT = {"jpeg/Sony_DSC-HX5V_2_.jpg": "hammoor", "jpeg/Olympus_PEN_E-P3.jpg": "olympus"}


def sign() -> bytes:
    words = pyvips.Image.text("Birthday Party 2024\nEiffel Tower Paris", dpi=300, font="sans")
    canvas = pyvips.Image.black(words.width + 200, words.height + 200).invert()
    image = canvas.insert(words.invert(), 100, 100).colourspace("srgb")
    return image.jpegsave_buffer(Q=92)


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with admin_app(tmp_path_factory.mktemp("ocr") / "data", workers=2) as (app, admin):
        ids = {"sign": upload(admin, data=sign(), filename="sign.jpg").json()["id"]}
        for path in CORPUS_TEXT:
            if (CORPUS / path).is_file():
                ids[path] = upload(admin, CORPUS / path).json()["id"]
        jobs.drain(app.state.ctx, timeout=600)
        yield app, admin, ids


def _ocr_search(admin: Any, words: str) -> set[str]:
    body = assert_schema(admin.post("/api/search/metadata", json={"ocr": words}), "searchAssets")
    return {a["id"] for a in body["assets"]["items"]}


def test_text_is_read_and_served(lib: Any) -> None:
    _, admin, ids = lib
    assert admin.get("/api/server/features").json()["ocr"] is True
    lines = assert_schema(admin.get(f"/api/assets/{ids['sign']}/ocr"), "getAssetOcr")
    assert [line["text"] for line in lines] == ["Birthday Party 2024", "Eiffel Tower Paris"]
    for line in lines:
        assert line["assetId"] == ids["sign"]
        assert all(0.0 <= line[k] <= 1.0 for k in ("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"))
        assert line["x1"] < line["x2"] and line["y1"] < line["y4"]  # clockwise from top-left
        assert 0 < line["boxScore"] <= 1 and 0.8 < line["textScore"] <= 1


def test_ocr_search_filter(lib: Any) -> None:
    _, admin, ids = lib
    assert _ocr_search(admin, "eiffel") == {ids["sign"]}
    assert _ocr_search(admin, "birthday party") == {ids["sign"]}
    for path, word in CORPUS_TEXT.items():
        if path in ids:
            assert ids[path] in _ocr_search(admin, word), (path, word)
    assert _ocr_search(admin, "zanzibar") == set()


def test_sync_streams_the_lines_and_their_deletes(lib: Any) -> None:
    app, admin, ids = lib
    mobile = MobileApp(admin.client, admin.token)
    seen = mobile.sync(["AssetOcrV1"])
    texts = {line["data"]["text"] for line in seen if line["type"] == "AssetOcrV1"}
    assert {"Birthday Party 2024", "Eiffel Tower Paris"} <= texts
    # "all" reads every photo again: the old lines go (audited) and new ones come
    assert admin.put("/api/jobs/ocr", json={"command": "start", "force": True}).status_code == 200
    jobs.drain(app.state.ctx, timeout=600)
    again = mobile.sync(["AssetOcrV1"])
    deleted = [line for line in again if line["type"] == "AssetOcrDeleteV1"]
    added = [line for line in again if line["type"] == "AssetOcrV1"]
    assert {d["data"]["assetId"] for d in deleted} >= {ids["sign"]}
    assert {a["data"]["text"] for a in added} >= {"Birthday Party 2024", "Eiffel Tower Paris"}
    lines = admin.get(f"/api/assets/{ids['sign']}/ocr").json()
    assert {line["id"] for line in lines} == {a["data"]["id"] for a in added if a["data"]["assetId"] == ids["sign"]}


def test_ocr_off_reads_nothing(tmp_path: Any) -> None:
    with admin_app(tmp_path / "data", workers=1) as (app, admin):
        config = admin.get("/api/system-config").json()
        config["machineLearning"]["ocr"]["enabled"] = False
        assert admin.put("/api/system-config", json=config).status_code == 200
        asset = upload(admin, data=sign(), filename="sign.jpg").json()["id"]
        jobs.drain(app.state.ctx, timeout=120)
        assert admin.get(f"/api/assets/{asset}/ocr").json() == []
        assert admin.get("/api/server/features").json()["ocr"] is False
        # switched on: the "missing" queue-all reads the photos never read
        config["machineLearning"]["ocr"]["enabled"] = True
        assert admin.put("/api/system-config", json=config).status_code == 200
        assert admin.put("/api/jobs/ocr", json={"command": "start", "force": False}).status_code == 200
        jobs.drain(app.state.ctx, timeout=300)
        assert len(admin.get(f"/api/assets/{asset}/ocr").json()) == 2


def test_a_crop_hides_the_lines_it_cuts_away(lib: Any) -> None:
    app, admin, ids = lib
    asset = admin.get(f"/api/assets/{ids['sign']}").json()
    lines = admin.get(f"/api/assets/{ids['sign']}/ocr").json()
    first_bottom = max(lines[0]["y3"], lines[0]["y4"]) * asset["height"]
    crop = {"x": 0, "y": 0, "width": asset["width"], "height": int(first_bottom) + 10}
    r = admin.put(f"/api/assets/{ids['sign']}/edits", json={"edits": [{"action": "crop", "parameters": crop}]})
    assert r.status_code == 200, r.text
    jobs.drain(app.state.ctx, timeout=120)
    assert [line["text"] for line in admin.get(f"/api/assets/{ids['sign']}/ocr").json()] == ["Birthday Party 2024"]
    assert _ocr_search(admin, "eiffel") == set() and _ocr_search(admin, "birthday") == {ids["sign"]}
    assert admin.delete(f"/api/assets/{ids['sign']}/edits").status_code == 204
    jobs.drain(app.state.ctx, timeout=120)
    assert len(admin.get(f"/api/assets/{ids['sign']}/ocr").json()) == 2
    assert _ocr_search(admin, "eiffel") == {ids["sign"]}
