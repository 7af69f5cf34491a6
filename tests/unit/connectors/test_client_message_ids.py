"""Client message ids: a message sent again (same `client_message_id`) is answered and stored once.

The real gateway app on a real Redis (a database of the test's own, see tests/conftest.py). Where Rasa matters, a real
HTTP server on 127.0.0.1 speaks Rasa's REST channel (`tests/unit/connectors/fakes.FakeApi`), so the test can
hold a turn inside Rasa or count how often Rasa was asked; Redis failures are real (a TCP proxy in
front of the machine's Redis is cut mid-turn).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from bot.conversation.ids import CLIENT_MESSAGE_ID_PATTERN, is_client_message_id
from bot.conversation.receipts import lease_key, receipt_key
from bot.turns.handler import TurnHandler
from connectors.rest.router import internal_id
from tests.support.redis_servers import port_of, with_port
from tests.support.tcp_proxy import TcpProxy
from tests.unit.connectors.fakes import FakeApi, Recorded, wait_until
from wording.texts import INVALID_CLIENT_MESSAGE_ID, TURN_IN_PROGRESS

QUESTION = "Was kostet ein Reisepass?"
PARTNER_KEY = "bbp_msgid-test-key"
PARTNER_KEYS = {"acme": hashlib.sha256(PARTNER_KEY.encode()).hexdigest()}
# What Rasa's REST channel returns for an answer: the text, then the action's directive as custom JSON.
RASA_REPLY: list[dict[str, Any]] = [
    {"recipient_id": "x", "text": "Ein Reisepass kostet 70 Euro.", "buttons": []},
    {"recipient_id": "x", "custom": {"kind": "answer", "service_id": "reisepass", "confidence": 0.9}},
]


def _mid() -> str:
    return str(uuid.uuid4())  # what the widget sends: crypto.randomUUID()


def _cid() -> str:
    return f"web-{uuid.uuid4().hex}"


def _history(client: redis.Redis, conversation_id: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(f"bb:hist:{conversation_id}", 0, -1)]


def _events(client: redis.Redis, conversation_id: str) -> list[str]:
    found = [json.loads(entry["event"]) for _, entry in client.xrange("bb:events")]
    return [event["type"] for event in found if event["conversation_id"] == conversation_id]


def _transcript(client: redis.Redis, conversation_id: str) -> list[str]:
    """The redacted copies bound for the SQL transcript (one row per message id there)."""
    found = [json.loads(entry["message"]) for _, entry in client.xrange("bb:messages")]
    return [message["role"] for message in found if message["conversation_id"] == conversation_id]


class HeldRasa:
    """Rasa that holds each answer until the test releases it, and says when it was asked."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()

    def __call__(self, recorded: Recorded) -> tuple[int, Any]:
        self.asked.set()
        self.release.wait(60)
        return 200, RASA_REPLY


def _rasa(client: TestClient, respond: Callable[[Recorded], tuple[int, Any]]) -> FakeApi:
    """Answer this app's turns through Rasa at a local HTTP server (the app itself runs knowledge-only).

    The server records a request once it has answered it (`FakeApi.requests`)."""
    api = FakeApi(respond).start()
    state = client.app.state  # type: ignore[attr-defined]
    port = api.server.server_address[1]
    settings = state.settings.model_copy(update={"rasa_enabled": True, "rasa_port": port})
    state.turns = TurnHandler(settings, state.store, state.answerer, state.handoff)
    return api


@pytest.fixture
def rasa_servers() -> Iterator[list[FakeApi]]:
    started: list[FakeApi] = []
    yield started
    for api in started:
        api.stop()


# --- the rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [str(uuid.uuid4()), uuid.uuid4().hex, "01HZY3K9Q8W7E6R5T4Y3U2I1O0", "a" * 8, "_-" * 32]
)
def test_good_ids(value: str) -> None:
    assert is_client_message_id(value)


@pytest.mark.parametrize(
    "value", ["", "a" * 7, "a" * 65, "abc:defgh", "abc.defgh", "äbcdefgh", "abcdefgh\n", 12345678, None]
)
def test_bad_ids(value: object) -> None:
    assert not is_client_message_id(value)


# --- widget REST fallback ------------------------------------------------------------------------------


def test_widget_rest_message_sent_twice_is_stored_and_answered_once(make_client, redis_db) -> None:
    client = make_client()
    cid, body = _cid(), {"text": QUESTION, "client_message_id": _mid()}
    first = client.post(f"/api/conversations/{cid}/messages", json=body)
    again = client.post(f"/api/conversations/{cid}/messages", json=body)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["messages"] and again.json()["messages"] == first.json()["messages"]  # same ids, seqs
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot"]
    assert _events(redis_db, cid) == ["message_in", "bot_answer"]
    assert _transcript(redis_db, cid) == ["citizen", "bot"]
    # privacy: the receipt keeps only the answer, and never outlives the conversation
    receipt = json.loads(redis_db.get(receipt_key(cid, body["client_message_id"])))
    assert set(receipt) == {"citizen", "rasa", "replies", "handoffs", "answered"}
    assert receipt["citizen"] is None and receipt["rasa"] is None and receipt["replies"] is None
    assert 0 < redis_db.ttl(receipt_key(cid, body["client_message_id"])) <= 24 * 3600
    assert redis_db.ttl(receipt_key(cid, body["client_message_id"])) <= redis_db.ttl(f"bb:conv:{cid}")
    assert not redis_db.exists(lease_key(cid, body["client_message_id"]))


def test_different_ids_are_two_messages(make_client, redis_db) -> None:
    client = make_client()
    cid = _cid()
    for _ in range(2):
        response = client.post(
            f"/api/conversations/{cid}/messages", json={"text": QUESTION, "client_message_id": _mid()}
        )
        assert response.status_code == 200
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot", "citizen", "bot"]
    assert _events(redis_db, cid).count("message_in") == 2


def test_without_an_id_a_message_is_handled_every_time(make_client, redis_db) -> None:
    """The field is optional: clients that send none keep the old behaviour."""
    client = make_client()
    cid = _cid()
    for _ in range(2):
        assert client.post(f"/api/conversations/{cid}/messages", json={"text": QUESTION}).status_code == 200
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot", "citizen", "bot"]


def test_the_same_id_in_two_conversations_is_two_messages(make_client, redis_db) -> None:
    client = make_client()
    mid, first, second = _mid(), _cid(), _cid()
    for cid in (first, second):
        response = client.post(f"/api/conversations/{cid}/messages", json={"text": QUESTION, "client_message_id": mid})
        assert response.status_code == 200
    assert len(_history(redis_db, first)) == len(_history(redis_db, second)) == 2


@pytest.mark.parametrize(
    "value", ["kurz", "x" * 65, "abc def gh", "abc:defgh", "äöüäöüäöü", 12345678, "", ["abcdefgh"]]
)
def test_widget_rest_refuses_an_invalid_id_in_german(make_client, redis_db, value: object) -> None:
    client = make_client()
    cid = _cid()
    response = client.post(f"/api/conversations/{cid}/messages", json={"text": QUESTION, "client_message_id": value})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "invalid_message_id" and error["loc"] == ["body", "client_message_id"]
    assert error["msg"] == INVALID_CLIENT_MESSAGE_ID and "ungültig" in error["msg"]
    assert redis_db.llen(f"bb:hist:{cid}") == 0


def test_the_schema_documents_the_field_and_the_409(make_client, redis_db) -> None:
    schema = make_client(partner_api_keys=PARTNER_KEYS).get("/openapi.json").json()
    widget = schema["components"]["schemas"]["MessageIn"]["properties"]["client_message_id"]
    partner_path = schema["paths"]["/api/v1/partner/conversations/{conversation_id}/messages"]["post"]
    partner = partner_path["requestBody"]["content"]["application/json"]["schema"]["properties"]["client_message_id"]
    for field in (widget, partner):
        assert field["pattern"] == CLIENT_MESSAGE_ID_PATTERN and "retry" in field["description"]
    assert "409" in schema["paths"]["/api/conversations/{conversation_id}/messages"]["post"]["responses"]
    assert "409" in partner_path["responses"]


# --- partner API ---------------------------------------------------------------------------------------


def test_partner_message_sent_twice_is_stored_and_answered_once(make_client, redis_db) -> None:
    client = make_client(partner_api_keys=PARTNER_KEYS)
    url, headers = "/api/v1/partner/conversations/order-42/messages", {"X-API-Key": PARTNER_KEY}
    body = {"text": QUESTION, "client_message_id": _mid()}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json() and first.json()["messages"]
    internal = internal_id(client.app.state.store, "acme", "order-42")
    assert [m["role"] for m in _history(redis_db, internal)] == ["citizen", "bot"]
    assert _events(redis_db, internal) == ["message_in", "bot_answer"]
    other = client.post(url, json={"text": QUESTION, "client_message_id": _mid()}, headers=headers)
    assert other.status_code == 200 and len(_history(redis_db, internal)) == 4


def test_partner_api_refuses_an_invalid_id_in_german(make_client, redis_db) -> None:
    """The partner API answers every refused body with 400 and the German reason (its documented contract)."""
    client = make_client(partner_api_keys=PARTNER_KEYS)
    response = client.post(
        "/api/v1/partner/conversations/order-43/messages",
        json={"text": QUESTION, "client_message_id": "nicht gültig!"},
        headers={"X-API-Key": PARTNER_KEY},
    )
    assert response.status_code == 400 and response.json() == {"detail": INVALID_CLIENT_MESSAGE_ID}
    assert redis_db.keys("bb:hist:*") == []


# --- widget WebSocket ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _widget_socket(client: TestClient, cid: str) -> Iterator[Any]:
    """The widget's socket to a conversation, past its "ready" frame.

    Leaving the TestClient socket cancels the relay in `finally` (see test_ratelimit): suppressed;
    the tests check what happened after.
    """
    with (
        contextlib.suppress(concurrent.futures.CancelledError),
        client.websocket_connect(f"/ws/conversations/{cid}") as ws,
    ):
        _until(ws, "ready")
        yield ws


def _until(socket: Any, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frames.append(socket.receive_json())
        if frames[-1]["kind"] == kind and (kind != "typing" or not frames[-1]["active"]):
            return frames


def test_a_socket_message_resent_over_rest_gets_the_same_answer(make_client, redis_db) -> None:
    """The widget's retry: its socket dropped after sending, so it sends the message again by POST."""
    client = make_client()
    cid, mid = _cid(), _mid()
    with _widget_socket(client, cid) as ws:
        ws.send_text(json.dumps({"text": QUESTION, "payload": None, "client_message_id": mid}))
        frames = _until(ws, "typing")
        ws.send_text(json.dumps({"text": QUESTION, "payload": None, "client_message_id": mid}))  # and again
        again = _until(ws, "typing")
    assert frames[0] == {"kind": "typing", "active": True, "client_message_id": mid}
    assert frames[-1] == {"kind": "typing", "active": False, "client_message_id": mid}
    relayed = [f["message"] for f in frames if f["kind"] == "message" and f["message"]["role"] == "bot"]
    assert relayed and not [f for f in again if f["kind"] in ("message", "error")]
    rest = client.post(f"/api/conversations/{cid}/messages", json={"text": QUESTION, "client_message_id": mid})
    assert rest.status_code == 200
    assert [(m["id"], m["seq"], m["text"]) for m in rest.json()["messages"]] == [
        (m["id"], m["seq"], m["text"]) for m in relayed
    ]
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot"]
    assert _events(redis_db, cid) == ["message_in", "bot_answer"]


def test_socket_refuses_an_invalid_id_and_names_a_valid_one_in_its_errors(make_client, redis_db) -> None:
    client = make_client()
    cid, mid = _cid(), _mid()
    with _widget_socket(client, cid) as ws:
        ws.send_text(json.dumps({"text": QUESTION, "client_message_id": "zu kurz"}))
        invalid = ws.receive_json()
        ws.send_text(json.dumps({"text": "   ", "client_message_id": mid}))
        empty = ws.receive_json()
    assert invalid == {"kind": "error", "code": "invalid_message_id", "message": INVALID_CLIENT_MESSAGE_ID}
    assert empty["code"] == "empty" and empty["client_message_id"] == mid
    assert redis_db.llen(f"bb:hist:{cid}") == 0


# --- at the same time, and after failures --------------------------------------------------------------


def test_two_concurrent_posts_with_the_same_id_are_handled_once(make_client, redis_db, rasa_servers) -> None:
    client = make_client()
    held = HeldRasa()  # the first attempt stays in Rasa until the copy is waiting for it
    rasa = _rasa(client, held)
    rasa_servers.append(rasa)
    cid, body = _cid(), {"text": QUESTION, "client_message_id": _mid()}
    url = f"/api/conversations/{cid}/messages"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, url, json=body)
        assert held.asked.wait(60)
        copy = pool.submit(client.post, url, json=body)
        # the copy has passed the rate limiter (the conversation's second request there): it waits for the first
        wait_until(lambda: sum(redis_db.zcard(k) for k in redis_db.keys("bb:rl:conv:*")) == 2, "the copy arrived")
        time.sleep(0.5)
        held.release.set()
        responses = [first.result(60), copy.result(60)]
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert responses[0].json()["messages"] == responses[1].json()["messages"]
    assert [m["text"] for m in responses[0].json()["messages"]] == ["Ein Reisepass kostet 70 Euro."]
    assert len(rasa.requests) == 1  # the copy was not sent to Rasa
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot"]
    assert _events(redis_db, cid) == ["message_in", "bot_answer"]


@pytest.mark.slow  # waits out the copy's 6 s
def test_a_copy_that_waits_too_long_is_told_in_german_that_the_message_is_in_progress(
    make_client, redis_db, rasa_servers
) -> None:
    client = make_client()
    held = HeldRasa()
    rasa = _rasa(client, held)
    rasa_servers.append(rasa)
    cid, body = _cid(), {"text": QUESTION, "client_message_id": _mid()}
    url = f"/api/conversations/{cid}/messages"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, url, json=body)
        assert held.asked.wait(60)
        copy = client.post(url, json=body)  # the first is held in Rasa longer than a copy waits
        held.release.set()
        assert first.result(60).status_code == 200
    assert copy.status_code == 409 and copy.json() == {"detail": TURN_IN_PROGRESS}
    assert copy.headers["Retry-After"] == "2"
    retried = client.post(url, json=body)
    assert retried.status_code == 200 and retried.json()["messages"] == first.result().json()["messages"]
    assert len(rasa.requests) == 1 and len(_history(redis_db, cid)) == 2


def test_a_failed_attempt_gives_up_its_claim_and_the_retry_continues_it(make_client, redis_db, rasa_servers) -> None:
    """A dependency fails after the claim (Rasa's answer cannot be read): the claim is released at once,
    and the retry with the same id is handled without storing the citizen's message a second time."""
    client = make_client()
    answers = [[["not", "a", "reply"]], RASA_REPLY]  # the first breaks the reading of Rasa's items
    rasa = _rasa(client, lambda _: (200, answers.pop(0)))
    rasa_servers.append(rasa)
    turns: TurnHandler = client.app.state.turns
    cid, mid = _cid(), _mid()

    def handle() -> list[Any]:
        # in a thread of its own: the full suite's browser tests leave an event loop in the main thread
        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            return worker.submit(asyncio.run, turns.handle(cid, QUESTION, "rest", None, mid)).result(60)

    with pytest.raises(AttributeError):
        handle()
    assert not redis_db.exists(lease_key(cid, mid))  # released: the retry need not wait for it to expire
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen"]
    started = time.monotonic()
    replies = handle()
    assert time.monotonic() - started < 5  # not after the lease's expiry
    assert [m.text for m in replies] == ["Ein Reisepass kostet 70 Euro."]
    assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot"]
    assert _events(redis_db, cid) == ["message_in", "bot_answer"]
    assert len(rasa.requests) == 2  # the unreadable answer is asked for again


@pytest.mark.slow  # waits for Redis to come back
def test_a_retry_after_redis_went_away_mid_turn_is_answered_and_stored_once(
    make_client, redis_db, redis_url, rasa_servers
) -> None:
    """The case the README warned about: Redis fails after the citizen's message was stored. Cut here with a
    TCP proxy while Rasa thinks, so the attempt cannot even give up its claim; the retry takes it over."""
    proxy = TcpProxy(port_of(redis_url)).start()
    try:
        client = make_client(redis_url=with_port(redis_url, proxy.port))

        asked: list[Recorded] = []

        def respond(recorded: Recorded) -> tuple[int, Any]:
            asked.append(recorded)
            if len(asked) == 1:  # the first attempt: Redis goes away while Rasa answers
                proxy.stop()
            return 200, RASA_REPLY

        rasa = _rasa(client, respond)
        rasa_servers.append(rasa)
        cid, body = _cid(), {"text": QUESTION, "client_message_id": _mid()}
        url = f"/api/conversations/{cid}/messages"
        first = client.post(url, json=body)
        assert first.status_code == 503 and "Retry-After" in first.headers
        assert [m["role"] for m in _history(redis_db, cid)] == ["citizen"]  # stored before Redis went away
        proxy.start()
        retry = first
        for _ in range(40):  # like the widget: retry the 503s (stale connections fail once each)
            retry = client.post(url, json=body)
            if retry.status_code != 503:
                break
            time.sleep(0.1)
        assert retry.status_code == 200, retry.text
        assert [m["text"] for m in retry.json()["messages"]] == ["Ein Reisepass kostet 70 Euro."]
        assert [m["role"] for m in _history(redis_db, cid)] == ["citizen", "bot"]
        assert _events(redis_db, cid) == ["message_in", "bot_answer"]
        assert _transcript(redis_db, cid) == ["citizen", "bot"]
        assert len(rasa.requests) == 2  # its first answer was lost with Redis
        again = client.post(url, json=body)
        assert again.status_code == 200 and again.json()["messages"] == retry.json()["messages"]
        assert len(rasa.requests) == 2
    finally:
        proxy.stop()
