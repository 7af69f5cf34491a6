"""Citizens and partners see public models only: no staff login, team, routing or scoring internals.

Before the public models, `GET /api/conversations/{id}` returned the internal record, including the
staff member's login name (`assignee`): enough for anyone holding a conversation id to lock that
person out of the console with five wrong passwords. The WebSocket replayed and relayed the internal
message records (confidence, timings, handoff flags) as well.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import CancelledError
from typing import Any

from bot.handoff.service import StaffMember
from connectors.public import PublicConversation, PublicMessage, PublicMessageData
from tests.unit.connectors.test_partner_api import ACME_KEY, KEYS
from tests.unit.connectors.test_partner_api import post as partner_post

STAFF = StaffMember(username="k.kluge-login", display_name="Frau Kluge", role="supervisor", teams=[])
PHONE = "0171 2345678"
CONVERSATION_FIELDS = set(PublicConversation.model_fields)
MESSAGE_FIELDS = set(PublicMessage.model_fields)
DATA_FIELDS = set(PublicMessageData.model_fields)
# the offer of a person (handoff_offer) is public: the citizen sees it, and `eval --through bot` counts it
INTERNAL_WORDS = ("k.kluge-login", PHONE, "confidence", "timing", "queued_at", "priority")


def _assert_public_message(message: dict[str, Any]) -> None:
    assert set(message) <= MESSAGE_FIELDS, set(message) - MESSAGE_FIELDS
    assert set(message.get("data") or {}) <= DATA_FIELDS, set(message.get("data") or {}) - DATA_FIELDS


def _assert_nothing_internal(raw: str) -> None:
    for word in INTERNAL_WORDS:
        assert word not in raw, (word, raw[:2000])


def test_widget_rest_and_socket_show_the_display_name_never_the_login(make_client, redis_db):
    client = make_client()
    cid = "public-view-1"
    first = client.post(f"/api/conversations/{cid}/messages", json={"text": "Was kostet ein Reisepass?"})
    assert first.status_code == 200
    _assert_nothing_internal(first.text)
    for message in first.json()["messages"]:
        _assert_public_message(message)

    handoff = client.app.state.handoff
    handoff.request(cid, "requested")
    callback = client.post(
        f"/api/conversations/{cid}/callback",
        json={"contact_kind": "phone", "contact": PHONE, "note": "", "consent": True},
    )
    assert callback.status_code == 200
    handoff.take(cid, STAFF)
    handoff.reply(cid, STAFF, "Guten Tag, ich schaue mir Ihr Anliegen an.")
    assert client.app.state.store.get(cid).assignee == STAFF.username  # internally the login is kept

    history = client.get(f"/api/conversations/{cid}")
    assert history.status_code == 200
    _assert_nothing_internal(history.text)
    body = history.json()
    assert set(body["conversation"]) <= CONVERSATION_FIELDS
    assert body["conversation"]["assignee_name"] == "Frau Kluge"
    assert body["conversation"]["callback_requested"] is True
    assert "assignee" not in body["conversation"] and "team" not in body["conversation"]
    for message in body["messages"]:
        _assert_public_message(message)
    [staff_message] = [m for m in body["messages"] if m["role"] == "staff"]
    assert staff_message["data"]["staff"] == "Frau Kluge"
    assert any(m["data"].get("sources") for m in body["messages"] if m["role"] == "bot")  # sources stay

    frames: list[dict[str, Any]] = []
    # Starlette's TestClient cancels the session right after sending the disconnect; when that lands in
    # the handler's teardown the future reports CancelledError (also on the code before this change).
    # Everything checked here is received before leaving the block.
    with contextlib.suppress(CancelledError), client.websocket_connect(f"/ws/conversations/{cid}") as socket:
        while not frames or frames[-1]["kind"] != "ready":
            frames.append(socket.receive_json())
        handoff.reply(cid, STAFF, "Sind Sie noch da?")  # relayed live
        live = socket.receive_json()
        while live["kind"] != "message":
            live = socket.receive_json()
        frames.append(live)
    raw = json.dumps(frames, ensure_ascii=False)
    _assert_nothing_internal(raw)
    replayed = [f["message"] for f in frames if f["kind"] == "message"]
    assert len(replayed) == len(body["messages"]) + 1
    for message in replayed:
        _assert_public_message(message)
    assert live["message"]["text"] == "Sind Sie noch da?" and live["message"]["data"]["staff"] == "Frau Kluge"
    [state] = [f for f in frames if f["kind"] == "state"]
    assert state == {"kind": "state", "state": "staff", "staff": "Frau Kluge"}


def test_partner_api_shows_no_internal_fields(make_client, redis_db):
    client = make_client(partner_api_keys=KEYS)
    response = partner_post(client, "public-order-1", ACME_KEY, json={"text": "Was kostet ein Reisepass?"})
    assert response.status_code == 200
    _assert_nothing_internal(response.text)
    messages = response.json()["messages"]
    allowed = {"id", "role", "text", "display_text", "buttons", "sources", "ts", "seq"}
    assert messages and all(set(m) <= allowed for m in messages), [set(m) - allowed for m in messages]
    sources = [s for m in messages for s in m["sources"]]
    assert sources and all(set(s) <= {"title", "section", "section_label", "url", "updated"} for s in sources)


def test_what_a_client_needs_to_follow_the_dialogue_is_public():
    """Sections (for the section buttons), the offer of a person and degraded mode are part of the public
    message data: the widget, partners and `buergerbot eval --through bot` read them."""
    data = PublicMessageData.model_validate(
        {"sections": ["gebuehren"], "handoff_offer": {"reason": "explicit_request"}, "degraded": True}
    )
    dumped = data.model_dump(exclude_none=True)
    assert dumped["sections"] == ["gebuehren"] and dumped["degraded"] is True
    assert dumped["handoff_offer"] == {"reason": "explicit_request"}
