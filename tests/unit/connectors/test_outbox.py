"""Asynchronous delivery of staff/system messages: two gateway apps on one Redis deliver each exactly once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from telegram import Chat, Update, User
from telegram import Message as TgMessage

from bot.conversation.store import ConversationStore, Message
from connectors.common import claim, delivered_key
from tests.unit.connectors.conftest import TG_SECRET, TG_TOKEN, conversation_keys, telegram_settings
from tests.unit.connectors.fakes import FakeApi, Recorded, wait_until

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def bot_api(recorded: Recorded) -> tuple[int, Any]:
    return 200, {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1}}}


@pytest.fixture
def telegram_api() -> Iterator[FakeApi]:
    fake = FakeApi(bot_api).start()
    yield fake
    fake.stop()


def update(update_id: int, text: str) -> dict[str, Any]:
    message = TgMessage(
        message_id=update_id,
        date=dt.datetime.now(dt.UTC),
        chat=Chat(id=777, type=Chat.PRIVATE),
        from_user=User(id=777, first_name="Max", is_bot=False),
        text=text,
    )
    return json.loads(Update(update_id=update_id, message=message).to_json())


def sends(api: FakeApi) -> list[Recorded]:
    return api.matching(lambda r: r.path == f"/bot{TG_TOKEN}/sendMessage")


def test_two_gateways_deliver_staff_and_system_messages_exactly_once(make_client, telegram_api, redis_db):
    first = make_client(**telegram_settings(telegram_api.url))
    second = make_client(**telegram_settings(telegram_api.url))
    outboxes = [first.app.state.channels.outbox, second.app.state.channels.outbox]
    wait_until(lambda: all(o.ready.is_set() for o in outboxes), "both outboxes subscribed")

    assert first.post("/webhooks/telegram", json=update(1, "Was kostet ein Reisepass?"), headers=HEADERS).json() == {
        "status": "processed"
    }
    assert len(sends(telegram_api)) == 1  # the bot reply, sent by the webhook handler only
    [key] = conversation_keys(redis_db)
    conversation_id = key.removeprefix("bb:conv:")

    store = ConversationStore(redis_db)
    store.append(Message(conversation_id=conversation_id, role="system", text="Frau Huber ist jetzt für Sie da."))
    store.append(Message(conversation_id=conversation_id, role="staff", text="Guten Tag, wie kann ich helfen?"))
    wait_until(lambda: all(o.handled >= 2 for o in outboxes), "both outboxes handled both messages")
    texts = [r.body["text"] for r in sends(telegram_api)]
    assert texts[1:] == [
        "Hinweis:\nFrau Huber ist jetzt für Sie da.",
        "Mitarbeiterin oder Mitarbeiter:\nGuten Tag, wie kann ich helfen?",
    ]
    assert sum(o.delivered for o in outboxes) == 2
    assert all(r.body["chat_id"] == 777 for r in sends(telegram_api))


def test_outbox_skips_bot_replies_claimed_messages_and_web_conversations(make_client, telegram_api, redis_db):
    client = make_client(**telegram_settings(telegram_api.url))
    outbox = client.app.state.channels.outbox
    wait_until(outbox.ready.is_set, "outbox subscribed")
    client.post("/webhooks/telegram", json=update(5, "Hallo"), headers=HEADERS)
    conversation_id = conversation_keys(redis_db)[0].removeprefix("bb:conv:")
    store = ConversationStore(redis_db)

    # a bot message published later is not the outbox's job (the handler that produced it sends it)
    store.append(Message(conversation_id=conversation_id, role="bot", text="Bot-Antwort"))
    # a staff message some process already delivered (claimed) must not go out again
    claimed = Message(conversation_id=conversation_id, role="staff", text="Schon zugestellt")
    assert claim(redis_db, delivered_key(claimed.id), 60)
    store.append(claimed)
    # a web conversation is served by the widget's socket, not by a messenger
    web = store.get_or_create("web-0123456789abcdef", "web")
    store.append(Message(conversation_id=web.id, role="staff", text="Für das Widget"))
    # then a marker that must arrive: everything before it was handled by then (same conversation, in order)
    store.append(Message(conversation_id=conversation_id, role="staff", text="Marker"))
    wait_until(lambda: outbox.handled >= 2, "outbox handled the staff messages")
    texts = [r.body["text"] for r in sends(telegram_api)]
    assert texts[-1] == "Mitarbeiterin oder Mitarbeiter:\nMarker"
    assert not any("Bot-Antwort" in t or "Schon zugestellt" in t or "Für das Widget" in t for t in texts)
    assert outbox.delivered == 1
