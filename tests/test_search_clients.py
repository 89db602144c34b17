"""Home Assistant's Immich integration (aioimmich, from PyPI) against a real `immich-lite serve`: it lists an
album's, a tag's, a person's and the favourite photos only through POST /search/metadata, page by page."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aioimmich import Immich

from tests.helpers.live import LiveServer, User, live_server, wait_for  # noqa: F401
from tests.test_timeline import tiny_jpeg


def _upload(user: User, n: int, **fields: str) -> list[str]:
    from tests.helpers.live import multipart

    out = []
    for i in range(n):
        ctype, body = multipart(tiny_jpeg(), f"ha-{i}.jpg", fields=fields)
        with user.server.client() as c:
            r = c.post("/api/assets", content=body, headers={**user.headers, "Content-Type": ctype})
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def test_home_assistant_lists_album_tag_person_and_favourites(live_server: LiveServer) -> None:
    admin = live_server.sign_up_admin()
    in_album = _upload(admin, 7)
    favourites = _upload(admin, 4, isFavorite="true")
    others = _upload(admin, 3)
    album = admin.post("/api/albums", json={"albumName": "Garden", "assetIds": in_album}).json()["id"]
    tag = admin.post("/api/tags", json={"name": "birds"}).json()["id"]
    assert admin.request("PUT", f"/api/tags/{tag}/assets", json={"ids": others + favourites[:1]}).status_code == 200
    person = admin.post("/api/people", json={"name": "Grandma"}).json()["id"]
    for asset in in_album[:5]:
        r = admin.post("/api/faces", json={"assetId": asset, "personId": person, "imageWidth": 12, "imageHeight": 6,
                                            "x": 1, "y": 1, "width": 3, "height": 3})
        assert r.status_code in (200, 201, 204), r.text
    key = admin.post("/api/api-keys", json={"name": "home-assistant", "permissions": ["all"]}).json()["secret"]
    wait_for(lambda: all(q["statistics"]["active"] + q["statistics"]["waiting"] == 0
                         for q in admin.get("/api/queues").json()), 60, 0.1, "jobs to finish")

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            immich = Immich(session, key, "127.0.0.1", live_server.port, use_ssl=False)
            await immich.async_setup()
            albums = await immich.albums.async_get_all_albums()
            return {
                "albums": [a.album_id for a in albums],
                "album": await immich.search.async_get_all_by_album_ids([album], page_size=3),
                "tag": await immich.search.async_get_all_by_tag_ids([tag], page_size=2),
                "person": await immich.search.async_get_all_by_person_ids([person], page_size=2),
                "favourites": await immich.search.async_get_all_favorites(page_size=3),
                "all": await immich.search.async_get_all(page_size=5),
                "people": await immich.search.async_search_persons("grand"),
            }

    got = asyncio.run(run())
    assert got["albums"] == [album]
    assert sorted(a.asset_id for a in got["album"]) == sorted(in_album)  # 7 assets over 3 pages of 3
    assert sorted(a.asset_id for a in got["tag"]) == sorted(others + favourites[:1])
    assert sorted(a.asset_id for a in got["person"]) == sorted(in_album[:5])
    assert sorted(a.asset_id for a in got["favourites"]) == sorted(favourites)
    assert len(got["all"]) == 14 and len({a.asset_id for a in got["all"]}) == 14
    assert [p.name for p in got["people"]] == ["Grandma"]
