"""SharedLinkResponseDto mapper (upstream mapSharedLink)."""
from __future__ import annotations

import base64
from typing import Any


def key_text(key: bytes) -> str:
    """The key as clients see it: base64url without padding (upstream `key.toString('base64url')`)."""
    return base64.urlsafe_b64encode(bytes(key)).decode().rstrip("=")


def map_shared_link(link: dict[str, Any], *, assets: list[dict[str, Any]], album: dict[str, Any] | None,
                    show_password: bool) -> dict[str, Any]:
    """`assets`/`album` are already-mapped DTOs. The password is only ever shown to the link's owner."""
    out: dict[str, Any] = {
        "id": link["id"],
        "description": link["description"],
        "password": link["password"] if show_password else None,
        "userId": link["user_id"],
        "key": key_text(link["key"]),
        "type": link["type"],
        "createdAt": link["created_at"],
        "expiresAt": link["expires_at"],
        "assets": assets,
        "allowUpload": bool(link["allow_upload"]),
        "allowDownload": bool(link["allow_download"]),
        "showMetadata": bool(link["show_exif"]),
        "slug": link["slug"],
    }
    if album is not None:
        # Immich: "unless we select sharedLink.album.sharedLinks this will be wrong" — it is shared by this link
        out["album"] = {**album, "hasSharedLink": True, "shared": True}
        if not link["show_exif"]:
            # a link without metadata must not reveal who is behind it (issue #12835); the schema needs one
            # member with an email-shaped value, so the owner's address is replaced by a reserved, unroutable one
            out["album"]["albumUsers"] = [
                {**u, "user": {**u["user"], "email": REDACTED_EMAIL}} for u in out["album"]["albumUsers"]]
    return out


REDACTED_EMAIL = "hidden@redacted.invalid"
