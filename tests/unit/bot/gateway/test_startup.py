"""A deleted or corrupted index is detected at start, rebuilt from content, and citizens hear "busy" meanwhile."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from wording.texts import BUSY_REBUILDING as BUSY_TEXT

pytestmark = pytest.mark.slow  # rebuilds the index while the app runs


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_broken_index_is_rebuilt_while_the_bot_says_it_is_busy(tmp_path: Path, damage: str, redis_url: str):
    settings = make_settings(tmp_path / "data", redis_url=redis_url, rasa_enabled=False, eventlog_enabled=False)
    if damage == "corrupted":
        settings.index_dir.mkdir(parents=True)
        (settings.index_dir / "state.json").write_text('{"services": [', encoding="utf-8")
    from bot.gateway.app import create_app

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
