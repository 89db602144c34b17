"""API keys: a key never grants what its creator lacks (GHSA-237r-x578-h5mv)."""
from __future__ import annotations

import json
from typing import Any

from immich_lite import auth as authn
from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.errors import BadRequest, Forbidden
from immich_lite.repos import api_key as repo


def map_key(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "createdAt": row["created_at"], "updatedAt": row["updated_at"],
            "permissions": json.loads(row["permissions"])}


def _check_grant(auth: AuthContext, permissions: list[str]) -> None:
    if auth.api_key is not None and not authn.has_permissions(auth.permissions, permissions):
        raise BadRequest("Cannot grant permissions you do not have")


def create(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    permissions = list(dict.fromkeys(dto["permissions"]))
    _check_grant(auth, permissions)
    secret = authn.new_token()
    with ctx.db.write() as conn:
        row = repo.insert(conn, user_id=auth.user_id, name=dto.get("name") or "API Key",
                          key_hash=authn.sha256(secret), permissions=permissions)
    return {"secret": secret, "apiKey": map_key(row)}


def _get_own(conn: Any, auth: AuthContext, key_id: str) -> dict[str, Any]:
    row = repo.get(conn, auth.user_id, key_id)
    if not row:
        raise BadRequest("API Key not found")
    return row


def update(ctx: Ctx, auth: AuthContext, key_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if dto.get("name") is not None:
        values["name"] = dto["name"]
    if dto.get("permissions") is not None:
        _check_grant(auth, dto["permissions"])
        values["permissions"] = list(dict.fromkeys(dto["permissions"]))
    with ctx.db.write() as conn:
        _get_own(conn, auth, key_id)
        if values:
            repo.update(conn, key_id, **values)
        row = _get_own(conn, auth, key_id)
    return map_key(row)


def delete(ctx: Ctx, auth: AuthContext, key_id: str) -> None:
    with ctx.db.write() as conn:
        _get_own(conn, auth, key_id)
        repo.delete(conn, key_id)


def get_by_id(ctx: Ctx, auth: AuthContext, key_id: str) -> dict[str, Any]:
    return map_key(_get_own(ctx.db.reader(), auth, key_id))


def get_all(ctx: Ctx, auth: AuthContext) -> list[dict[str, Any]]:
    return [map_key(r) for r in repo.list_by_user(ctx.db.reader(), auth.user_id)]


def get_mine(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    if auth.api_key is None:
        raise Forbidden("Not authenticated with an API Key")
    return map_key(auth.api_key)
