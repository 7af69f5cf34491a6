"""The widget's WebSocket protocol against the real gateway: replay, live relay and frame validation.

No browser needed: a plain WebSocket client speaks the same protocol as widget.js.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.conversation.store import ConversationStore, Message
from bot.gateway.embedded_redis import redis_client
from bot.handoff.service import HandoffService
from bot.handoff.teams import load_teams
from tests.browser.conftest import WIDGET_LIMIT

pytestmark = pytest.mark.slow  # a gateway process (the browser folder's stack)

TIMEOUT_S = 90


def _ws_url(stack, conversation_id: str, after: int = 0) -> str:
    return f"{stack.url.replace('http', 'ws', 1)}/ws/conversations/{conversation_id}?after={after}"


def _frames_until(ws: ClientConnection, kind: str, **match: object) -> list[dict]:
    """Read frames until one of `kind` (whose fields equal `match`) arrives; return them all."""
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=TIMEOUT_S))
        frames.append(frame)
        body = frame.get("message", frame)
        if frame["kind"] == kind and all(body.get(k) == v for k, v in match.items()):
            return frames


def _cid() -> str:
    return f"ws-{uuid.uuid4().hex[:12]}"


def test_invalid_frames_get_friendly_errors_and_the_socket_stays_open(stack):
    with connect(_ws_url(stack, _cid())) as ws:
        assert json.loads(ws.recv(timeout=TIMEOUT_S)) == {"kind": "ready", "seq": 0}
        cases = [
            ("kein json", "invalid"),
            (json.dumps(["text"]), "invalid"),
            (json.dumps({"text": 5}), "invalid"),
            (json.dumps({"text": "Hallo", "payload": 7}), "invalid"),
            (json.dumps({"text": "   "}), "empty"),
            (json.dumps({"text": "x" * (WIDGET_LIMIT + 1)}), "too_long"),  # the stack's configured limit
            ("x" * 100_000, "too_long"),
            (json.dumps({"text": "Hallo\u0000Welt"}), "control_chars"),
            (json.dumps({"text": "Hallo", "payload": "/greet\u001b"}), "control_chars"),
            (b"\x00\x01binary", "invalid"),
        ]
        for raw, code in cases:
            ws.send(raw)
            frame = json.loads(ws.recv(timeout=TIMEOUT_S))
            assert frame["kind"] == "error" and frame["code"] == code, (raw[:40], frame)
            assert frame["message"] and frame["message"][0].isupper()  # a German sentence, not a stack trace
        ws.send(json.dumps({"text": "Was kostet ein Reisepass?\n", "payload": None}))
        frames = _frames_until(ws, "typing", active=False)
        kinds = [(f["kind"], f.get("message", {}).get("role")) for f in frames]
        assert kinds[0] == ("typing", None)
        assert ("message", "citizen") in kinds and ("message", "bot") in kinds
        assert kinds.index(("message", "bot")) < len(kinds) - 1, "typing ends after the reply was relayed"


def test_replay_after_seq_and_live_messages_from_other_processes(stack, redis_url: str):
    cid = _cid()
    stack.send(cid, "Was kostet ein Reisepass?")  # REST channel: stored before any socket exists
    with connect(_ws_url(stack, cid, after=0)) as ws:
        replay = _frames_until(ws, "ready")
        assert [f["message"]["seq"] for f in replay if f["kind"] == "message"] == [1, 2]
        assert {"kind": "state", "state": "bot"} in replay

        store = ConversationStore(redis_client(redis_url))
        store.append(Message(conversation_id=cid, role="staff", text="Guten Tag, hier ist das Bürgerbüro."))
        live = _frames_until(ws, "message", role="staff")
        assert live[-1]["message"]["seq"] == 3
        HandoffService(store, load_teams(), {}).request(cid, "requested")  # stores the queue status, seq 4
        queued = _frames_until(ws, "state")[-1]
        assert queued["state"] == "queued" and queued["position"] >= 1, queued

    with connect(_ws_url(stack, cid, after=2)) as ws:
        replay = _frames_until(ws, "ready")
        assert [f["message"]["seq"] for f in replay if f["kind"] == "message"] == [3, 4]
        states = [f for f in replay if f["kind"] == "state"]
        assert states and states[-1]["state"] == "queued" and states[-1]["position"] >= 1, states


def test_invalid_conversation_id_is_refused(stack):
    with pytest.raises(InvalidStatus), connect(_ws_url(stack, "x")):
        pass


def test_demo_page_embeds_one_script_and_the_widget_never_writes_html(stack):
    page = httpx.get(stack.url + "/", timeout=30)
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert re.findall(r"<script\b[^>]*>", page.text) == ['<script src="/widget/widget.js" defer>']
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(stack.url + "/widget/widget.js", timeout=30)
    assert script.headers["content-type"].startswith("text/javascript")
    assert (
        re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|document\.cookie", script.text)
        is None
    )
    assert re.search(r"https?://(?!GATEWAY)", script.text) is None, "no third-party URLs in the widget"
    css = httpx.get(stack.url + "/widget/widget.css", timeout=30)
    assert css.headers["content-type"].startswith("text/css") and "url(" not in css.text
