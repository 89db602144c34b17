"""socket.io at /api/socket.io: authenticated like HTTP, on_server_version on connect, upload events."""
from __future__ import annotations

import queue
from typing import Any

import httpx
import pytest
import socketio

from immich_lite import jobs
from immich_lite.app import create_app
from immich_lite.config import Settings
from tests.conftest import ADMIN, CORPUS
from tests.helpers.inproc import served


@pytest.fixture
def live(tmp_path: Any) -> Any:
    app = create_app(Settings(data_dir=str(tmp_path / "data"), workers=1))
    with served(app) as base:
        httpx.post(base + "/api/auth/admin-sign-up", json=ADMIN)
        token = httpx.post(base + "/api/auth/login", json={"email": ADMIN["email"],
                                                           "password": ADMIN["password"]}).json()["accessToken"]
        yield base, token, app.state.ctx


def _connect(base: str, headers: dict[str, str]) -> tuple[socketio.Client, "queue.Queue[tuple[str, Any]]"]:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    sio = socketio.Client(reconnection=False)
    for name in ("on_server_version", "on_upload_success", "AssetUploadReadyV2", "on_asset_trash",
                 "on_asset_delete"):
        sio.on(name, lambda data, name=name: events.put((name, data)))
    sio.connect(base, socketio_path="/api/socket.io", headers=headers, transports=["websocket"], wait_timeout=5)
    return sio, events


def _next(events: "queue.Queue[tuple[str, Any]]", name: str) -> Any:
    while True:
        got, data = events.get(timeout=10)
        if got == name:
            return data


def test_connect_with_cookie_gets_server_version(live: Any) -> None:
    base, token, _ = live
    sio, events = _connect(base, {"Cookie": f"immich_access_token={token}"})
    try:
        assert _next(events, "on_server_version") == {"major": 3, "minor": 1, "patch": 0, "prerelease": None}
    finally:
        sio.disconnect()


def test_connect_without_credentials_is_refused(live: Any) -> None:
    base, _, _ = live
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(base, {})


def test_upload_success_and_ready_events_after_thumbnails(live: Any) -> None:
    base, token, ctx = live
    sio, events = _connect(base, {"Authorization": f"Bearer {token}"})
    try:
        _next(events, "on_server_version")
        path = CORPUS / "jpeg" / "mongolia.jpeg"
        r = httpx.post(base + "/api/assets", headers={"Authorization": f"Bearer {token}"},
                       data={"fileCreatedAt": "2000-01-01T00:00:00.000Z", "fileModifiedAt": "2000-01-01T00:00:00.000Z"},
                       files={"assetData": (path.name, path.read_bytes(), "image/jpeg")})
        asset_id = r.json()["id"]
        jobs.drain(ctx)
        uploaded = _next(events, "on_upload_success")
        assert uploaded["id"] == asset_id and uploaded["thumbhash"]
        ready = _next(events, "AssetUploadReadyV2")
        assert ready["asset"]["id"] == asset_id and ready["exif"]["make"] == "NIKON CORPORATION"
        httpx.request("DELETE", base + "/api/assets", headers={"Authorization": f"Bearer {token}"},
                      json={"ids": [asset_id]})
        assert _next(events, "on_asset_trash") == [asset_id]
    finally:
        sio.disconnect()


def test_asset_delete_event_comes_once_the_asset_is_gone(live: Any) -> None:
    # upstream e2e "should permanently delete an asset": wait for on_asset_delete, then GET answers 400
    base, token, ctx = live
    auth = {"Authorization": f"Bearer {token}"}
    sio, events = _connect(base, auth)
    try:
        _next(events, "on_server_version")
        path = CORPUS / "jpeg" / "mongolia.jpeg"
        asset_id = httpx.post(base + "/api/assets", headers=auth, data={
            "fileCreatedAt": "2000-01-01T00:00:00.000Z", "fileModifiedAt": "2000-01-01T00:00:00.000Z"},
            files={"assetData": (path.name, path.read_bytes(), "image/jpeg")}).json()["id"]
        r = httpx.request("DELETE", base + "/api/assets", headers=auth, json={"ids": [asset_id], "force": True})
        assert r.status_code == 204
        assert _next(events, "on_asset_delete") == asset_id
        r = httpx.get(f"{base}/api/assets/{asset_id}", headers=auth)
        assert r.status_code == 400 and r.json() == {"message": "Not found or no asset.read access"}
        assert events.empty() or all(name != "on_asset_delete" for name, _ in list(events.queue))  # sent once
    finally:
        sio.disconnect()
