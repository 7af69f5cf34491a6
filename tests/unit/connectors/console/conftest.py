"""Console fixtures: the real app (knowledge-only, no Rasa) on a real Redis, driven over HTTP.

Redis follows the shared policy (`redis_url` in tests/conftest.py): a database of each test's own, empty.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings


@pytest.fixture
def console_settings(demo_settings: Settings, demo_index, redis_url: str) -> Settings:
    return demo_settings.model_copy(
        update={"redis_url": redis_url, "rasa_enabled": False, "console_max_failed_logins": 3}
    )


@pytest.fixture
def app_client(console_settings: Settings) -> Iterator[TestClient]:
    from bot.gateway.app import create_app

    with TestClient(create_app(console_settings)) as client:
        yield client


PASSWORD = "richtig-langes-passwort"


def make_user(client: TestClient, username: str, role: str = "agent", teams: list[str] | None = None,
              name: str | None = None) -> None:  # fmt: skip
    client.app.state.accounts.create(username, PASSWORD, role, name or username.title(), teams or [])  # type: ignore[attr-defined]


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict:
    response = client.post("/console/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()
