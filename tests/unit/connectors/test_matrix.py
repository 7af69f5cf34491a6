"""Matrix bot: recorded sync responses (real client-server format, parsed by matrix-nio) served by a
real local HTTP server acting as the homeserver, with the gateway's own sync loop running in its lifespan.

Events in the recordings with `origin_server_ts` before 2023-11 (1_700_000_000_000) stand for history
from before the bot started; later ones are replayed as if they happened now (their timestamps are
moved to the time of the test), so the "ignore old events" rule is tested with a real clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import nio
import pytest

from bot.conversation.store import ConversationStore, Message
from bot.settings import PROJECT_ROOT, Settings
from bot.turns.presentation import strip_source_lines
from connectors.common import TEXTS, pseudonymous_id
from tests.unit.connectors.conftest import conversation_keys
from tests.unit.connectors.fakes import FakeApi, Recorded

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "matrix"
BOT = "@buergerbot:example.org"
TOKEN = "syt_bot_token"
DIRECT = "!DirectRoom:example.org"
RECORDED_NOW = 1_700_000_000_000


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"matrix_sync_{name}.json").read_text(encoding="utf-8"))


def replayed_now(sync: dict[str, Any]) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    for room in sync["rooms"].get("join", {}).values():
        for event in room.get("timeline", {}).get("events", []):
            if event["origin_server_ts"] >= RECORDED_NOW:
                event["origin_server_ts"] = now_ms + event["origin_server_ts"] % 100_000
    return sync


EMPTY_SYNC = {"next_batch": "s-empty", "rooms": {"invite": {}, "join": {}, "leave": {}}}


class Homeserver:
    """Serves the recorded syncs in order (then empty long-polls), accepts joins and sends."""

    def __init__(self, syncs: list[dict[str, Any]]) -> None:
        self.syncs = list(syncs)
        self.lock = threading.Lock()
        self.api = FakeApi(self.respond).start()

    def respond(self, recorded: Recorded) -> tuple[int, Any]:
        if recorded.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"errcode": "M_UNKNOWN_TOKEN", "error": "bad token"}
        path = recorded.path
        if path == "/_matrix/client/v3/sync":
            with self.lock:
                next_sync = self.syncs.pop(0) if self.syncs else None
            if next_sync is None:
                time.sleep(0.2)  # a long-poll with nothing new
                return 200, EMPTY_SYNC
            return 200, next_sync
        if path.startswith("/_matrix/client/v3/join/"):
            return 200, {"room_id": path.rsplit("/", 1)[1]}
        if "/send/m.room.message/" in path:
            return 200, {"event_id": f"$sent{time.time_ns()}"}
        return 404, {"errcode": "M_UNRECOGNIZED", "error": path}

    def sends(self, room: str = DIRECT) -> list[Recorded]:
        prefix = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/"
        return self.api.matching(lambda r: r.method == "PUT" and r.path.startswith(prefix))


@pytest.fixture
def homeserver() -> Iterator[Homeserver]:
    server = Homeserver([load("initial"), replayed_now(load("question")), replayed_now(load("choice"))])
    yield server
    server.api.stop()


def matrix_settings(url: str) -> dict[str, Any]:
    return {"matrix_homeserver_url": url, "matrix_user_id": BOT, "matrix_access_token": TOKEN}


def test_recordings_are_real_sync_responses():
    for name in ("initial", "question", "choice"):
        assert isinstance(nio.SyncResponse.from_dict(load(name)), nio.SyncResponse)


def test_sync_loop_answers_new_messages_maps_numbers_and_delivers_staff_replies(make_client, homeserver, redis_db):
    client = make_client(**matrix_settings(homeserver.api.url))
    # each recording is processed completely before the next /sync is requested: after the 4th request,
    # all three recordings are done
    homeserver.api.wait_for(lambda r: r.path == "/_matrix/client/v3/sync", count=4)

    joins = homeserver.api.matching(lambda r: r.path.startswith("/_matrix/client/v3/join/"))
    assert [r.path for r in joins] == ["/_matrix/client/v3/join/!InviteRoom:example.org"]
    assert homeserver.sends("!GroupRoom:example.org") == []  # rooms with more than two members are not served

    answer, image_notice, chosen = (r.body for r in homeserver.sends())  # old, own and repeated events: no reply
    assert answer["msgtype"] == "m.text" and "Personalausweis" in answer["body"]
    assert "\n1. " in answer["body"] and TEXTS["choose_number"] in answer["body"]
    first_option = answer["body"].split("\n1. ", 1)[1].split("\n", 1)[0]
    assert image_notice["body"] == TEXTS["not_text"]

    conversation_id = pseudonymous_id(redis_db, "matrix", DIRECT)
    assert conversation_keys(redis_db) == [f"bb:conv:{conversation_id}"]
    history = client.get(f"/api/conversations/{conversation_id}").json()["messages"]
    assert [m["text"] for m in history if m["role"] == "citizen"] == ["Was kostet ein Personalausweis?", first_option]
    stored = history[-1]  # the answer for the chosen option, its sources once at the end (bot.turns.presentation)
    assert chosen["body"].startswith(strip_source_lines(stored["text"], stored["data"]))

    # a member of staff answers later (the console appends to the conversation): the outbox sends it
    store = ConversationStore(redis_db)
    outbox = client.app.state.channels.outbox
    assert outbox is not None
    store.append(Message(conversation_id=conversation_id, role="staff", text="Ich schaue mir das gleich an."))
    [*_, staff] = homeserver.api.wait_for(
        lambda r: r.method == "PUT" and "Ich schaue mir das gleich an." in json.dumps(r.body, ensure_ascii=False)
    )
    assert staff.body["body"] == "Mitarbeiterin oder Mitarbeiter:\nIch schaue mir das gleich an."


def test_handle_sync_ignores_own_old_and_encrypted_events(make_client, homeserver, redis_db):
    from connectors.matrix.connector import MatrixBot

    app = make_client().app  # no Matrix configured: the bot is built here, without its loop
    settings = Settings(**{**app.state.settings.model_dump(), **matrix_settings(homeserver.api.url)})
    bot = MatrixBot(settings, app.state.store, app.state.turns, app.state.limiter)
    room = DIRECT
    own = nio.RoomMessageText.from_dict(
        {"type": "m.room.message", "sender": BOT, "event_id": "$o", "origin_server_ts": int(time.time() * 1000),
         "content": {"msgtype": "m.text", "body": "x"}}
    )  # fmt: skip
    old = nio.RoomMessageText.from_dict(
        {"type": "m.room.message", "sender": "@erika:example.org", "event_id": "$old", "origin_server_ts": 1,
         "content": {"msgtype": "m.text", "body": "x"}}
    )  # fmt: skip
    encrypted = nio.Event.parse_encrypted_event(
        {"type": "m.room.encrypted", "sender": "@erika:example.org", "event_id": "$e",
         "origin_server_ts": int(time.time() * 1000),
         "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA", "sender_key": "k",
                     "device_id": "D", "session_id": "s"}}
    )  # fmt: skip
    notice = nio.RoomMessageNotice.from_dict(
        {"type": "m.room.message", "sender": "@otherbot:example.org", "event_id": "$n",
         "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.notice", "body": "Ich bin ein Bot"}}
    )  # fmt: skip
    assert [bot.to_inbound(room, event) for event in (own, old, encrypted, notice)] == [None, None, None, None]
    fresh = nio.RoomMessageText.from_dict(
        {"type": "m.room.message", "sender": "@erika:example.org", "event_id": "$f",
         "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.text", "body": "Hallo"}}
    )  # fmt: skip
    inbound = bot.to_inbound(room, fresh)
    assert inbound is not None and inbound.text == "Hallo" and inbound.address == {"room_id": DIRECT}
