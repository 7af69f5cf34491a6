"""One receipt per client message id: a message the client sends again is answered and stored once.

Why: a client that got no answer cannot know whether its message arrived. The widget (its socket
dropped, its POST got no response) and partner portals send it again, and before client message ids
the gateway stored and answered the same message twice. Now the client names each message
(`client_message_id`, rule in `bot.conversation.ids`) and the turn handler keeps, per conversation
and id, a receipt of what it has done with that message:

1. `citizen`: the citizen's message is stored (and its `message_in` event written);
2. `rasa`: Rasa's reply items are in (Rasa has seen the message, so it is not sent to Rasa again);
3. `replies`: the bot's replies (and their events) are stored, and which handoffs they ask for;
4. `answered`: everything the citizen got; a later copy of the message gets exactly this answer.

Each stage is written in the same Redis transaction as the messages and events it stores, and only
while the attempt still holds the message's lease (`bot.conversation.claims.Lease`, WATCHed in that
transaction). So whatever point an attempt fails at (Redis restarting, the network, Rasa), a retry
with the same id continues from the last written stage and never stores a message twice. A stage
already on record (an EXEC that ran although its answer was lost) is not written again.

Privacy: a receipt holds the messages the conversation's history holds (and, until the turn is
done, Rasa's reply items, from which the bot's messages are built); a finished receipt keeps only
the answer. It expires after a day, and never later than the conversation itself
(`BUERGERBOT_CONVERSATION_TTL_S`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from pydantic import BaseModel, Field

from bot.conversation.claims import Lease
from bot.conversation.events import Event
from bot.conversation.store import PREFIX, ConversationStore, Message

RECEIPT_TTL_S = 24 * 3600  # how long a client may retry a message and still get the first answer
LEASE_S = 5.0  # an attempt that stops renewing (crashed, cut off from Redis) is taken over after this
WATCH_ATTEMPTS = 20  # a stage write retried this often (the lease renewed meanwhile) gives up


def receipt_key(conversation_id: str, client_message_id: str) -> str:
    return f"{PREFIX}:turn:{conversation_id}:{client_message_id}"


def lease_key(conversation_id: str, client_message_id: str) -> str:
    return f"{PREFIX}:turn-lease:{conversation_id}:{client_message_id}"


class LeaseLostError(RuntimeError):
    """The attempt no longer holds the message's lease (another one took over); it wrote nothing."""


class Receipt(BaseModel):
    """What has been done with one client message so far (see the module docstring for the stages)."""

    citizen: Message | None = None
    rasa: list[dict[str, Any]] | None = None
    replies: list[Message] | None = None
    handoffs: list[tuple[str, str | None]] = Field(default_factory=list)  # (HandoffReason value, service)
    answered: list[Message] | None = None


class Receipts:
    """The receipt and the lease of one client message in one conversation."""

    def __init__(self, store: ConversationStore, conversation_id: str, client_message_id: str) -> None:
        self.store = store
        self.key = receipt_key(conversation_id, client_message_id)
        self.ttl_s = min(RECEIPT_TTL_S, store.ttl_s)  # never outlives the conversation
        self.lease = Lease(store.redis, lease_key(conversation_id, client_message_id), LEASE_S)

    def read(self) -> Receipt:
        raw = self.store.redis.get(self.key)
        return Receipt.model_validate_json(raw) if raw else Receipt()

    def commit(
        self,
        stage: str,
        value: Any,
        messages: Sequence[Message] = (),
        events: Sequence[Event] = (),
        **also: Any,
    ) -> Receipt:
        """Record `stage` (a field of `Receipt`) and store `messages` and `events`, all in one transaction.

        Written only while this attempt holds the lease (`LeaseLostError` otherwise). If the stage is
        already on record, nothing is written and the receipt on record is returned. The last stage,
        `answered`, replaces the receipt: a finished turn keeps nothing but its answer.
        """
        self.store.number(list(messages))
        with self.store.redis.pipeline() as pipe:
            for _ in range(WATCH_ATTEMPTS):
                try:
                    pipe.watch(self.lease.key, self.key)
                    if not self.lease.held_by_me(pipe):
                        raise LeaseLostError(self.key)
                    raw = pipe.get(self.key)
                    current = Receipt.model_validate_json(raw) if raw else Receipt()
                    if getattr(current, stage) is not None:
                        return current  # written by an EXEC whose answer was lost
                    if stage == "answered":
                        updated = Receipt(answered=value)
                    else:
                        updated = current.model_copy(update={stage: value, **also})
                    pipe.multi()
                    for message in messages:
                        self.store.queue_append(pipe, message)
                    for event in events:
                        self.store.queue_emit(pipe, event)
                    pipe.set(self.key, updated.model_dump_json(), ex=self.ttl_s)
                    pipe.execute()
                    return updated
                except redis.WatchError:
                    continue  # the lease was renewed or the receipt written meanwhile: look again
        raise redis.WatchError(f"{self.key}: changed {WATCH_ATTEMPTS} times while being written")
