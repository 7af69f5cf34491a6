"""WhatsApp channel (WhatsApp Business Cloud API): signed webhooks in, Graph API messages out.

Why it looks like this:
- Authenticity: Meta signs every webhook body with the app secret (`X-Hub-Signature-256:
  sha256=<hex HMAC-SHA256 of the raw body>`). We verify it over the exact bytes received, in
  constant time, before parsing anything.
- Payloads are validated with our own pydantic models of the Cloud API's webhook format, lenient
  about fields we do not use (Meta adds fields over time), strict about the ones we do.
- Buttons: WhatsApp allows at most 3 reply buttons with titles of at most 20 characters, or a
  list of at most 10 rows (titles up to 24). We use whichever fits; otherwise a numbered text list,
  and a typed number picks the option. Interactive bodies are limited to 1024 characters, so a
  longer answer is sent as text first and the buttons follow with a short prompt.
- Replay protection uses the message id (`wamid...`) plus its timestamp (see `connectors.messaging`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import httpx
import redis
from pydantic import BaseModel, ConfigDict, Field

from bot.conversation.store import Button, Message
from bot.settings import Settings
from connectors.common import (
    DeliveryError,
    display_text,
    forget_numbered_options,
    load_address,
    numbered_text,
    option_ref,
    remember_options,
    split_text,
)
from connectors.messaging import Inbound
from wording import texts

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
MAX_REPLY_BUTTONS, REPLY_TITLE_LIMIT = 3, 20
MAX_LIST_ROWS, LIST_TITLE_LIMIT = 10, 24


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class WaText(_Lenient):
    body: str


class WaReply(_Lenient):
    id: str
    title: str = ""


class WaInteractive(_Lenient):
    type: str
    button_reply: WaReply | None = None
    list_reply: WaReply | None = None


class WaQuickReply(_Lenient):
    text: str = ""
    payload: str = ""


class WaMessage(_Lenient):
    sender: str = Field(alias="from", min_length=1, max_length=32)
    id: str = Field(min_length=1, max_length=256)
    timestamp: int | None = None
    type: str
    text: WaText | None = None
    interactive: WaInteractive | None = None
    button: WaQuickReply | None = None


class WaMetadata(_Lenient):
    phone_number_id: str


class WaValue(_Lenient):
    metadata: WaMetadata | None = None
    messages: list[WaMessage] = Field(default_factory=list)


class WaChange(_Lenient):
    field: str
    value: WaValue


class WaEntry(_Lenient):
    changes: list[WaChange] = Field(default_factory=list)


class WaWebhook(_Lenient):
    object: str
    entry: list[WaEntry]


def signature_valid(settings: Settings, body: bytes, header: str | None) -> bool:
    """`sha256=<hex>` over the raw body with the app secret, compared in constant time."""
    assert settings.whatsapp_app_secret is not None
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(settings.whatsapp_app_secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower().encode(), expected.encode())


def to_inbound(settings: Settings, webhook: WaWebhook) -> list[Inbound]:
    """Citizen messages to our number; statuses (sent/read receipts) and other numbers are skipped."""
    inbound: list[Inbound] = []
    for entry in webhook.entry:
        for change in entry.changes:
            value = change.value
            if change.field != "messages" or value.metadata is None:
                continue
            if value.metadata.phone_number_id != settings.whatsapp_phone_number_id:
                log.info("whatsapp: message for another number ignored")
                continue
            for message in value.messages:
                text: str | None = None
                ref: str | None = None
                if message.type == "text" and message.text is not None:
                    text = message.text.body
                elif message.type == "interactive" and message.interactive is not None:
                    reply = message.interactive.button_reply or message.interactive.list_reply
                    ref = reply.id if reply else None
                elif message.type == "button" and message.button is not None:
                    text = message.button.text or None
                inbound.append(
                    Inbound(
                        channel=CHANNEL,
                        sender_id=message.sender,
                        address={"wa_id": message.sender},
                        dedupe_id=message.id,
                        text=text,
                        option_ref=ref,
                        sent_at=float(message.timestamp) if message.timestamp is not None else None,
                    )
                )
    return inbound


class WhatsAppSender:
    """Sends stored messages through the Graph API `/{phone_number_id}/messages`."""

    channel = CHANNEL

    def __init__(self, settings: Settings, http: httpx.AsyncClient, client: redis.Redis) -> None:
        assert settings.whatsapp_access_token is not None
        self.settings = settings
        self.http = http
        self.redis = client
        self._url = f"{settings.whatsapp_api_base_url.rstrip('/')}/{settings.whatsapp_phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {settings.whatsapp_access_token.get_secret_value()}"}

    async def post(self, to: str, content: dict[str, Any]) -> None:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **content}
        try:
            response = await self.http.post(self._url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"whatsapp: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise DeliveryError(f"whatsapp: HTTP {response.status_code}")

    async def send(self, message: Message) -> None:
        address = load_address(self.redis, message.conversation_id)
        if not address or "wa_id" not in address:
            raise DeliveryError(f"whatsapp: no number known for {message.conversation_id}")
        to = str(address["wa_id"])
        for content in self.render(message):
            await self.post(to, content)

    def render(self, message: Message) -> list[dict[str, Any]]:
        """The Cloud API messages for one of our messages (text, reply buttons, list or numbered text)."""
        text, buttons = display_text(message), message.buttons
        conversation_id = message.conversation_id
        fits_buttons = len(buttons) <= MAX_REPLY_BUTTONS and all(len(b.title) <= REPLY_TITLE_LIMIT for b in buttons)
        fits_list = len(buttons) <= MAX_LIST_ROWS and all(len(b.title) <= LIST_TITLE_LIMIT for b in buttons)
        if buttons and not (fits_buttons or fits_list):
            remember_options(self.redis, conversation_id, buttons, self.settings.conversation_ttl_s, numbered=True)
            return [_text(part) for part in split_text(numbered_text(text, buttons), TEXT_LIMIT)]
        forget_numbered_options(self.redis, message)
        if not buttons:
            return [_text(part) for part in split_text(text, TEXT_LIMIT)]
        contents: list[dict[str, Any]] = []
        body = text
        if len(text) > INTERACTIVE_BODY_LIMIT:
            contents = [_text(part) for part in split_text(text, TEXT_LIMIT)]
            body = texts.CHOOSE_PROMPT
        token = remember_options(self.redis, conversation_id, buttons, self.settings.conversation_ttl_s)
        interactive = _reply_buttons(body, buttons, token) if fits_buttons else _list(body, buttons, token)
        contents.append({"type": "interactive", "interactive": interactive})
        return contents


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def _reply_buttons(body: str, buttons: list[Button], token: str) -> dict[str, Any]:
    return {
        "type": "button",
        "body": {"text": body},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": option_ref(token, i), "title": b.title}}
                for i, b in enumerate(buttons)
            ]
        },
    }


def _list(body: str, buttons: list[Button], token: str) -> dict[str, Any]:
    return {
        "type": "list",
        "body": {"text": body},
        "action": {
            "button": texts.LIST_BUTTON,
            "sections": [{"rows": [{"id": option_ref(token, i), "title": b.title} for i, b in enumerate(buttons)]}],
        },
    }
