"""Matrix channel: a bot user that syncs with its homeserver (matrix-nio), for Matrix and BundesMessenger.

Why it looks like this:
- Matrix has no webhooks: the bot user long-polls `/sync`. Every gateway process runs the loop
  (started in the lifespan only when configured); each event is processed by exactly one of them
  because its event_id is claimed in Redis first, so running several workers is safe.
- Authenticity comes from the homeserver: we talk to it over HTTPS with the bot's access token and
  only act on events it hands us in sync responses.
- Invites are accepted automatically (a citizen starts a direct chat with the bot). The bot ignores
  its own messages and everything sent before this process started, so a restart never answers
  old questions again.
- Matrix has no buttons: options are shown as a numbered list and a reply "1", "2", ... maps back to
  the option's payload (the last list per conversation is kept in Redis).
- One conversation per room; rooms with more than two members are not served, because a handoff to
  staff would show the conversation to everyone there.
- End-to-end encrypted rooms need libolm, which we do not ship; encrypted events are logged and
  skipped (see README).
"""

from __future__ import annotations

import asyncio
import logging
import time

import nio
import redis

from bot.conversation.store import ConversationStore, Message
from bot.settings import Settings
from bot.turns.handler import TurnHandler
from connectors.common import (
    DeliveryError,
    display_text,
    forget_numbered_options,
    load_address,
    numbered_text,
    remember_options,
    split_text,
    usable_identifier,
)
from connectors.messaging import Inbound, MessengerGateway
from connectors.ratelimit import RateLimiter

log = logging.getLogger(__name__)
CHANNEL = "matrix"
TEXT_LIMIT = 16_000  # events are limited to 64 KiB; stay well below
SYNC_TIMEOUT_MS = 30_000
MAX_BACKOFF_S = 60.0


def client_config(settings: Settings) -> nio.AsyncClientConfig:
    """Bounded retries: nio would otherwise retry timeouts and rate limits forever."""
    return nio.AsyncClientConfig(
        max_timeouts=3,
        max_limit_exceeded=3,
        request_timeout=settings.outbound_timeout_s,
        encryption_enabled=False,
    )


class MatrixSender:
    """Sends stored messages to the conversation's room as plain `m.text` (numbered options)."""

    channel = CHANNEL

    def __init__(self, settings: Settings, client: nio.AsyncClient, store: redis.Redis) -> None:
        self.settings = settings
        self.client = client
        self.redis = store

    async def send(self, message: Message) -> None:
        address = load_address(self.redis, message.conversation_id)
        if not address or "room_id" not in address:
            raise DeliveryError(f"matrix: no room known for {message.conversation_id}")
        text = display_text(message)
        if message.buttons:
            ttl = self.settings.conversation_ttl_s
            remember_options(self.redis, message.conversation_id, message.buttons, ttl, numbered=True)
            text = numbered_text(text, message.buttons)
        else:
            forget_numbered_options(self.redis, message)
        for part in split_text(text, TEXT_LIMIT):
            try:
                response = await self.client.room_send(
                    address["room_id"], "m.room.message", {"msgtype": "m.text", "body": part}
                )
            except (nio.LocalProtocolError, OSError, TimeoutError) as exc:
                raise DeliveryError(f"matrix: {type(exc).__name__}") from None
            if isinstance(response, nio.RoomSendError):
                raise DeliveryError(f"matrix: {response.status_code} {response.message}")


class MatrixBot:
    """The sync loop and the mapping of sync responses to citizen messages."""

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        turns: TurnHandler,
        limiter: RateLimiter | None,
        started_ms: int | None = None,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        assert settings.matrix_homeserver_url and settings.matrix_user_id and settings.matrix_access_token
        self.settings = settings
        self.user_id = settings.matrix_user_id
        self.client = nio.AsyncClient(
            settings.matrix_homeserver_url,
            settings.matrix_user_id,
            device_id=settings.matrix_device_id,
            config=client_config(settings),
        )
        self.client.access_token = settings.matrix_access_token.get_secret_value()
        self.client.user_id = settings.matrix_user_id
        self.sender = MatrixSender(settings, self.client, store.redis)
        self.gateway = MessengerGateway(settings, store, turns, limiter, self.sender)
        self.started_ms = started_ms if started_ms is not None else int(time.time() * 1000)
        self.sync_timeout_ms = sync_timeout_ms
        self.next_batch: str | None = None
        self._warned_encrypted: set[str] = set()

    async def run(self) -> None:
        """Sync forever; errors are logged and retried with growing pauses, never fatal."""
        backoff = 1.0
        while True:
            try:
                response = await self.client.sync(timeout=self.sync_timeout_ms, since=self.next_batch)
                if isinstance(response, nio.SyncError):
                    raise RuntimeError(f"sync refused: {response.status_code} {response.message}")
                self.next_batch = response.next_batch
                await self.handle_sync(response)
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must survive network trouble and homeserver restarts
                log.warning("matrix sync failed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def close(self) -> None:
        await self.client.close()

    async def handle_sync(self, response: nio.SyncResponse) -> list[str]:
        """Join invited rooms and answer new citizen messages; returns one status per handled event."""
        statuses: list[str] = []
        for room_id in response.rooms.invite:
            joined = await self.client.join(room_id)
            if isinstance(joined, nio.JoinError):
                log.warning("matrix: could not join %s: %s", room_id, joined.message)
            else:
                log.info("matrix: joined %s", room_id)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                inbound = self.to_inbound(room_id, event)
                if inbound is not None:
                    statuses.append(await self.gateway.receive(inbound))
        return statuses

    def to_inbound(self, room_id: str, event: nio.Event) -> Inbound | None:
        if isinstance(event, nio.MegolmEvent):
            if room_id not in self._warned_encrypted:
                self._warned_encrypted.add(room_id)
                log.warning("matrix: encrypted room %s is not supported (no libolm); events skipped", room_id)
            return None
        if not isinstance(event, nio.RoomMessage) or event.sender == self.user_id:
            return None
        if not (usable_identifier(room_id) and usable_identifier(event.event_id)):
            # JSON can spell ids no Redis key or log line can hold; one must not stop the rest of the sync
            log.warning("matrix: event with an unusable id skipped")
            return None
        if isinstance(event, nio.RoomMessageNotice):
            return None  # notices are what bots send: answering them could start a bot-to-bot loop
        if event.server_timestamp < self.started_ms:
            return None  # sent before this process started: never answer old questions again
        room = self.client.rooms.get(room_id)
        if room is not None and room.member_count > 2:
            log.info("matrix: room %s has more than two members; not served", room_id)
            return None
        text = event.body if isinstance(event, nio.RoomMessageText) else None
        return Inbound(
            channel=CHANNEL,
            sender_id=room_id,
            address={"room_id": room_id},
            dedupe_id=event.event_id,
            text=text,
            sent_at=event.server_timestamp / 1000,
        )
