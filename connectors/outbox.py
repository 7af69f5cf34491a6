"""Asynchronous delivery to messengers: staff and system messages written later (from the console).

Why it looks like this:
- The console only appends messages to the conversation (`ConversationStore.append`), which
  publishes them on `bb:live:{id}`. Every gateway process runs one outbox task with a pattern
  subscription on `bb:live:*`, so nothing in the console needs to know about messengers.
- Every process sees every message, so delivery is claimed first (`SET NX bb:delivered:{id}` with a
  TTL): exactly one process sends it. The webhook handlers claim the bot replies they send
  themselves the same way, and the outbox only looks at `staff` and `system` messages anyway.
- Messages of one conversation are delivered in the order they were published: one process holds a
  short, renewed lease per conversation and sends everything for it, catching up from the stored
  history in `seq` order (so a message another process skipped is never lost or overtaken). Within
  the process a chain of tasks per conversation keeps the order, while a slow messenger API for
  one citizen does not hold up the others.
- Pub/sub is fire-and-forget: if no gateway process runs when staff write, the citizen on a
  messenger gets that message only in the console history (see README). A lost Redis link is
  re-established with growing pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from redis.exceptions import RedisError

from bot.conversation.store import PREFIX, ConversationStore, Message
from connectors.common import ChannelSender
from connectors.messaging import deliver_once

log = logging.getLogger(__name__)
OUTBOX_ROLES = frozenset({"staff", "system"})
POLL_S = 25.0
LEASE_S = 15  # a crashed holder's conversations move to another process after this long
CATCH_UP_S = 10 * LEASE_S


class Outbox:
    def __init__(self, redis_url: str, store: ConversationStore, senders: dict[str, ChannelSender]) -> None:
        self.redis_url = redis_url
        self.store = store
        self.senders = senders
        self.ready = asyncio.Event()  # set once the subscription is active (tests wait for it)
        self.handled = 0  # staff/system messages for messengers this process looked at (sent or not)
        self.delivered = 0  # of those, sent by this process
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._token = uuid.uuid4().hex  # identifies this process's delivery leases

    async def run(self) -> None:
        backoff = 1.0
        while True:
            client = aioredis.Redis.from_url(self.redis_url, decode_responses=True, socket_connect_timeout=5)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(f"{PREFIX}:live:*")
                self.ready.set()
                backoff = 1.0
                while True:
                    item = await pubsub.get_message(timeout=POLL_S)
                    if item is None:
                        await pubsub.ping()  # raises when the link is gone
                        continue
                    if item.get("type") == "pmessage":
                        await self.handle(item.get("data"))
            except (RedisError, OSError) as exc:
                self.ready.clear()
                log.warning("outbox lost redis (%s); resubscribing in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()

    async def handle(self, raw: Any) -> None:
        """Queue one published frame for delivery if it is a staff/system message for a messenger."""
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict) or frame.get("kind") != "message":
                return
            message = Message.model_validate(frame.get("message"))
        except (TypeError, ValueError, ValidationError):
            return
        if message.role not in OUTBOX_ROLES:
            return
        conversation = await run_in_threadpool(self.store.get, message.conversation_id)
        sender = self.senders.get(conversation.channel) if conversation else None
        if sender is None:
            return
        previous = self._chains.get(message.conversation_id)
        task = asyncio.create_task(self._deliver_after(previous, sender, message))
        self._chains[message.conversation_id] = task
        task.add_done_callback(functools.partial(self._done, message.conversation_id))

    def _done(self, conversation_id: str, task: asyncio.Task[None]) -> None:
        if self._chains.get(conversation_id) is task:
            del self._chains[conversation_id]

    def _lease(self, conversation_id: str) -> bool:
        """Hold (or renew) this conversation's delivery lease; False when another process holds it."""
        key = f"{PREFIX}:outbox-lease:{conversation_id}"
        if self.store.redis.set(key, self._token, nx=True, ex=LEASE_S):
            return True
        if self.store.redis.get(key) == self._token:
            self.store.redis.expire(key, LEASE_S)
            return True
        return False

    async def _deliver_after(
        self, previous: asyncio.Task[None] | None, sender: ChannelSender, message: Message
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # keep the order; its failure is already logged
        try:
            if not await run_in_threadpool(self._lease, message.conversation_id):
                return  # the lease holder sends it, in order
            history = await run_in_threadpool(self.store.history, message.conversation_id)
            recent = message.ts - CATCH_UP_S  # older messages were settled long ago (their claims may expire)
            due = [m for m in history if m.role in OUTBOX_ROLES and m.seq <= message.seq and m.ts >= recent]
            due = due or [message]
            for item in due:  # earlier ones another process may have skipped; delivered ones are no-ops
                if await deliver_once(self.store.redis, sender, item):
                    self.delivered += 1
        except Exception:
            log.exception("outbox delivery of %s failed", message.id)
        finally:
            self.handled += 1

    async def drain(self) -> None:
        """Wait for deliveries in flight (shutdown, tests)."""
        while self._chains:
            await asyncio.wait(list(self._chains.values()))
