"""User preferences: upstream defaults, deep merge of partial updates, and storing only what differs.

Immich: server/src/utils/preferences.ts. Preferences live in user_metadata under key 'preferences' as the
*partial* object of non-default leaves, so a changed default reaches every user who never touched it.
"""
from __future__ import annotations

import copy
from typing import Any

from immich_lite.auth import AuthContext
from immich_lite.ctx import Ctx
from immich_lite.repos import user as user_repo

KEY = "preferences"
GIB = 1024**3

# Immich: utils/preferences.ts getDefaultPreferences (hideBuyButtonUntil = new Date(2022, 1, 12), server in UTC)
DEFAULTS: dict[str, Any] = {
    "albums": {"defaultAssetOrder": "desc"},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5},
    "people": {"enabled": True, "sidebarWeb": False, "minimumFaces": 3},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "ratings": {"enabled": False},
    "tags": {"enabled": False, "sidebarWeb": False},
    "emailNotifications": {"enabled": True, "albumInvite": True, "albumUpdate": True},
    "download": {"archiveSize": 4 * GIB, "includeEmbeddedVideos": False},
    "purchase": {"showSupportBadge": True, "hideBuyButtonUntil": "2022-02-12T00:00:00.000Z"},
    "cast": {"gCastEnabled": False},
    "recentlyAdded": {"sidebarWeb": False},
}


def _leaves(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) for every non-object leaf, as upstream getKeysDeep (None values count, absent ones don't)."""
    if not isinstance(obj, dict):
        return []
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out.extend(_leaves(value, (*path, key)))
        else:
            out.append(((*path, key), value))
    return out


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        nxt = obj.get(key)
        if not isinstance(nxt, dict):
            nxt = obj[key] = {}
        obj = nxt
    obj[path[-1]] = value


def resolve(stored: Any) -> dict[str, Any]:
    """Defaults overlaid with the stored partial (upstream getPreferences)."""
    prefs = copy.deepcopy(DEFAULTS)
    for path, value in _leaves(stored or {}):
        _set(prefs, path, value)
    return prefs


def merge(prefs: dict[str, Any], dto: dict[str, Any]) -> dict[str, Any]:
    """Apply every leaf of a partial update (upstream mergePreferences)."""
    out = copy.deepcopy(prefs)
    for path, value in _leaves(dto):
        _set(out, path, value)
    return out


def partial(prefs: dict[str, Any]) -> dict[str, Any]:
    """Only the leaves that differ from the defaults and are not empty (upstream getPreferencesPartial)."""
    out: dict[str, Any] = {}
    for path, default in _leaves(DEFAULTS):
        value = _get(prefs, path)
        if value in (None, "") or value == default:
            continue
        _set(out, path, value)
    return out


def to_response(prefs: dict[str, Any]) -> dict[str, Any]:
    """UserPreferencesResponseDto: the known sections only (an `avatar` update is accepted but never stored)."""
    return {key: prefs[key] for key in DEFAULTS}


def get_for_user(ctx: Ctx, user_id: str) -> dict[str, Any]:
    return to_response(resolve(user_repo.get_metadata(ctx.db.reader(), user_id, KEY)))


def update_for_user(ctx: Ctx, user_id: str, dto: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        updated = merge(resolve(user_repo.get_metadata(conn, user_id, KEY)), dto)
        user_repo.set_metadata(conn, user_id, KEY, partial(updated))
    return to_response(updated)


def get_mine(ctx: Ctx, auth: AuthContext) -> dict[str, Any]:
    return get_for_user(ctx, auth.user_id)


def update_mine(ctx: Ctx, auth: AuthContext, dto: dict[str, Any]) -> dict[str, Any]:
    return update_for_user(ctx, auth.user_id, dto)
