"""camelCase mapper for notifications (NotificationDto)."""
from __future__ import annotations

import json
from typing import Any


def map_notification(row: dict[str, Any]) -> dict[str, Any]:
    """Immich: mapNotification: description, data and readAt are left out when empty."""
    out: dict[str, Any] = {
        "id": row["id"],
        "createdAt": row["created_at"],
        "level": row["level"],
        "type": row["type"],
        "title": row["title"],
    }
    if row["description"] is not None:
        out["description"] = row["description"]
    if row["data"] is not None:
        out["data"] = json.loads(row["data"])
    if row["read_at"] is not None:
        out["readAt"] = row["read_at"]
    return out
