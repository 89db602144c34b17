"""System config: upstream defaults merged with the admin's stored overrides (system_metadata 'system-config')."""
from __future__ import annotations

import copy
from typing import Any

from immich_lite.ctx import Ctx
from immich_lite.repos import system_metadata

# Filled out completely by the system-config work; login only needs this part today.
DEFAULTS: dict[str, Any] = {
    "passwordLogin": {"enabled": True},
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def get_config(ctx: Ctx) -> dict[str, Any]:
    stored = system_metadata.get(ctx.db.reader(), "system-config") or {}
    return _merge(DEFAULTS, stored)
