"""A fresh app under TestClient with the admin signed up and logged in (module-scoped library fixtures)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from immich_lite.app import create_app
from immich_lite.config import Settings
from tests.conftest import ADMIN, Actor, login


@contextmanager
def admin_app(data_dir: Path, *, workers: int) -> Iterator[tuple[Any, Actor]]:
    """(app, admin) for an app whose data lives in `data_dir`; the client closes (and the app stops) on exit."""
    app = create_app(Settings(data_dir=str(data_dir), workers=workers))
    with TestClient(app) as client:
        client.post("/api/auth/admin-sign-up", json=ADMIN)
        data = login(client, ADMIN["email"], ADMIN["password"])
        yield app, Actor(client, data["accessToken"], data["userId"], ADMIN["email"], ADMIN["password"])
