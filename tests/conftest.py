"""Fixtures: a real app on a real SQLite file in a tmp dir, driven through HTTP."""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")
from starlette.testclient import TestClient  # noqa: E402

import immich_lite.auth  # noqa: E402
from immich_lite.app import create_app  # noqa: E402

# Real bcrypt, cheaper work factor: hundreds of tests sign up and log in. The product keeps cost 10.
immich_lite.auth.SALT_ROUNDS = 4
from immich_lite.config import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"

ADMIN = {"email": "admin@immich.cloud", "name": "Immich Admin", "password": "admin-password"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), workers=1)


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def ctx(app: Any) -> Any:
    return app.state.ctx


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def login(client: TestClient, email: str, password: str) -> dict[str, Any]:
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    client.cookies.clear()  # tests pass credentials explicitly
    return r.json()


class Actor:
    """A logged-in caller: `actor.get(path)` sends its bearer token."""

    def __init__(self, client: TestClient, token: str, user_id: str, email: str, password: str):
        self.client, self.token, self.id, self.email, self.password = client, token, user_id, email, password

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def admin(client: TestClient) -> Actor:
    r = client.post("/api/auth/admin-sign-up", json=ADMIN)
    assert r.status_code == 201, r.text
    data = login(client, ADMIN["email"], ADMIN["password"])
    return Actor(client, data["accessToken"], data["userId"], ADMIN["email"], ADMIN["password"])


def make_user(client: TestClient, admin: Actor, email: str = "user1@immich.cloud", name: str = "User One",
              password: str = "user-password") -> Actor:
    r = admin.post("/api/admin/users", json={"email": email, "name": name, "password": password})
    assert r.status_code == 201, r.text
    data = login(client, email, password)
    return Actor(client, data["accessToken"], data["userId"], email, password)


@pytest.fixture
def user(client: TestClient, admin: Actor) -> Actor:
    return make_user(client, admin)


def assert_error(resp: Any, status: int, message: Any = None) -> dict[str, Any]:
    """Immich 3.1.0's error shape: only {"message"} (validation failures: {"message": "Validation failed",
    "errors": [zod issues]}), the correlation id in the X-Correlation-ID header."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) in ({"message"}, {"message", "errors"}), body
    assert resp.headers.get("x-correlation-id"), resp.headers
    if message is not None:
        assert body["message"] == message, body
    return body


def assert_invalid(resp: Any, *issues: tuple[list[Any], str]) -> dict[str, Any]:
    """400 Validation failed whose issues include these (path, message) pairs (upstream's e2e validationError)."""
    body = assert_error(resp, 400, "Validation failed")
    got = [(i["path"], i["message"]) for i in body["errors"]]
    for issue in issues:
        assert list(issue) in [list(g) for g in got], (issue, got)
    return body


_SPEC: dict[str, Any] | None = None


def spec_doc() -> dict[str, Any]:
    global _SPEC
    if _SPEC is None:
        _SPEC = json.loads((REPO / "immich_lite" / "immich-openapi-specs.json").read_text())
    return _SPEC


def assert_schema(resp: Any, operation_id: str) -> Any:
    """Validate a 2xx JSON body against the operation's response schema in the pinned spec."""
    from tests.helpers.schema import validator_for  # noqa: PLC0415

    body = resp.json()
    v = validator_for(operation_id, resp.status_code)
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{operation_id}: {errors[0].message} at {list(errors[0].absolute_path)}"
    return body
