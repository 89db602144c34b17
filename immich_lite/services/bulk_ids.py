"""Per-id results for adding assets to / removing them from a collection (album, tag, memory):
upstream asset.util addAssets/removeAssets, decided once here; callers apply the returned ids."""
from __future__ import annotations

from typing import Any


def plan_add(ids: list[str], existing: set[str], allowed: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """(BulkIdResponseDto list, ids to add): duplicates and ids the caller may not share are reported, not added."""
    seen = set(existing)
    results: list[dict[str, Any]] = []
    added: list[str] = []
    for asset_id in ids:
        if asset_id in seen:
            results.append({"id": asset_id, "success": False, "error": "duplicate"})
        elif asset_id not in allowed:
            results.append({"id": asset_id, "success": False, "error": "no_permission"})
        else:
            seen.add(asset_id)
            added.append(asset_id)
            results.append({"id": asset_id, "success": True})
    return results, added


def plan_remove(ids: list[str], existing: set[str], allowed: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """(BulkIdResponseDto list, ids to remove): absent ids are not_found, others' assets no_permission."""
    present = set(existing)
    results: list[dict[str, Any]] = []
    removed: list[str] = []
    for asset_id in ids:
        if asset_id not in present:
            results.append({"id": asset_id, "success": False, "error": "not_found"})
        elif asset_id not in allowed:
            results.append({"id": asset_id, "success": False, "error": "no_permission"})
        else:
            present.discard(asset_id)
            removed.append(asset_id)
            results.append({"id": asset_id, "success": True})
    return results, removed
