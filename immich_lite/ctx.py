"""The small bundle of collaborators every service receives (replaces Immich's 50-repo BaseService)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from immich_lite.config import Settings
from immich_lite.db import Database
from immich_lite.storage import Storage


@dataclass
class Ctx:
    settings: Settings
    db: Database
    storage: Storage
    jobs: Any = None     # immich_lite.jobs.JobRunner, once the photos pipeline is wired
    events: Any = None   # immich_lite.events.Events (websocket fan-out)
    extra: dict[str, Any] = field(default_factory=dict)
