"""The part of every messenger connector that is the same for Telegram, WhatsApp and Matrix.

A connector verifies authenticity and turns the messenger's payload into an `Inbound`; from there
this module does the rest in one order, so every channel behaves alike:
1. replay protection: the messenger's own id (update, message or event id) is claimed in Redis
   once (SET NX with TTL), and events older than that TTL are ignored, so a replay outside the
   dedupe window cannot slip through either;
2. the pseudonymous conversation id and the reply address (see `connectors.common`);
3. the per-sender rate limit (a friendly German notice, sent at most once per window);
4. button references and typed numbers back to the payload of an option we offered;
5. text checks (control characters, length) with a friendly reply instead of processing;
6. the turn handler, and delivery of its replies, each claimed as delivered first so the
   outbox (which also sees them on pub/sub) can never send them a second time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from bot.conversation.store import PREFIX, ConversationStore, Message
from bot.settings import Settings
from bot.turns.handler import TurnHandler
from connectors.common import (
    DELIVERED_TTL_S,
    TRANSIENT,
    ChannelSender,
    DeliveryError,
    citizen_text,
    claim,
    delivered_key,
    pseudonymous_id,
    resolve_number,
    resolve_option_ref,
    save_address,
    text_problem,
)
from connectors.ratelimit import RateLimiter

log = logging.getLogger(__name__)
SEND_ATTEMPTS = 3


@dataclass
class Inbound:
    """One citizen message as any messenger delivers it, already authenticated."""

    channel: str  # telegram | whatsapp | matrix
    sender_id: str  # stable per citizen/chat: the pseudonym is derived from it
    address: dict[str, Any]  # what the sender needs to reach the citizen again
    dedupe_id: str  # the messenger's id of this update/message/event
    text: str | None = None  # None: not a text (photo, sticker, ...)
    option_ref: str | None = None  # a button reference we created (`o:<token>:<i>`)
    sent_at: float | None = None  # unix time the messenger says it was sent
    extra: dict[str, Any] = field(default_factory=dict)


async def send_with_retry(sender: ChannelSender, message: Message) -> None:
    """Messenger APIs fail now and then; three tries with a short pause, then give up loudly."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await sender.send(message)
            return
        except DeliveryError as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            log.warning("%s delivery attempt %d failed: %s", sender.channel, attempt, exc)
            await asyncio.sleep(0.5 * attempt)


async def deliver_once(client: redis.Redis, sender: ChannelSender, message: Message) -> bool:
    """Send a stored message unless another process (or the outbox) already claimed it."""
    if not claim(client, delivered_key(message.id), DELIVERED_TTL_S):
        return False
    try:
        await send_with_retry(sender, message)
    except DeliveryError as exc:
        log.error("%s message %s not delivered: %s", sender.channel, message.id, exc)
        return False
    return True


class MessengerGateway:
    """Takes authenticated inbound messages of one channel into the turn handler."""

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        turns: TurnHandler,
        limiter: RateLimiter | None,
        sender: ChannelSender,
    ) -> None:
        self.settings = settings
        self.store = store
        self.turns = turns
        self.limiter = limiter
        self.sender = sender

    @property
    def redis(self) -> redis.Redis:
        return self.store.redis

    async def notify(self, conversation_id: str, key: str) -> None:
        """A transport-level hint (not part of the conversation history)."""
        text = citizen_text(key, self.settings.max_question_chars)  # "too long" names the configured limit
        notice = Message(conversation_id=conversation_id, role="bot", text=text, data={TRANSIENT: True})
        try:
            await send_with_retry(self.sender, notice)
        except DeliveryError as exc:
            log.error("%s notice not delivered: %s", self.sender.channel, exc)

    def conversation_id(self, inbound: Inbound) -> str:
        return pseudonymous_id(self.redis, inbound.channel, inbound.sender_id)

    async def receive(self, inbound: Inbound) -> str:
        """Process one message; returns what happened (for logs and tests), never raises for bad input."""
        window = self.settings.webhook_replay_window_s
        if inbound.sent_at is not None and time.time() - inbound.sent_at > window:
            log.info("%s: ignored stale event %s", inbound.channel, inbound.dedupe_id)
            return "stale"
        seen = f"{PREFIX}:seen:{inbound.channel}:{inbound.dedupe_id}"
        if not claim(self.redis, seen, window):
            log.info("%s: ignored replayed event %s", inbound.channel, inbound.dedupe_id)
            return "duplicate"
        try:
            return await self._process(inbound)
        except Exception:
            self.redis.delete(seen)  # the messenger retries an unanswered webhook; let that retry through
            raise

    async def _process(self, inbound: Inbound) -> str:
        conversation_id = self.conversation_id(inbound)
        save_address(self.redis, conversation_id, inbound.address, self.settings.conversation_ttl_s)
        if self.limiter is not None and self.limiter.wait_s(self.limiter.conversation(conversation_id)) > 0:
            log.info("%s: sender over the rate limit (%s)", inbound.channel, conversation_id)
            if claim(self.redis, f"{PREFIX}:rl-notice:{conversation_id}", self.settings.rate_limit_window_s):
                await self.notify(conversation_id, "rate_limited")
            return "rate_limited"
        text, payload = inbound.text, None
        if inbound.option_ref is not None:
            button = resolve_option_ref(self.redis, conversation_id, inbound.option_ref)
            if button is None:
                await self.notify(conversation_id, "option_expired")
                return "option_expired"
            text, payload = button.title, button.payload
        elif text is not None:
            button = resolve_number(self.redis, conversation_id, text)
            if button is not None:
                text, payload = button.title, button.payload
        if text is None:
            await self.notify(conversation_id, "not_text")
            return "not_text"
        problem = text_problem(text, self.settings.max_question_chars)
        if problem:
            await self.notify(conversation_id, problem)
            return problem
        replies = await self.turns.handle(conversation_id, text.strip(), channel=inbound.channel, payload=payload)
        for reply in replies:
            await deliver_once(self.redis, self.sender, reply)
        return "processed"
