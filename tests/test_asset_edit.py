"""Non-destructive edits: PUT/GET/DELETE /assets/{id}/edits, the edited renditions, serving, sync and events."""
from __future__ import annotations

import hashlib
from typing import Any

import pyvips

from immich_lite import jobs
from tests.conftest import CORPUS, Actor, assert_error, assert_invalid, assert_schema, login, make_user
from tests.helpers.mobile import MobileApp
from tests.helpers.schema import validator_for_schema
from tests.helpers.upload import upload

ROTATED = CORPUS / "orientation/landscape_6.jpg"  # stored 450x600, EXIF orientation 6: shown 600x450
UPRIGHT = CORPUS / "orientation/landscape_1.jpg"  # the same photo stored upright
CROP = {"action": "crop", "parameters": {"x": 40, "y": 30, "width": 300, "height": 200}}
ROTATE = {"action": "rotate", "parameters": {"angle": 90}}
MIRROR = {"action": "mirror", "parameters": {"axis": "horizontal"}}


def _asset(actor: Actor, ctx: Any, path: Any = ROTATED) -> str:
    asset_id = upload(actor, path).json()["id"]
    jobs.drain(ctx)
    return asset_id


def _image(resp: Any) -> pyvips.Image:
    assert resp.status_code == 200, resp.text
    return pyvips.Image.new_from_buffer(resp.content, "")


def _files(ctx: Any, asset_id: str) -> dict[tuple[str, int], str]:
    rows = ctx.db.reader().execute("SELECT type, is_edited, path FROM asset_file WHERE asset_id = ?", (asset_id,))
    return {(r["type"], r["is_edited"]): r["path"] for r in rows}


def _diff(a: pyvips.Image, b: pyvips.Image) -> float:
    if (a.width, a.height) != (b.width, b.height):
        return 255.0
    return float((a.extract_band(0, n=3).cast("float") - b.extract_band(0, n=3).cast("float")).abs().avg())


def test_edit_round_trip_renders_edited_files(admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    before = admin.get(f"/api/assets/{a}").json()
    assert (before["width"], before["height"], before["isEdited"]) == (600, 450, False)

    r = admin.put(f"/api/assets/{a}/edits", json={"edits": [CROP, ROTATE, MIRROR]})
    body = assert_schema(r, "editAsset")
    assert body["assetId"] == a
    assert [(e["action"], e["parameters"]) for e in body["edits"]] == [
        (e["action"], e["parameters"]) for e in (CROP, ROTATE, MIRROR)]
    assert assert_schema(admin.get(f"/api/assets/{a}/edits"), "getAssetEdits") == body
    assert admin.get(f"/api/assets/{a}").json()["isEdited"] is True  # at once, before the job ran

    jobs.drain(ctx)
    info = admin.get(f"/api/assets/{a}").json()
    assert (info["width"], info["height"]) == (200, 300)  # crop 300x200, then a quarter turn
    assert info["thumbhash"] != before["thumbhash"]
    files = _files(ctx, a)
    for kind, ext in (("preview", "jpeg"), ("thumbnail", "webp"), ("fullsize", "jpeg")):
        assert files[(kind, 1)].endswith(f"{a}_{kind}_edited.{ext}")
    for size in ("preview", "thumbnail", "fullsize"):
        im = _image(admin.get(f"/api/assets/{a}/thumbnail", params={"size": size, "edited": "true"}))
        assert (im.width, im.height) == (200, 300), size
    # edited=false (the default) keeps serving the unedited renditions and the untouched original
    im = _image(admin.get(f"/api/assets/{a}/thumbnail", params={"size": "preview", "edited": "false"}))
    assert (im.width, im.height) == (600, 450)
    r = admin.get(f"/api/assets/{a}/thumbnail?size=fullsize", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith(f"/api/assets/{a}/original")
    original = admin.get(f"/api/assets/{a}/original")
    assert hashlib.sha1(original.content).digest() == hashlib.sha1(ROTATED.read_bytes()).digest()  # noqa: S324
    edited = admin.get(f"/api/assets/{a}/original", params={"edited": "true"})
    assert (_image(edited).width, _image(edited).height) == (200, 300)
    assert edited.headers["content-disposition"].endswith("landscape_6.jpeg")

    # a new PUT replaces the whole list
    body2 = admin.put(f"/api/assets/{a}/edits", json={"edits": [{"action": "rotate", "parameters": {"angle": 180}}]})
    assert [e["action"] for e in body2.json()["edits"]] == ["rotate"]
    assert body2.json()["edits"][0]["id"] not in {e["id"] for e in body["edits"]}
    jobs.drain(ctx)
    info = admin.get(f"/api/assets/{a}").json()
    assert (info["width"], info["height"]) == (600, 450)


def test_pixels_follow_orientation_then_crop_rotate_mirror(admin: Actor, ctx: Any) -> None:
    """The sideways-stored photo and its upright twin give the same edited picture; the transform is crop, then a
    clockwise quarter turn, then a left-right mirror (checked against the wrong alternatives)."""
    rotated, upright = _asset(admin, ctx, ROTATED), _asset(admin, ctx, UPRIGHT)
    for a in (rotated, upright):
        assert admin.put(f"/api/assets/{a}/edits", json={"edits": [CROP, ROTATE, MIRROR]}).status_code == 200
    jobs.drain(ctx)
    got = {a: _image(admin.get(f"/api/assets/{a}/original", params={"edited": "true"})).colourspace("srgb")
           for a in (rotated, upright)}
    assert _diff(got[rotated], got[upright]) < 20  # the two files differ by ~14 per pixel as decoded; a wrong
    # orientation or transform gives ~100

    src = pyvips.Image.new_from_file(str(UPRIGHT)).crop(40, 30, 300, 200)
    candidates = {"expected": src.rot("d90").fliphor(), "counter-clockwise": src.rot("d270").fliphor(),
                  "vertical mirror": src.rot("d90").flipver(), "mirror first": src.fliphor().rot("d90")}
    scores = {name: _diff(got[upright], im) for name, im in candidates.items()}
    assert scores["expected"] < 10, scores
    assert all(scores["expected"] * 3 < v for k, v in scores.items() if k != "expected"), scores


def test_validation_follows_upstream(admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    url = f"/api/assets/{a}/edits"
    # bounds are those of the oriented image (600x450), not of the stored pixels (450x600)
    assert admin.put(url, json={"edits": [{"action": "crop", "parameters":
                                           {"x": 0, "y": 0, "width": 600, "height": 450}}]}).status_code == 200
    assert_error(admin.put(url, json={"edits": [{"action": "crop", "parameters":
                                                 {"x": 0, "y": 0, "width": 450, "height": 600}}]}),
                 400, "Crop parameters are out of bounds")
    assert_error(admin.put(url, json={"edits": [{"action": "crop", "parameters":
                                                 {"x": 301, "y": 0, "width": 300, "height": 10}}]}),
                 400, "Crop parameters are out of bounds")
    assert_error(admin.put(url, json={"edits": [ROTATE, CROP]}), 400, "Crop action must be the first edit action")
    assert_invalid(admin.put(url, json={"edits": [{"action": "rotate", "parameters": {"angle": 45}}]}),
                   (["edits", 0, "parameters", "angle"], "Angle must be one of the following values: 0, 90, 180, 270"))
    assert_invalid(admin.put(url, json={"edits": [{"action": "rotate", "parameters": {"axis": "vertical"}}]}),
                   (["edits", 0, "parameters"], "Invalid parameters for action 'rotate', expecting keys: angle"))
    assert_invalid(admin.put(url, json={"edits": [ROTATE, {"action": "rotate", "parameters": {"angle": 180}}]}),
                   (["edits"], "Duplicate edit actions are not allowed"))
    both = [MIRROR, {"action": "mirror", "parameters": {"axis": "vertical"}}]
    assert admin.put(url, json={"edits": both}).status_code == 200  # one mirror per axis is fine
    assert_error(admin.put(url, json={"edits": []}), 400)
    video = _asset(admin, ctx, CORPUS / "video/with-gps.mp4")
    assert_error(admin.put(f"/api/assets/{video}/edits", json={"edits": [ROTATE]}), 400, "Only images can be edited")
    gif = upload(admin, CORPUS / "gif/gif.gif").json()["id"]
    jobs.drain(ctx)
    assert_error(admin.put(f"/api/assets/{gif}/edits", json={"edits": [ROTATE]}), 400,
                 "Editing GIF images is not supported")


def test_only_the_owner_edits(client: Any, admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    other = make_user(client, admin)
    assert_error(other.put(f"/api/assets/{a}/edits", json={"edits": [ROTATE]}), 400,
                 "Not found or no asset.edit.create access")
    assert_error(other.delete(f"/api/assets/{a}/edits"), 400, "Not found or no asset.edit.delete access")
    assert_error(other.get(f"/api/assets/{a}/edits"), 400, "Not found or no asset.read access")
    assert admin.get(f"/api/assets/{a}/edits").json() == {"assetId": a, "edits": []}


def test_delete_restores_the_unedited_asset(admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    before = admin.get(f"/api/assets/{a}").json()
    admin.put(f"/api/assets/{a}/edits", json={"edits": [CROP, ROTATE]})
    jobs.drain(ctx)
    edited_paths = [ctx.storage.absolute(p) for (kind, e), p in _files(ctx, a).items() if e]
    assert len(edited_paths) == 3 and all(p.exists() for p in edited_paths)

    assert admin.delete(f"/api/assets/{a}/edits").status_code == 204
    assert not any(p.exists() for p in edited_paths)  # gone at once, not after the job
    assert all(e == 0 for _, e in _files(ctx, a))
    assert admin.get(f"/api/assets/{a}/edits").json() == {"assetId": a, "edits": []}
    assert admin.get(f"/api/assets/{a}").json()["isEdited"] is False
    im = _image(admin.get(f"/api/assets/{a}/thumbnail", params={"size": "preview", "edited": "true"}))
    assert (im.width, im.height) == (600, 450)  # edited=true falls back to the unedited rendition
    jobs.drain(ctx)
    after = admin.get(f"/api/assets/{a}").json()
    assert (after["width"], after["height"], after["thumbhash"]) == (600, 450, before["thumbhash"])


def test_sync_streams_edits_then_their_deletion(client: Any, admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    app = MobileApp(client, login(client, admin.email, admin.password)["accessToken"])
    app.sync()
    assert "AssetEditV1" not in app.types_seen()

    made = admin.put(f"/api/assets/{a}/edits", json={"edits": [CROP, MIRROR]}).json()["edits"]
    jobs.drain(ctx)
    lines = app.sync()
    edits = [x["data"] for x in lines if x["type"] == "AssetEditV1"]
    assert [(e["id"], e["assetId"], e["action"], e["parameters"], e["sequence"]) for e in edits] == [
        (m["id"], a, m["action"], m["parameters"], i) for i, m in enumerate(made)]
    assert app.assets[a]["isEdited"] is True and (app.assets[a]["width"], app.assets[a]["height"]) == (300, 200)
    assert [x["type"] for x in app.sync()] == ["SyncCompleteV1"]  # acked: not sent again

    admin.delete(f"/api/assets/{a}/edits")
    jobs.drain(ctx)
    lines = app.sync()
    types = [x["type"] for x in lines]
    deleted = [x["data"]["editId"] for x in lines if x["type"] == "AssetEditDeleteV1"]
    assert sorted(deleted) == sorted(m["id"] for m in made)
    assert "AssetEditV1" not in types
    assert app.assets[a]["isEdited"] is False


def test_edit_ready_event_after_the_job(admin: Actor, ctx: Any) -> None:
    a = _asset(admin, ctx)
    seen: list[tuple[str, str, Any]] = []
    ctx.events.subscribe(lambda event, room, payload: seen.append((event, room, payload)))
    admin.put(f"/api/assets/{a}/edits", json={"edits": [ROTATE]})
    jobs.drain(ctx)
    ready = [(room, p) for event, room, p in seen if event == "AssetEditReadyV2"]
    assert len(ready) == 1 and ready[0][0] == admin.id
    payload = ready[0][1]
    assert not list(validator_for_schema("SyncAssetV2").iter_errors(payload["asset"]))
    asset = payload["asset"]
    assert asset["isEdited"] is True and (asset["width"], asset["height"]) == (450, 600)
    assert len(payload["edit"]) == 1
    assert not list(validator_for_schema("SyncAssetEditV1").iter_errors(payload["edit"][0]))
