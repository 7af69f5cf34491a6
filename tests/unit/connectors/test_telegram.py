"""Telegram webhook against the real gateway and a real local HTTP server as the Bot API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User

from connectors.common import TEXTS
from tests.unit.connectors.conftest import TG_SECRET, TG_TOKEN, conversation_keys, telegram_settings
from tests.unit.connectors.fakes import FakeApi, Recorded

CITIZEN = User(id=4242, first_name="Erika", is_bot=False)
BOT = User(id=1, first_name="Bürgerbot", is_bot=True)
CHAT = Chat(id=4242, type=Chat.PRIVATE)
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}


def bot_api(recorded: Recorded) -> tuple[int, Any]:
    if recorded.path.endswith("/sendMessage"):
        return 200, {"ok": True, "result": {"message_id": len(recorded.path), "date": 0, "chat": {"id": 1}}}
    return 200, {"ok": True, "result": True}


@pytest.fixture
def telegram_api() -> Iterator[FakeApi]:
    fake = FakeApi(bot_api).start()
    yield fake
    fake.stop()


@pytest.fixture
def client(make_client, telegram_api):
    return make_client(**telegram_settings(telegram_api.url))


def text_update(update_id: int, text: str, chat: Chat = CHAT, when: dt.datetime | None = None) -> dict[str, Any]:
    message = Message(
        message_id=update_id,
        date=when or dt.datetime.now(dt.UTC),
        chat=chat,
        from_user=CITIZEN,
        text=text,
    )
    return json.loads(Update(update_id=update_id, message=message).to_json())


def button_update(update_id: int, data: str) -> dict[str, Any]:
    shown = Message(message_id=99, date=dt.datetime.now(dt.UTC), chat=CHAT, from_user=BOT, text="Optionen")
    query = CallbackQuery(id=f"cb{update_id}", from_user=CITIZEN, chat_instance="ci", data=data, message=shown)
    return json.loads(Update(update_id=update_id, callback_query=query).to_json())


def sent(api: FakeApi) -> list[Recorded]:
    return api.matching(lambda r: r.path == f"/bot{TG_TOKEN}/sendMessage")


def test_question_is_answered_with_inline_keyboard_and_button_press_maps_back(client, telegram_api, redis_db):
    question = text_update(1, "Was kostet ein Personalausweis?")
    response = client.post("/webhooks/telegram", json=question, headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "processed"}
    [reply] = sent(telegram_api)
    assert reply.body["chat_id"] == 4242
    assert "Personalausweis" in reply.body["text"]
    keyboard = reply.body["reply_markup"]["inline_keyboard"]
    assert keyboard, "answers offer the other sections of the service as buttons"
    first = keyboard[0][0]
    assert first["callback_data"].startswith("o:") and len(first["callback_data"].encode()) <= 64

    pressed = client.post("/webhooks/telegram", json=button_update(2, first["callback_data"]), headers=HEADERS)
    assert pressed.status_code == 200 and pressed.json() == {"status": "processed"}
    answered = telegram_api.matching(lambda r: r.path.endswith("/answerCallbackQuery"))
    assert [r.body["callback_query_id"] for r in answered] == ["cb2"]
    assert len(sent(telegram_api)) == 2
    [key] = conversation_keys(redis_db)
    conversation_id = key.removeprefix("bb:conv:")
    assert conversation_id.startswith("telegram-") and "4242" not in conversation_id  # pseudonymous
    history = client.get(f"/api/conversations/{conversation_id}").json()["messages"]
    citizen = [m["text"] for m in history if m["role"] == "citizen"]
    assert citizen == ["Was kostet ein Personalausweis?", first["text"]]  # the button's title, payload routed


def test_forged_or_missing_secret_is_rejected_and_changes_nothing(client, telegram_api, redis_db):
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}, {"X-Telegram-Bot-Api-Secret-Token": ""}):
        response = client.post("/webhooks/telegram", json=text_update(10, "Hallo"), headers=headers)
        assert response.status_code == 401
    assert conversation_keys(redis_db) == []
    assert telegram_api.requests == []
    # the update id was not burnt by the forgeries: the genuine delivery still works
    genuine = client.post("/webhooks/telegram", json=text_update(10, "Hallo"), headers=HEADERS)
    assert genuine.json() == {"status": "processed"}


def test_replayed_update_is_ignored(client, telegram_api, redis_db):
    update = text_update(20, "Was kostet ein Reisepass?")
    assert client.post("/webhooks/telegram", json=update, headers=HEADERS).json() == {"status": "processed"}
    [key] = conversation_keys(redis_db)
    history_before = redis_db.llen(key.replace("bb:conv:", "bb:hist:"))
    replay = client.post("/webhooks/telegram", json=update, headers=HEADERS)
    assert replay.status_code == 200 and replay.json() == {"status": "duplicate"}
    assert len(sent(telegram_api)) == 1
    assert redis_db.llen(key.replace("bb:conv:", "bb:hist:")) == history_before


def test_old_update_outside_the_replay_window_is_ignored(client, telegram_api, redis_db):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    response = client.post("/webhooks/telegram", json=text_update(30, "Hallo", when=old), headers=HEADERS)
    assert response.json() == {"status": "stale"}
    assert conversation_keys(redis_db) == [] and sent(telegram_api) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": 5, "message": {"chat": "x"}}',
        b'{"update_id": 5, "message": {"message_id": 1, "date": "soon", "chat": {"id": 1, "type": "private"}}}',
        b'{"update_id": true}',
        b"[" * 5000 + b"]" * 5000,
        b"[]",
    ],
)
def test_malformed_bodies_are_400_and_change_nothing(client, telegram_api, redis_db, body):
    response = client.post("/webhooks/telegram", content=body, headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert conversation_keys(redis_db) == [] and telegram_api.requests == []


def test_oversized_bodies_are_413(client, telegram_api, redis_db):
    big = json.dumps({"update_id": 1, "padding": "x" * 70_000}).encode()
    declared = client.post("/webhooks/telegram", content=big, headers={**HEADERS, "Content-Type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(100):
            yield b"x" * 1000

    streamed = client.post("/webhooks/telegram", content=chunks(), headers=HEADERS)
    assert streamed.status_code == 413
    assert conversation_keys(redis_db) == []


def test_control_characters_and_non_text_get_a_friendly_reply_without_processing(client, telegram_api, redis_db):
    response = client.post("/webhooks/telegram", json=text_update(40, "Hallo\x00\x07"), headers=HEADERS)
    assert response.json() == {"status": "control_chars"}
    sticker = text_update(41, "x")
    del sticker["message"]["text"]
    assert client.post("/webhooks/telegram", json=sticker, headers=HEADERS).json() == {"status": "not_text"}
    assert [r.body["text"] for r in sent(telegram_api)] == [TEXTS["control_chars"], TEXTS["not_text"]]
    assert conversation_keys(redis_db) == []


def test_group_chats_and_unknown_button_references_are_not_processed(client, telegram_api, redis_db):
    group = Chat(id=-100123, type=Chat.SUPERGROUP)
    response = client.post("/webhooks/telegram", json=text_update(50, "Hallo", chat=group), headers=HEADERS)
    assert response.json() == {"status": "ignored"}
    forged_button = client.post("/webhooks/telegram", json=button_update(51, "o:deadbeef:0"), headers=HEADERS)
    assert forged_button.json() == {"status": "option_expired"}
    assert [r.body["text"] for r in sent(telegram_api)] == [TEXTS["option_expired"]]
    assert conversation_keys(redis_db) == []


def test_sender_rate_limit_sends_one_friendly_notice(make_client, telegram_api, redis_db):
    client = make_client(**telegram_settings(telegram_api.url, rate_limit_per_conversation=2))
    statuses = [
        client.post("/webhooks/telegram", json=text_update(60 + i, f"Hallo {i}"), headers=HEADERS).json()["status"]
        for i in range(4)
    ]
    assert statuses == ["processed", "processed", "rate_limited", "rate_limited"]
    notices = [r for r in sent(telegram_api) if r.body["text"] == TEXTS["rate_limited"]]
    assert len(notices) == 1


def test_start_command_greets(client, telegram_api):
    response = client.post("/webhooks/telegram", json=text_update(70, "/start"), headers=HEADERS)
    assert response.json() == {"status": "processed"}
    assert len(sent(telegram_api)) == 1


def test_unconfigured_telegram_answers_404(make_client, redis_db):
    client = make_client()
    response = client.post("/webhooks/telegram", json=text_update(1, "Hallo"), headers=HEADERS)
    assert response.status_code == 404
    assert "nicht eingerichtet" in response.json()["detail"]
    assert conversation_keys(redis_db) == []
