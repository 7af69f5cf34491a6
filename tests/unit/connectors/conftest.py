"""Connector tests run the real gateway app (knowledge-only mode, no Rasa) on a real Redis database of their own.

Apps are built with `create_app(Settings(...))` on the session's demo index (built once, see
tests/conftest.py) and started with Starlette's TestClient, which runs the real lifespan: the
outbox task and the Matrix sync loop run exactly as in production. Redis comes from the shared policy
(`redis_url` in tests/conftest.py): a database of the test's own, empty at the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from bot.settings import Settings

TG_TOKEN = "123456:TEST-token"
TG_SECRET = "tg-secret_abc123"
WA_SECRET = "wa-app-secret"
WA_VERIFY = "wa-verify-token"
WA_TOKEN = "wa-access-token"
WA_PHONE_ID = "1098765"


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test's own Redis database (`redis_url`), as the gateway connects (decoded strings)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def conversation_keys(client: redis.Redis) -> list[str]:
    return sorted(client.keys("bb:conv:*"))


@pytest.fixture
def make_client(
    demo_settings: Settings, demo_index: Any, redis_url: str, redis_db: redis.Redis
) -> Iterator[Callable[..., TestClient]]:
    """Start gateway apps sharing one data directory (the demo index) and one Redis database."""
    from bot.gateway.app import create_app

    started: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "data_dir": demo_settings.data_dir,
            "redis_url": redis_url,
            "rasa_enabled": False,
            "demo_accounts": False,
            **overrides,
        }
        client = TestClient(create_app(Settings(**values)))
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in reversed(started):
        client.__exit__(None, None, None)


def telegram_settings(api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "telegram_bot_token": TG_TOKEN,
        "telegram_webhook_secret": TG_SECRET,
        "telegram_api_base_url": api_url,
        **extra,
    }


def whatsapp_settings(api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "whatsapp_app_secret": WA_SECRET,
        "whatsapp_verify_token": WA_VERIFY,
        "whatsapp_access_token": WA_TOKEN,
        "whatsapp_phone_number_id": WA_PHONE_ID,
        "whatsapp_api_base_url": api_url,
        **extra,
    }
