"""WhatsApp Cloud API webhook against the real gateway and a real local HTTP server as the Graph API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.conversation.store import Button, Message
from connectors.common import TEXTS, resolve_number, resolve_option_ref
from connectors.whatsapp.connector import WhatsAppSender
from tests.unit.connectors.conftest import (
    WA_PHONE_ID,
    WA_SECRET,
    WA_TOKEN,
    WA_VERIFY,
    conversation_keys,
    whatsapp_settings,
)
from tests.unit.connectors.fakes import FakeApi, Recorded

CITIZEN = "4915112345678"


def graph_api(recorded: Recorded) -> tuple[int, Any]:
    return 200, {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.out{time.time_ns()}"}]}


@pytest.fixture
def graph() -> Iterator[FakeApi]:
    fake = FakeApi(graph_api).start()
    yield fake
    fake.stop()


@pytest.fixture
def client(make_client, graph):
    return make_client(**whatsapp_settings(graph.url))


def webhook(*messages: dict[str, Any], phone_id: str = WA_PHONE_ID) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA_ID",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "4989123456", "phone_number_id": phone_id},
                            "contacts": [{"profile": {"name": "Erika"}, "wa_id": CITIZEN}],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def text_message(message_id: str, body: str, timestamp: float | None = None) -> dict[str, Any]:
    return {
        "from": CITIZEN,
        "id": message_id,
        "timestamp": str(int(timestamp or time.time())),
        "type": "text",
        "text": {"body": body},
    }


def button_message(message_id: str, reply_id: str, title: str) -> dict[str, Any]:
    return {
        "from": CITIZEN,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }


def signed_post(client, payload: dict[str, Any] | bytes, secret: str = WA_SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature or f"sha256={digest}"}
    return client.post("/webhooks/whatsapp", content=body, headers=headers)


def sent(graph: FakeApi) -> list[Recorded]:
    return graph.matching(lambda r: r.method == "POST" and r.path.endswith(f"/{WA_PHONE_ID}/messages"))


def test_verification_handshake(client):
    handshake = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1158201444"}
    ok = client.get("/webhooks/whatsapp", params=handshake)
    assert ok.status_code == 200 and ok.text == "1158201444"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "<script>"},
        {},
    ):
        assert client.get("/webhooks/whatsapp", params=params).status_code == 403


def test_text_message_gets_interactive_reply_and_button_maps_back(client, graph, redis_db):
    response = signed_post(client, webhook(text_message("wamid.1", "Was kostet ein Personalausweis?")))
    assert response.status_code == 200 and response.json() == {"status": "processed"}
    [reply] = sent(graph)
    assert reply.headers["authorization"] == f"Bearer {WA_TOKEN}"
    assert reply.body["to"] == CITIZEN and reply.body["messaging_product"] == "whatsapp"
    assert reply.body["type"] == "interactive"
    interactive = reply.body["interactive"]
    assert "Personalausweis" in interactive["body"]["text"] and len(interactive["body"]["text"]) <= 1024
    if interactive["type"] == "button":
        options = [b["reply"] for b in interactive["action"]["buttons"]]
        assert len(options) <= 3 and all(len(o["title"]) <= 20 for o in options)
    else:
        assert interactive["type"] == "list"
        options = interactive["action"]["sections"][0]["rows"]
        assert len(options) <= 10 and all(len(o["title"]) <= 24 for o in options)

    chosen = signed_post(client, webhook(button_message("wamid.2", options[0]["id"], options[0]["title"])))
    assert chosen.json() == {"status": "processed"}
    assert len(sent(graph)) == 2
    [key] = conversation_keys(redis_db)
    assert CITIZEN not in key  # the phone number never becomes an id
    history = client.get(f"/api/conversations/{key.removeprefix('bb:conv:')}").json()["messages"]
    assert [m["text"] for m in history if m["role"] == "citizen"] == [
        "Was kostet ein Personalausweis?",
        options[0]["title"],
    ]


def test_bad_or_missing_signature_is_401_and_changes_nothing(client, graph, redis_db):
    payload = webhook(text_message("wamid.9", "Hallo"))
    assert signed_post(client, payload, secret="not-the-secret").status_code == 401
    assert signed_post(client, payload, signature="sha256=").status_code == 401
    assert signed_post(client, payload, signature="md5=abc").status_code == 401
    body = json.dumps(payload).encode()
    assert client.post("/webhooks/whatsapp", content=body).status_code == 401
    tampered = json.dumps(webhook(text_message("wamid.9", "Hallo!"))).encode()
    digest = hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signed_post(client, tampered, signature=f"sha256={digest}").status_code == 401
    assert conversation_keys(redis_db) == [] and graph.requests == []


def test_replayed_and_stale_messages_are_ignored(client, graph, redis_db):
    payload = webhook(text_message("wamid.20", "Hallo"))
    assert signed_post(client, payload).json() == {"status": "processed"}
    assert signed_post(client, payload).json() == {"status": "duplicate"}
    assert len(sent(graph)) == 1
    old = webhook(text_message("wamid.21", "Hallo", timestamp=time.time() - 3 * 86_400))
    assert signed_post(client, old).json() == {"status": "stale"}
    assert len(sent(graph)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{oops",
        b"\xc3\x28",
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": "x"}',
        json.dumps(webhook({"from": CITIZEN, "type": "text"})).encode(),  # no message id
        json.dumps(webhook({**text_message("wamid.x", "a"), "timestamp": "yesterday"})).encode(),
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_signed_but_malformed_bodies_are_400(client, graph, redis_db, body):
    assert signed_post(client, body).status_code == 400
    assert conversation_keys(redis_db) == [] and graph.requests == []


def test_statuses_other_numbers_and_other_objects_are_ignored(client, graph, redis_db):
    statuses = webhook()
    statuses["entry"][0]["changes"][0]["value"]["statuses"] = [{"id": "wamid.out", "status": "read"}]
    assert signed_post(client, statuses).json() == {"status": "ignored"}
    assert signed_post(client, webhook(text_message("wamid.30", "Hallo"), phone_id="999")).json() == {
        "status": "ignored"
    }
    assert signed_post(client, {"object": "page", "entry": []}).json() == {"status": "ignored"}
    assert conversation_keys(redis_db) == [] and graph.requests == []


def test_oversized_body_is_413(client, redis_db):
    payload = webhook(text_message("wamid.40", "x" * 70_000))
    assert signed_post(client, payload).status_code == 413
    assert conversation_keys(redis_db) == []


def test_control_characters_get_a_friendly_reply(client, graph, redis_db):
    assert signed_post(client, webhook(text_message("wamid.50", "Hallo\x1b[31m"))).json() == {"status": "control_chars"}
    [notice] = sent(graph)
    assert notice.body["text"]["body"] == TEXTS["control_chars"]
    assert conversation_keys(redis_db) == []


def test_unconfigured_whatsapp_answers_404(make_client, redis_db):
    client = make_client()
    assert client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe"}).status_code == 404
    assert signed_post(client, webhook(text_message("wamid.1", "Hallo"))).status_code == 404
    assert conversation_keys(redis_db) == []


def test_rendering_picks_buttons_list_or_numbered_text(make_client, graph, redis_db):
    client = make_client(**whatsapp_settings(graph.url))
    sender: WhatsAppSender = client.app.state.channels.senders["whatsapp"]
    conversation = "whatsapp-rendertest"

    def render(buttons: list[Button], text: str = "Bitte wählen") -> list[dict[str, Any]]:
        return sender.render(Message(conversation_id=conversation, role="bot", text=text, buttons=buttons))

    three = [Button(title=f"Option {i}", payload=f"/p{i}") for i in range(3)]
    [content] = render(three)
    assert content["interactive"]["type"] == "button"
    ref = content["interactive"]["action"]["buttons"][2]["reply"]["id"]
    assert resolve_option_ref(redis_db, conversation, ref) == three[2]

    five = [Button(title=f"Option {i}", payload=f"/p{i}") for i in range(5)]
    [content] = render(five)
    assert content["interactive"]["type"] == "list"
    assert len(content["interactive"]["action"]["sections"][0]["rows"]) == 5

    long_titles = [Button(title="Eine sehr lange Beschriftung, die nicht passt", payload=f"/l{i}") for i in range(2)]
    [content] = render(long_titles)
    assert content["type"] == "text" and "\n1. Eine sehr lange" in content["text"]["body"]
    assert resolve_number(redis_db, conversation, "2") == long_titles[1]
    assert resolve_number(redis_db, conversation, "3") is None

    contents = render(three, text="Lang. " * 300)  # body over 1024 characters: text first, then the buttons
    assert [c["type"] for c in contents] == ["text", "interactive"]
    assert resolve_number(redis_db, conversation, "1") is None  # the numbered list is no longer the latest
