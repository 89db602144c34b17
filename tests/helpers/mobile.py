"""A sync client that behaves like the Immich mobile app (mobile/lib/domain/services/sync_stream.service.dart).

Cookie auth, the 3.x request type list, lines processed in groups of consecutive same-type lines, one ack per
group (its last ack), and a local store of what the app would keep in its database.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tests.helpers.schema import validator_for_schema

APP_TYPES = ["AuthUsersV1", "UsersV1", "AssetsV2", "AssetExifsV1", "AssetEditsV1", "AssetMetadataV1", "PartnersV1",
             "PartnerAssetsV2", "PartnerAssetExifsV1", "AlbumsV2", "AlbumUsersV1", "AlbumAssetsV2",
             "AlbumAssetExifsV1", "AlbumToAssetsV1", "MemoriesV1", "MemoryToAssetsV1", "StacksV1", "PartnerStacksV1",
             "UserMetadataV1", "PeopleV1", "AssetFacesV2", "AssetOcrV1"]

# entity type → the spec schema its data must match
SCHEMA = {"AuthUserV1": "SyncAuthUserV1", "UserV1": "SyncUserV1", "UserDeleteV1": "SyncUserDeleteV1",
          "AssetV2": "SyncAssetV2", "AssetDeleteV1": "SyncAssetDeleteV1", "AssetExifV1": "SyncAssetExifV1",
          "AssetMetadataV1": "SyncAssetMetadataV1", "AssetMetadataDeleteV1": "SyncAssetMetadataDeleteV1",
          "PartnerV1": "SyncPartnerV1", "PartnerDeleteV1": "SyncPartnerDeleteV1",
          "PartnerAssetV2": "SyncAssetV2", "PartnerAssetBackfillV2": "SyncAssetV2",
          "PartnerAssetDeleteV1": "SyncAssetDeleteV1", "PartnerAssetExifV1": "SyncAssetExifV1",
          "PartnerAssetExifBackfillV1": "SyncAssetExifV1", "AlbumV2": "SyncAlbumV2", "AlbumDeleteV1": "SyncAlbumDeleteV1",
          "AlbumUserV1": "SyncAlbumUserV1", "AlbumUserBackfillV1": "SyncAlbumUserV1",
          "AlbumUserDeleteV1": "SyncAlbumUserDeleteV1", "AlbumAssetCreateV2": "SyncAssetV2",
          "AlbumAssetUpdateV2": "SyncAssetV2", "AlbumAssetBackfillV2": "SyncAssetV2",
          "AlbumAssetExifCreateV1": "SyncAssetExifV1", "AlbumAssetExifUpdateV1": "SyncAssetExifV1",
          "AlbumAssetExifBackfillV1": "SyncAssetExifV1", "AlbumToAssetV1": "SyncAlbumToAssetV1",
          "AlbumToAssetBackfillV1": "SyncAlbumToAssetV1", "AlbumToAssetDeleteV1": "SyncAlbumToAssetDeleteV1",
          "StackV1": "SyncStackV1", "StackDeleteV1": "SyncStackDeleteV1", "PartnerStackV1": "SyncStackV1",
          "PartnerStackDeleteV1": "SyncStackDeleteV1", "MemoryV1": "SyncMemoryV1", "MemoryDeleteV1": "SyncMemoryDeleteV1",
          "MemoryToAssetV1": "SyncMemoryAssetV1", "MemoryToAssetDeleteV1": "SyncMemoryAssetDeleteV1",
          "AssetFaceDeleteV1": "SyncAssetFaceDeleteV1", "UserMetadataDeleteV1": "SyncUserMetadataDeleteV1",
          "PersonV1": "SyncPersonV1", "PersonDeleteV1": "SyncPersonDeleteV1", "AssetFaceV2": "SyncAssetFaceV2",
          "UserMetadataV1": "SyncUserMetadataV1", "AssetEditV1": "SyncAssetEditV1",
          "AssetEditDeleteV1": "SyncAssetEditDeleteV1", "AssetOcrV1": "SyncAssetOcrV1",
          "AssetOcrDeleteV1": "SyncAssetOcrDeleteV1", "SyncAckV1": "SyncAckV1", "SyncCompleteV1": "SyncCompleteV1",
          "SyncResetV1": "SyncResetV1"}


class MobileApp:
    def __init__(self, client: Any, token: str):
        self.client, self.token = client, token
        self.assets: dict[str, dict[str, Any]] = {}
        self.partner_assets: dict[str, dict[str, Any]] = {}
        self.exif: dict[str, dict[str, Any]] = {}
        self.albums: dict[str, dict[str, Any]] = {}
        self.album_assets: set[tuple[str, str]] = set()
        self.partners: set[tuple[str, str]] = set()
        self.seen: list[dict[str, Any]] = []  # every line of the last sync
        self.resets = 0

    def _post(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, cookies={"immich_access_token": self.token})

    def sync(self, types: list[str] | None = None, abort_after: int | None = None) -> list[dict[str, Any]]:
        """One sync round; `abort_after` drops the connection after that many lines (acks nothing past it)."""
        resp = self._post("/api/sync/stream", {"types": types or APP_TYPES})
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/jsonlines+json")
        lines = [json.loads(x) for x in resp.text.splitlines() if x]
        if abort_after is not None:
            lines = lines[:abort_after]
        self.seen = lines
        group: list[dict[str, Any]] = []
        for item in lines:
            if group and item["type"] != group[-1]["type"]:
                self._apply(group)
                group = []
            group.append(item)
        if group and (abort_after is None or group[-1]["type"] == "SyncCompleteV1"):
            self._apply(group)
        return lines

    def _apply(self, group: list[dict[str, Any]]) -> None:
        type_ = group[0]["type"]
        for item in group:
            errors = list(validator_for_schema(SCHEMA[type_]).iter_errors(item["data"]))
            assert not errors, f"{type_}: {errors[0].message} at {list(errors[0].absolute_path)}"
            self._store(type_, item["data"])
        if type_ == "SyncResetV1":  # the app wipes its local database
            resets = self.resets + 1
            self.__init__(self.client, self.token)  # type: ignore[misc]
            self.resets = resets
        r = self._post("/api/sync/ack", {"acks": [group[-1]["ack"]]})
        assert r.status_code == 204, r.text

    def _store(self, type_: str, d: dict[str, Any]) -> None:
        if type_ == "AssetV2":
            self.assets[d["id"]] = d
        elif type_ == "AssetDeleteV1":
            self.assets.pop(d["assetId"], None)
        elif type_ in ("PartnerAssetV2", "PartnerAssetBackfillV2", "AlbumAssetCreateV2", "AlbumAssetUpdateV2",
                       "AlbumAssetBackfillV2"):
            self.partner_assets[d["id"]] = d
        elif type_ == "PartnerAssetDeleteV1":
            self.partner_assets.pop(d["assetId"], None)
        elif type_.endswith("ExifV1") or "Exif" in type_:
            self.exif[d["assetId"]] = d
        elif type_ == "AlbumV2":
            self.albums[d["id"]] = d
        elif type_ == "AlbumDeleteV1":
            self.albums.pop(d["albumId"], None)
        elif type_ in ("AlbumToAssetV1", "AlbumToAssetBackfillV1"):
            self.album_assets.add((d["albumId"], d["assetId"]))
        elif type_ == "AlbumToAssetDeleteV1":
            self.album_assets.discard((d["albumId"], d["assetId"]))
        elif type_ == "PartnerV1":
            self.partners.add((d["sharedById"], d["sharedWithId"]))
        elif type_ == "PartnerDeleteV1":
            self.partners.discard((d["sharedById"], d["sharedWithId"]))

    def types_seen(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for item in self.seen:
            out[item["type"]] += 1
        return dict(out)
