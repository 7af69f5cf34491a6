"""Connector tests run the real gateway app (knowledge-only mode, no Rasa) on the machine's Redis, database 8.

Apps are built with `create_app(Settings(...))` on the session's demo index (built once, see
tests/conftest.py) and started with Starlette's TestClient, which runs the real lifespan: the
outbox task and the Matrix sync loop run exactly as in production.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from bot.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/8"
LOCK_FILE = Path(tempfile.gettempdir()) / "buergerbot-tests-redis-db8.lock"
TG_TOKEN = "123456:TEST-token"
TG_SECRET = "tg-secret_abc123"
WA_SECRET = "wa-app-secret"
WA_VERIFY = "wa-verify-token"
WA_TOKEN = "wa-access-token"
WA_PHONE_ID = "1098765"


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """Database 8, empty for each test; a file lock keeps parallel runs of this suite on one machine apart."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        client.flushdb()
        yield client
        client.flushdb()


def conversation_keys(client: redis.Redis) -> list[str]:
    return sorted(client.keys("bb:conv:*"))


@pytest.fixture
def make_client(demo_settings: Settings, demo_index: Any, redis_db: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """Start gateway apps sharing one data directory (the demo index) and one Redis database."""
    from bot.gateway.app import create_app

    started: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "data_dir": demo_settings.data_dir,
            "redis_url": REDIS_URL,
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
