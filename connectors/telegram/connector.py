"""Telegram channel: the Bot API webhook in, `sendMessage` with inline keyboards out.

Why it looks like this:
- Authenticity: Telegram sends the `secret_token` we registered with `setWebhook` in the header
  `X-Telegram-Bot-Api-Secret-Token`; it is compared in constant time before the body is read.
- Parsing uses python-telegram-bot's own types (`Update.de_json`), so we follow the Bot API's
  field names and nesting exactly, and replies are built from its `InlineKeyboardMarkup`.
- Only private chats are served: in a group, a citizen's question (and later a handoff to staff)
  would be visible to everyone there.
- Button presses (`callback_query`) carry a short reference to the options we sent (Telegram
  allows 64 bytes of callback data), and are always acknowledged with `answerCallbackQuery` so
  the citizen's app stops its spinner.
- We call the Bot API with httpx at a configurable base URL (a local Bot API server, or the fake
  one in the tests). The token is part of the URL, so URLs are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import redis
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.conversation.store import Message
from bot.settings import Settings
from connectors.common import (
    DeliveryError,
    constant_time_equal,
    display_text,
    forget_numbered_options,
    load_address,
    option_ref,
    remember_options,
    split_text,
    usable_identifier,
)
from connectors.messaging import Inbound

log = logging.getLogger(__name__)
CHANNEL = "telegram"
TEXT_LIMIT = 4096  # Bot API limit per message


class TelegramSender:
    """Sends stored messages to a Telegram chat (the chat id is looked up by conversation id)."""

    channel = CHANNEL

    def __init__(self, settings: Settings, http: httpx.AsyncClient, client: redis.Redis) -> None:
        assert settings.telegram_bot_token is not None
        self.settings = settings
        self.http = http
        self.redis = client
        self._base = f"{settings.telegram_api_base_url.rstrip('/')}/bot{settings.telegram_bot_token.get_secret_value()}"

    async def call(self, method: str, body: dict[str, Any]) -> Any:
        """One Bot API call; errors name the method and Telegram's description, never the URL (token)."""
        try:
            response = await self.http.post(f"{self._base}/{method}", json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"telegram {method}: {type(exc).__name__}") from None
        try:
            result = response.json()
        except ValueError:
            result = {}
        if response.status_code != 200 or not isinstance(result, dict) or not result.get("ok"):
            description = result.get("description") if isinstance(result, dict) else None
            raise DeliveryError(f"telegram {method}: HTTP {response.status_code} {description or ''}".strip())
        return result.get("result")

    def keyboard(self, conversation_id: str, message: Message) -> dict[str, Any] | None:
        if not message.buttons:
            return None
        token = remember_options(self.redis, conversation_id, message.buttons, self.settings.conversation_ttl_s)
        rows = [
            [InlineKeyboardButton(button.title, callback_data=option_ref(token, index))]
            for index, button in enumerate(message.buttons)
        ]
        return InlineKeyboardMarkup(rows).to_dict()

    async def send(self, message: Message) -> None:
        address = load_address(self.redis, message.conversation_id)
        if not address or "chat_id" not in address:
            raise DeliveryError(f"telegram: no chat known for {message.conversation_id}")
        markup = self.keyboard(message.conversation_id, message)
        forget_numbered_options(self.redis, message)
        parts = split_text(display_text(message), TEXT_LIMIT)
        for index, part in enumerate(parts):
            body: dict[str, Any] = {
                "chat_id": address["chat_id"],
                "text": part,
                "link_preview_options": {"is_disabled": True},
            }
            if markup and index == len(parts) - 1:
                body["reply_markup"] = markup
            await self.call("sendMessage", body)

    async def answer_callback(self, callback_query_id: str) -> None:
        try:
            await self.call("answerCallbackQuery", {"callback_query_id": callback_query_id})
        except DeliveryError as exc:
            log.warning("%s", exc)


def authentic(settings: Settings, header: str | None) -> bool:
    assert settings.telegram_webhook_secret is not None
    return constant_time_equal(header, settings.telegram_webhook_secret.get_secret_value())


class MalformedUpdateError(ValueError):
    pass


def parse_update(data: Any) -> Update:
    """PTB's parser on untrusted JSON: any failure or missing essentials is a malformed update."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(data["update_id"], bool):
        raise MalformedUpdateError("update_id missing")
    try:
        update = Update.de_json(data, bot=None)
    except Exception as exc:  # a third-party parser meeting arbitrary input: any error means "malformed"
        raise MalformedUpdateError(type(exc).__name__) from exc
    if update is None:
        raise MalformedUpdateError("empty update")
    return update


def to_inbound(update: Update) -> Inbound | None:
    """Map a parsed update; None for updates we do not serve (edits, channels, groups, polls, ...)."""
    callback = update.callback_query
    if callback is not None:
        chat = callback.message.chat if callback.message is not None else None
        if chat is None or chat.type != "private" or not callback.data or not usable_identifier(callback.id):
            return None  # an unusable id could not even be acknowledged (the Bot API call would fail)
        return Inbound(
            channel=CHANNEL,
            sender_id=str(chat.id),
            address={"chat_id": chat.id},
            dedupe_id=str(update.update_id),
            option_ref=callback.data,
            extra={"callback_query_id": callback.id},
        )
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    text = message.text
    if text is not None and (text == "/start" or text.startswith("/start ")):
        text = "Hallo"  # Telegram's "Start" button: greet instead of treating it as a question
    return Inbound(
        channel=CHANNEL,
        sender_id=str(message.chat.id),
        address={"chat_id": message.chat.id},
        dedupe_id=str(update.update_id),
        text=text,
        sent_at=message.date.timestamp() if message.date else None,
    )
