"""One citizen-input check on every channel: lone surrogates, NUL and overlong text never cause a 5xx,
a traceback or a stored message, and each channel answers in its own way (4xx, error frame, notice).

A lone surrogate is valid JSON (`"\\ud800"`) but cannot be encoded as UTF-8: before the shared check,
the widget's REST route answered 500 (FastAPI's validation handler failed to echo it back) and the
WebSocket logged a traceback from Redis.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.common import MAX_TEXT_CHARS, TEXTS
from knowledge.answering import check_input as answerer_check
from knowledge.input import refusal
from tests.unit.connectors.conftest import TG_SECRET, conversation_keys, telegram_settings, whatsapp_settings
from tests.unit.connectors.fakes import FakeApi
from tests.unit.connectors.test_matrix import DIRECT, EMPTY_SYNC, Homeserver, load, matrix_settings
from tests.unit.connectors.test_partner_api import ACME_KEY, KEYS
from tests.unit.connectors.test_partner_api import post as partner_post
from tests.unit.connectors.test_telegram import bot_api, text_update
from tests.unit.connectors.test_whatsapp import graph_api, signed_post, text_message, webhook

# (name, text as JSON source, the friendly code every channel must map it to)
BAD_TEXTS = [
    ("lone surrogate", '"\\ud800 x"', "control_chars"),
    ("lone low surrogate at the end", '"Hallo \\udfff"', "control_chars"),
    ("NUL", '"Hallo\\u0000Welt"', "control_chars"),
    ("escape sequence", '"Hallo\\u001b[31m"', "control_chars"),
    ("overlong", json.dumps("a" * (MAX_TEXT_CHARS + 1)), "too_long"),
    ("only whitespace", '"   \\n\\t "', "empty"),
]
IDS = [name for name, _, _ in BAD_TEXTS]


def _text(source: str) -> str:
    return json.loads(source)


def _json_body(template: dict[str, Any], path: list[str], source: str) -> bytes:
    """JSON with the bad text spliced in as JSON source (ensure_ascii keeps it encodable as bytes)."""
    data = copy.deepcopy(template)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _text(source)
    return json.dumps(data).encode()


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_the_one_rule_gives_every_channels_code_and_the_answerer_refuses_it_too(name, source, code):
    """The channels below map these texts to `code`; the rule they apply is `knowledge.input`, and the
    answerer (reached without a channel from the CLI, the evaluation and the Rasa actions) refuses the
    same text."""
    text = _text(source)
    assert refusal(text, MAX_TEXT_CHARS) == code
    assert answerer_check(text.strip(), MAX_TEXT_CHARS) is not None


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


# --- widget: REST and WebSocket ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_widget_rest_refuses_bad_text_with_a_readable_422(make_client, redis_db, caplog, name, source, code):
    client = make_client()
    for body in (f'{{"text": {source}}}', f'{{"text": "Hallo", "payload": {source}}}'):
        if code == "empty" and "payload" in body:
            continue  # an empty payload is simply no payload
        response = client.post(
            "/api/conversations/web-input-1/messages",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, (name, response.status_code, response.text)
        detail = response.json()["detail"]  # the body is valid UTF-8 JSON in FastAPI's shape
        assert detail and all({"type", "loc", "msg"} <= set(error) for error in detail)
        assert all("input" not in error for error in detail)  # the citizen's text is never echoed
    assert conversation_keys(redis_db) == []
    _no_errors_logged(caplog)


def test_widget_rest_names_the_problem_in_german(make_client, redis_db):
    client = make_client()
    response = client.post("/api/conversations/web-input-2/messages", json={"text": "Hallo\x00"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "control_chars" and error["msg"] == TEXTS["control_chars"]


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_widget_socket_answers_bad_text_with_an_error_frame(make_client, redis_db, caplog, name, source, code):
    client = make_client()
    conversation = f"web-input-{uuid.uuid4().hex[:12]}"  # its own: no late frame of another case arrives
    with client.websocket_connect(f"/ws/conversations/{conversation}") as socket:
        assert socket.receive_json()["kind"] == "ready"
        socket.send_text(f'{{"text": {source}}}')
        frame = socket.receive_json()
        assert frame["kind"] == "error" and frame["code"] == code, frame
        socket.send_text('{"text": "Hallo", "payload": "\\ud800"}')
        frame = socket.receive_json()
        assert frame["kind"] == "error" and frame["code"] == "control_chars", frame
        # the socket is still usable afterwards
        socket.send_text('{"text": "Was kostet ein Reisepass?"}')
        kinds = []
        while "message" not in kinds:
            kinds.append(socket.receive_json()["kind"])
    history = client.get(f"/api/conversations/{conversation}").json()["messages"]
    assert [m["text"] for m in history if m["role"] == "citizen"] == ["Was kostet ein Reisepass?"]
    _no_errors_logged(caplog)


# --- partner REST -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_partner_api_refuses_bad_text_with_400(make_client, redis_db, caplog, name, source, code):
    client = make_client(partner_api_keys=KEYS)
    bodies = [f'{{"text": {source}}}']
    if code != "empty":
        bodies.append(f'{{"text": "Hallo", "payload": {source}}}')
    for body in bodies:
        response = partner_post(
            client, "order-9", ACME_KEY, content=body.encode(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (name, body[:40], response.status_code, response.text)
    assert conversation_keys(redis_db) == []
    _no_errors_logged(caplog)


# --- messengers ---------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi(lambda r: graph_api(r) if "/messages" in r.path else bot_api(r)).start()
    yield fake
    fake.stop()


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_telegram_answers_bad_text_with_a_friendly_notice(make_client, api, redis_db, caplog, name, source, code):
    client = make_client(**telegram_settings(api.url))
    body = _json_body(text_update(500, "x"), ["message", "text"], source)
    response = client.post(
        "/webhooks/telegram",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code == 200 and response.json() == {"status": code}, response.text
    [notice] = [r for r in api.requests if r.path.endswith("/sendMessage")]
    assert notice.body["text"] == TEXTS[code]
    assert conversation_keys(redis_db) == []
    _no_errors_logged(caplog)


@pytest.mark.parametrize(("name", "source", "code"), BAD_TEXTS, ids=IDS)
def test_whatsapp_answers_bad_text_with_a_friendly_notice(make_client, api, redis_db, caplog, name, source, code):
    client = make_client(**whatsapp_settings(api.url))
    payload = webhook(text_message("wamid.input", "x"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] = _text(source)
    response = signed_post(client, json.dumps(payload).encode())
    assert response.status_code == 200 and response.json() == {"status": code}, response.text
    [notice] = [r for r in api.requests if r.path.endswith("/messages")]
    assert notice.body["text"]["body"] == TEXTS[code]
    assert conversation_keys(redis_db) == []
    _no_errors_logged(caplog)


@pytest.mark.parametrize("field", ["from", "id"])
def test_whatsapp_ids_with_lone_surrogates_are_refused_not_crashed(make_client, api, redis_db, caplog, field):
    client = make_client(**whatsapp_settings(api.url))
    payload = webhook(text_message("wamid.ids", "Hallo"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0][field] = "49151\ud800"
    response = signed_post(client, json.dumps(payload).encode())
    assert response.status_code == 400, response.text
    assert conversation_keys(redis_db) == []
    _no_errors_logged(caplog)


def test_telegram_callback_id_with_a_lone_surrogate_does_not_crash(make_client, api, redis_db, caplog):
    from tests.unit.connectors.test_telegram import button_update

    client = make_client(**telegram_settings(api.url))
    update = button_update(501, "o:0000abcd:0")
    update["callback_query"]["id"] = "cb\ud800"
    response = client.post(
        "/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    _no_errors_logged(caplog)


def _matrix_sync(bodies: list[str], event_ids: list[str] | None = None) -> dict[str, Any]:
    sync = load("question")
    room = sync["rooms"]["join"][DIRECT]
    template = room["timeline"]["events"][0]
    now_ms = int(time.time() * 1000) + 60_000  # after the bot starts: older events are never answered
    room["timeline"]["events"] = [
        {
            **template,
            "event_id": (event_ids or [])[i] if event_ids else f"$input{i}",
            "origin_server_ts": now_ms + i,
            "content": {"msgtype": "m.text", "body": body},
        }
        for i, body in enumerate(bodies)
    ]
    sync["rooms"]["join"] = {DIRECT: room}
    return sync


def test_matrix_answers_bad_text_with_friendly_notices(make_client, redis_db, caplog):
    bodies = [_text(source) for _, source, _ in BAD_TEXTS]
    homeserver = Homeserver([load("initial"), _matrix_sync(bodies), EMPTY_SYNC])
    try:
        make_client(**matrix_settings(homeserver.api.url))
        sends = homeserver.api.wait_for(
            lambda r: r.method == "PUT" and "/send/m.room.message/" in r.path, count=len(bodies)
        )
        assert [r.body["body"] for r in sends] == [TEXTS[code] for _, _, code in BAD_TEXTS]
        assert conversation_keys(redis_db) == []
    finally:
        homeserver.api.stop()
    _no_errors_logged(caplog)


def test_matrix_event_with_an_unusable_id_is_skipped(make_client, redis_db, caplog):
    homeserver = Homeserver([load("initial"), _matrix_sync(["Hallo", "Hallo"], ["$bad\ud800", "$good"]), EMPTY_SYNC])
    try:
        make_client(**matrix_settings(homeserver.api.url))
        homeserver.api.wait_for(lambda r: r.path == "/_matrix/client/v3/sync", count=4)
        sends = homeserver.api.wait_for(lambda r: r.method == "PUT" and "/send/m.room.message/" in r.path)
        assert len(sends) == 1  # only the event with a usable id was answered
    finally:
        homeserver.api.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not [r for r in caplog.records if "sync failed" in r.getMessage()]
