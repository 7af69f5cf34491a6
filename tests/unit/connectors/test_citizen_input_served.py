"""The one citizen-input check, over real HTTP and a real WebSocket (uvicorn, the real app, real Redis).

A lone surrogate is valid JSON (`{"text": "\\ud800"}`) but cannot be encoded as UTF-8. The issue saw it
pass the WebSocket check and end as a bare "failed". Here every entry a citizen's words arrive through
(widget WebSocket, the widget's REST fallback, `/api/ask`, the partner API) answers it with the German
reason and no 5xx, the conversation goes on, and all of them use the configured length limit
(`BUERGERBOT_MAX_QUESTION_CHARS`, 3000 here, not the default 2000): the REST fallback used to accept
20,000 characters while the socket allowed 2,000.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from websockets.sync.client import ClientConnection, connect

from bot.settings import Settings
from connectors.common import TEXTS, citizen_text
from tests.support.app_server import served_gateway
from tests.support.stack import free_port
from tests.unit.connectors.test_partner_api import ACME_KEY, KEYS

pytestmark = pytest.mark.slow  # a uvicorn gateway per test

LIMIT = 3000
SURROGATE = b'{"text": "\\ud800"}'  # raw JSON: the escape, not an encoded character
ACCEPTED = "Wie beantrage ich einen Reisepass? " + "Bitte ausführlich. " * 130  # 2,500+ characters
OVERLONG = "Reisepass " * (LIMIT // 10) + "x"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def gateway(demo_settings: Settings, demo_index: Any, redis_url: str, redis_db: redis.Redis) -> Iterator[str]:
    settings = Settings(
        data_dir=demo_settings.data_dir,
        redis_url=redis_url,
        rasa_enabled=False,
        demo_accounts=False,
        partner_api_keys=KEYS,
        max_question_chars=LIMIT,
        port=free_port(),
    )
    with served_gateway(settings) as url:
        yield url


def _cid() -> str:
    return f"served-{uuid.uuid4().hex[:12]}"


def _frames_until(socket: ClientConnection, kind: str, role: str | None = None) -> list[dict[str, Any]]:
    """Frames up to the first of `kind` (a message of `role`, if given)."""
    frames: list[dict[str, Any]] = []
    while True:
        frames.append(json.loads(socket.recv(timeout=120)))
        last = frames[-1]
        if last["kind"] == kind and (role is None or last["message"]["role"] == role):
            return frames


def test_socket_answers_a_lone_surrogate_and_the_limit_in_german(gateway: str) -> None:
    cid = _cid()
    with connect(gateway.replace("http", "ws", 1) + f"/ws/conversations/{cid}") as socket:
        _frames_until(socket, "ready")
        socket.send(SURROGATE.decode())
        error = json.loads(socket.recv(timeout=30))
        assert error == {"kind": "error", "code": "control_chars", "message": error["message"]}
        assert "Steuerzeichen" in error["message"]
        socket.send(json.dumps({"text": OVERLONG}))
        error = json.loads(socket.recv(timeout=30))
        assert error["code"] == "too_long" and f"höchstens {LIMIT} Zeichen" in error["message"], error
        socket.send(json.dumps({"text": ACCEPTED}))  # over the default 2,000, within the configured limit
        frames = _frames_until(socket, "message", role="bot")
        assert not [f for f in frames if f["kind"] == "error"], frames
    history = httpx.get(f"{gateway}/api/conversations/{cid}", timeout=30).json()["messages"]
    assert [m["text"] for m in history if m["role"] == "citizen"] == [ACCEPTED.strip()]
    assert [m for m in history if m["role"] == "bot"]  # the accepted question was answered


def test_widget_rest_fallback_answers_a_lone_surrogate_and_the_limit_in_german(gateway: str) -> None:
    cid = _cid()
    url = f"{gateway}/api/conversations/{cid}/messages"
    refused = httpx.post(url, content=SURROGATE, headers=JSON, timeout=60)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["type"] == "control_chars" and error["msg"] == TEXTS["control_chars"], error
    too_long = httpx.post(url, json={"text": OVERLONG}, timeout=60)
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["detail"][0]["type"] == "too_long"
    assert too_long.json()["detail"][0]["msg"] == citizen_text("too_long", LIMIT)
    accepted = httpx.post(url, json={"text": ACCEPTED}, timeout=120)
    assert accepted.status_code == 200, accepted.text
    history = httpx.get(f"{gateway}/api/conversations/{cid}", timeout=30).json()["messages"]
    assert [m["text"] for m in history if m["role"] == "citizen"] == [ACCEPTED.strip()]
    schema = httpx.get(f"{gateway}/openapi.json", timeout=30).json()["components"]["schemas"]
    assert schema["MessageIn"]["properties"]["text"]["maxLength"] == LIMIT  # clients are told the same limit


def test_ask_answers_a_lone_surrogate_and_the_limit_in_german(gateway: str) -> None:
    refused = httpx.post(f"{gateway}/api/ask", content=b'{"question": "\\ud800"}', headers=JSON, timeout=60)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["msg"] == TEXTS["control_chars"], refused.text
    too_long = httpx.post(f"{gateway}/api/ask", json={"question": "a" * 20_000}, timeout=60)
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["detail"][0]["msg"] == citizen_text("too_long", LIMIT)


def test_partner_api_answers_a_lone_surrogate_and_the_limit_in_german(gateway: str) -> None:
    url = f"{gateway}/api/v1/partner/conversations/order-{uuid.uuid4().hex[:8]}/messages"
    headers = {**JSON, "X-API-Key": ACME_KEY}
    refused = httpx.post(url, content=SURROGATE, headers=headers, timeout=60)
    assert refused.status_code == 400, refused.text
    assert "Steuerzeichen" in refused.json()["detail"]
    too_long = httpx.post(url, json={"text": OVERLONG}, headers=headers, timeout=60)
    assert too_long.status_code == 400 and too_long.json()["detail"] == citizen_text("too_long", LIMIT)
    accepted = httpx.post(url, json={"text": ACCEPTED}, headers=headers, timeout=120)
    assert accepted.status_code == 200, accepted.text
