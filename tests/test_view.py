"""Folder view: unique original-path directories and the assets directly inside one."""
from __future__ import annotations

import os
from typing import Any

from tests.conftest import CORPUS, Actor, assert_schema, make_user
from tests.helpers.upload import upload

PNG = (CORPUS / "png" / "png.png").read_bytes()


def _asset(actor: Actor) -> dict[str, Any]:
    r = upload(actor, data=PNG + os.urandom(16), filename="v.png")
    assert r.status_code == 201, r.text
    return actor.get(f"/api/assets/{r.json()['id']}").json()


def test_unique_paths_and_folder_assets(client, admin: Actor) -> None:
    other = make_user(client, admin)
    assets = [_asset(admin) for _ in range(3)]
    theirs = _asset(other)
    dirs = {a["originalPath"].rsplit("/", 1)[0] for a in assets}
    paths = assert_schema(admin.get("/api/view/folder/unique-paths"), "getUniqueOriginalPaths")
    assert set(paths) == dirs and paths == sorted(paths)
    assert theirs["originalPath"].rsplit("/", 1)[0] not in paths
    target = assets[0]["originalPath"].rsplit("/", 1)[0]
    expected = sorted((a for a in assets if a["originalPath"].rsplit("/", 1)[0] == target),
                      key=lambda a: a["originalPath"].rsplit("/", 1)[1])
    for query in (target, target + "/"):
        body = assert_schema(admin.get("/api/view/folder", params={"path": query}), "getAssetsByOriginalPath")
        assert [a["id"] for a in body] == [a["id"] for a in expected]
    # a parent folder lists no assets directly (they live deeper), and other users see nothing here
    parent = target.rsplit("/", 1)[0]
    assert admin.get("/api/view/folder", params={"path": parent}).json() == []
    assert other.get("/api/view/folder", params={"path": target}).json() == []


def test_archived_and_trashed_are_left_out(admin: Actor) -> None:
    a, b = _asset(admin), _asset(admin)
    admin.put("/api/assets", json={"ids": [a["id"]], "visibility": "archive"})
    admin.delete("/api/assets", json={"ids": [b["id"]]})
    assert admin.get("/api/view/folder/unique-paths").json() == []
    folder = a["originalPath"].rsplit("/", 1)[0]
    assert admin.get("/api/view/folder", params={"path": folder}).json() == []
