"""Conversations, their message history and handoff state, kept in Redis (never in process memory).

Because all live state is here, any gateway process can serve any conversation, and a gateway
restart loses nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import redis
from pydantic import BaseModel, Field

from bot.conversation.events import Event
from bot.conversation.privacy import redact

PREFIX = "bb"
EVENT_STREAM = f"{PREFIX}:events"
TRANSCRIPT_STREAM = f"{PREFIX}:messages"  # redacted copies for the durable SQL transcript
QUEUE = f"{PREFIX}:queue"
ACTIVE = f"{PREFIX}:active"  # conversation id -> last activity, for the console's live list
CONSOLE_CHANNEL = f"{PREFIX}:console"  # queue and presence changes, relayed to every console
EVENT_STREAM_MAXLEN = 200_000


class ConversationState(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    STAFF = "staff"
    CLOSED = "closed"


class Conversation(BaseModel):
    id: str
    channel: str = "web"
    state: ConversationState = ConversationState.BOT
    language: str = "de"
    service: str | None = None
    handoff_reason: str | None = None
    team: str | None = None  # responsible team while queued or staffed (from the service's zuständige Stelle)
    priority: int = 0  # 1 = urgent (e.g. a death in the family): served first
    queued_at: float | None = None
    assignee: str | None = None  # staff username holding the conversation
    assignee_name: str | None = None  # what the citizen sees
    taken_at: float | None = None
    first_staff_reply_at: float | None = None
    callback: dict[str, Any] | None = None  # contact request left outside office hours (kept only in Redis)
    created: float = Field(default_factory=time.time)
    updated: float = Field(default_factory=time.time)


class Button(BaseModel):
    title: str
    payload: str


class Message(BaseModel):
    """One message as channels show it; `seq` orders history and lets clients replay what they missed."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    conversation_id: str
    role: str  # citizen | bot | staff | system
    text: str
    buttons: list[Button] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)  # sources, service, handoff flags
    ts: float = Field(default_factory=time.time)
    seq: int = 0


def conversation_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}"


def history_key(conversation_id: str) -> str:
    return f"{PREFIX}:hist:{conversation_id}"


def channel_name(conversation_id: str) -> str:
    return f"{PREFIX}:live:{conversation_id}"


class ConversationStore:
    def __init__(self, client: redis.Redis, history_limit: int = 200, ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis = client
        self.history_limit = history_limit
        self.ttl_s = ttl_s

    def get(self, conversation_id: str) -> Conversation | None:
        raw = self.redis.get(conversation_key(conversation_id))
        return Conversation.model_validate_json(raw) if raw else None

    def save(self, conversation: Conversation) -> None:
        conversation.updated = time.time()
        self.redis.set(conversation_key(conversation.id), conversation.model_dump_json(), ex=self.ttl_s)

    def get_or_create(self, conversation_id: str, channel: str = "web") -> Conversation:
        existing = self.get(conversation_id)
        if existing:
            return existing
        conversation = Conversation(id=conversation_id, channel=channel)
        # NX: two processes creating the same conversation at once keep the first
        self.redis.set(conversation_key(conversation_id), conversation.model_dump_json(), ex=self.ttl_s, nx=True)
        return self.get(conversation_id) or conversation

    def update(self, conversation_id: str, **changes: Any) -> Conversation:
        """Change fields atomically (WATCH/MULTI): a staff takeover and a bot reply may race."""
        self.get_or_create(conversation_id)
        key = conversation_key(conversation_id)
        result: list[Conversation] = []

        def apply(pipe: redis.client.Pipeline) -> None:
            raw = pipe.get(key)
            current = Conversation.model_validate_json(raw) if raw else Conversation(id=conversation_id)
            updated = current.model_copy(update={**changes, "updated": time.time()})
            pipe.multi()
            pipe.set(key, updated.model_dump_json(), ex=self.ttl_s)
            result[:] = [updated]

        self.redis.transaction(apply, key)
        return result[0]

    def append(self, message: Message) -> Message:
        """Store a message with the next sequence number and publish it to live listeners."""
        return self.append_all([message])[0]

    def append_all(self, messages: list[Message], events: Sequence[Event] = ()) -> list[Message]:
        """Store messages of one conversation and events in one transaction (all of them or none)."""
        self.number(messages)
        pipe = self.redis.pipeline()
        for message in messages:
            self.queue_append(pipe, message)
        for event in events:
            self.queue_emit(pipe, event)
        pipe.execute()
        return messages

    def number(self, messages: list[Message]) -> None:
        """Give messages of one conversation the next sequence numbers (before they are stored).

        A number taken by a write that then fails is skipped: history keeps its order with a gap.
        """
        if not messages:
            return
        last = int(self.redis.incrby(f"{PREFIX}:seq:{messages[0].conversation_id}", len(messages)))
        for offset, message in enumerate(messages):
            message.seq = last - len(messages) + 1 + offset

    def queue_append(self, pipe: redis.client.Pipeline, message: Message) -> None:
        """The commands that store a numbered message and publish it, queued on `pipe` (a MULTI, so
        callers can store several messages, events and their own records in one transaction)."""
        raw = message.model_dump_json()
        pipe.rpush(history_key(message.conversation_id), raw)
        pipe.ltrim(history_key(message.conversation_id), -self.history_limit, -1)
        pipe.expire(history_key(message.conversation_id), self.ttl_s)
        pipe.expire(f"{PREFIX}:seq:{message.conversation_id}", self.ttl_s)
        pipe.zadd(ACTIVE, {message.conversation_id: message.ts})
        pipe.xadd(
            TRANSCRIPT_STREAM,
            {"message": message.model_copy(update={"text": redact(message.text)}).model_dump_json()},
            maxlen=EVENT_STREAM_MAXLEN,
            approximate=True,
        )
        pipe.publish(channel_name(message.conversation_id), json.dumps({"kind": "message", "message": json.loads(raw)}))

    def history(self, conversation_id: str, after_seq: int = 0) -> list[Message]:
        rows = self.redis.lrange(history_key(conversation_id), 0, -1)
        messages = [Message.model_validate_json(r) for r in rows]
        return [m for m in messages if m.seq > after_seq]

    def emit(self, event: Event) -> None:
        self.queue_emit(self.redis, event)

    @staticmethod
    def queue_emit(pipe: redis.Redis | redis.client.Pipeline, event: Event) -> None:
        """Append an event to the event stream (at once on a client, at EXEC on a transaction)."""
        pipe.xadd(
            EVENT_STREAM,
            {"event": event.model_dump_json()},
            maxlen=EVENT_STREAM_MAXLEN,
            approximate=True,
        )

    def publish_state(self, conversation_id: str, **frame: Any) -> None:
        """Tell live clients (widget, console) about a state change; they refetch what they need."""
        self.redis.publish(channel_name(conversation_id), json.dumps({"kind": "state", **frame}))
