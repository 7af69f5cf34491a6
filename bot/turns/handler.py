"""The turn handler: every citizen message, from any channel, goes through here.

Bot conversations go to Rasa; if Rasa does not answer, we answer from the knowledge base directly
(degraded mode) and still honour requests for a person, so nobody is left without a reply.
Conversations held by staff bypass the bot. Replies are stored in Redis and published live.

A message with a client message id (widget, REST, partner API) is handled once per conversation
and id, here and not per channel: one attempt at a time holds the message's lease, a copy that
arrives meanwhile waits briefly for that attempt's answer, a copy that arrives later gets the
stored answer, and an attempt that failed half-way is continued by the retry from what it had
stored (`bot.conversation.receipts`). Nothing is stored twice and Rasa sees the message once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any, Protocol

from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError

from bot.conversation import events
from bot.conversation.events import Event
from bot.conversation.receipts import LEASE_S, LeaseLostError, Receipt, Receipts
from bot.conversation.store import Button, ConversationState, ConversationStore, Message
from bot.dialogue.client import RasaClient, RasaUnreachableError
from bot.handoff.service import CALLBACK_PAYLOAD, HandoffReason, HandoffService
from bot.settings import Settings
from bot.turns.answers import reply_to
from bot.turns.protocol import Directive
from knowledge.answering import Answerer
from knowledge.guard import asks_for_person
from knowledge.models import Section
from wording import texts

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)
DUPLICATE_WAIT_S = LEASE_S + 1  # a copy waits this long for the first attempt (outlasting a dead one's lease)
DUPLICATE_POLL_S = 0.1
Handoffs = list[tuple[HandoffReason, str | None]]


class TurnInProgressError(RuntimeError):
    """The same client message is still being answered by another request: the client should retry soon."""

    retry_after_s = 2

    def __init__(self) -> None:
        super().__init__(texts.TURN_IN_PROGRESS)


class _Ledger(Protocol):
    """Where a turn stores what it did: at once (no client message id), or with a receipt (see module doc)."""

    def citizen(self, message: Message, event: Event) -> None: ...

    def rasa(self) -> list[dict[str, Any]] | None: ...

    def keep_rasa(self, raw: list[dict[str, Any]]) -> None: ...

    def earlier_replies(self) -> tuple[list[Message], Handoffs] | None: ...

    def replies(self, messages: list[Message], emitted: list[Event], handoffs: Handoffs) -> list[Message]: ...

    def finish(self, answered: list[Message]) -> list[Message]: ...


class _AtOnce:
    """A message without a client message id: stored as it comes (messengers dedupe by their own ids)."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    def citizen(self, message: Message, event: Event) -> None:
        self.store.append_all([message], [event])

    def rasa(self) -> list[dict[str, Any]] | None:
        return None

    def keep_rasa(self, raw: list[dict[str, Any]]) -> None:
        pass

    def earlier_replies(self) -> tuple[list[Message], Handoffs] | None:
        return None

    def replies(self, messages: list[Message], emitted: list[Event], handoffs: Handoffs) -> list[Message]:
        return self.store.append_all(messages, emitted)

    def finish(self, answered: list[Message]) -> list[Message]:
        return answered


class _Receipted:
    """A message with a client message id: each stage is stored with the receipt, and skipped on a retry."""

    def __init__(self, receipts: Receipts, receipt: Receipt) -> None:
        self.receipts = receipts
        self.receipt = receipt

    def citizen(self, message: Message, event: Event) -> None:
        if self.receipt.citizen is None:
            self.receipt = self.receipts.commit("citizen", message, [message], [event])

    def rasa(self) -> list[dict[str, Any]] | None:
        return self.receipt.rasa

    def keep_rasa(self, raw: list[dict[str, Any]]) -> None:
        self.receipt = self.receipts.commit("rasa", raw)

    def earlier_replies(self) -> tuple[list[Message], Handoffs] | None:
        if self.receipt.replies is None:
            return None
        return self.receipt.replies, [(HandoffReason.parse(r), s) for r, s in self.receipt.handoffs]

    def replies(self, messages: list[Message], emitted: list[Event], handoffs: Handoffs) -> list[Message]:
        asked = [(reason.value, service) for reason, service in handoffs]
        self.receipt = self.receipts.commit("replies", messages, messages, emitted, handoffs=asked)
        return list(self.receipt.replies or [])

    def finish(self, answered: list[Message]) -> list[Message]:
        self.receipt = self.receipts.commit("answered", answered)
        return list(self.receipt.answered or [])


class TurnHandler:
    def __init__(
        self, settings: Settings, store: ConversationStore, answerer: Answerer, handoff: HandoffService
    ) -> None:
        self.settings = settings
        self.store = store
        self.answerer = answerer
        self.handoff = handoff
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_s)
        self.degraded_replies = 0

    async def handle(
        self,
        conversation_id: str,
        text: str,
        channel: str = "web",
        payload: str | None = None,
        client_message_id: str | None = None,
    ) -> list[Message]:
        """Route one citizen message; returns the replies (already stored and published).

        With `client_message_id` (checked by the caller, `bot.conversation.ids`), a message already
        answered in this conversation gets its first answer again, and nothing is stored or sent to
        Rasa; `TurnInProgressError` if another request is still answering it after a short wait.
        """
        if client_message_id is None:
            return await self._turn(_AtOnce(self.store), conversation_id, text, channel, payload)
        receipts = Receipts(self.store, conversation_id, client_message_id)
        deadline = time.monotonic() + DUPLICATE_WAIT_S
        while True:
            answered = receipts.read().answered
            if answered is not None:
                return answered
            if receipts.lease.acquire():
                try:
                    return await self._once(receipts, conversation_id, text, channel, payload)
                except LeaseLostError:  # too slow to renew: another attempt took over; wait for its answer
                    log.warning("turn %s of %s taken over by a retry", client_message_id, conversation_id)
                    deadline = time.monotonic() + DUPLICATE_WAIT_S
                    continue
            if time.monotonic() >= deadline:
                raise TurnInProgressError()
            await asyncio.sleep(DUPLICATE_POLL_S)

    async def _once(
        self, receipts: Receipts, conversation_id: str, text: str, channel: str, payload: str | None
    ) -> list[Message]:
        """The turn of a message whose lease we hold, continued from its receipt; the lease is renewed
        meanwhile and given up afterwards, also on failure, so a retry goes ahead at once."""
        keeper = asyncio.create_task(_keep(receipts))
        try:
            receipt = receipts.read()  # read again under the lease: finished meanwhile, or left half-way
            if receipt.answered is not None:
                return receipt.answered
            return await self._turn(_Receipted(receipts, receipt), conversation_id, text, channel, payload)
        finally:
            keeper.cancel()
            with contextlib.suppress(RedisError):  # Redis gone: the lease expires by itself
                receipts.lease.release()

    async def _turn(
        self, ledger: _Ledger, conversation_id: str, text: str, channel: str, payload: str | None
    ) -> list[Message]:
        conversation = self.store.get_or_create(conversation_id, channel)
        # a button press keeps its payload: staff must tell a click ("Ja, bitte verbinden") from a question
        choice = {"payload": payload} if payload else {}
        ledger.citizen(
            Message(conversation_id=conversation_id, role="citizen", text=text, data=choice),
            events.message_in(conversation_id, conversation.channel, conversation.language),
        )
        if conversation.state is ConversationState.CLOSED:  # a new question after a close starts afresh
            conversation = self.store.update(conversation_id, state=ConversationState.BOT, team=None)
        if conversation.state is ConversationState.STAFF:
            return ledger.finish([])  # staff see it live; the bot stays silent while a person holds the conversation
        earlier = ledger.earlier_replies()
        if earlier is not None:  # stored by an attempt that failed afterwards
            stored, handoffs = earlier
        elif payload == CALLBACK_PAYLOAD:  # the web widget opens its form itself; other channels land here
            reply = Message(conversation_id=conversation_id, role="bot", text=texts.CALLBACK_ELSEWHERE)
            return ledger.finish(ledger.replies([reply], [], []))
        else:
            handoffs = []
            emitted: list[Event] = []
            replies = await self._reply(ledger, conversation_id, text, payload, handoffs, emitted)
            stored = ledger.replies(replies, emitted, handoffs)
        answered = list(stored)
        for reason, service in handoffs:  # after the bot's own words, so the citizen reads them in order
            queued = await run_in_threadpool(self.handoff.request, conversation_id, reason, service, "citizen", False)
            if queued.state is ConversationState.QUEUED:
                answered.append(self.store.append(self.handoff.status_message(queued)))
                self.store.publish_state(conversation_id, state="queued", position=self.handoff.position(queued.id))
        return ledger.finish(answered)

    async def _reply(
        self,
        ledger: _Ledger,
        conversation_id: str,
        text: str,
        payload: str | None,
        handoffs: Handoffs,
        emitted: list[Event],
    ) -> list[Message]:
        """The bot's replies from Rasa, or from the knowledge base when Rasa is off or does not answer."""
        if not self.settings.rasa_enabled:  # knowledge-only mode, configured: no Rasa to ask
            return await run_in_threadpool(self._degraded, conversation_id, payload or text, handoffs, emitted)
        try:
            kept = ledger.rasa()  # Rasa answered an earlier attempt: it must not see the message twice
            started = time.perf_counter()
            raw = kept if kept is not None else await self.rasa.send(conversation_id, payload or text)
            rasa_ms = round((time.perf_counter() - started) * 1000, 2)
            replies = self._from_rasa(conversation_id, raw, handoffs, "" if payload else text, emitted)
            if kept is None:  # kept once it was understood: a reply we cannot read is asked for again
                ledger.keep_rasa(raw)
                for message in replies:
                    if "timing" in message.data:
                        message.data["timing"]["rasa_ms"] = rasa_ms
            return replies
        except RasaUnreachableError as exc:
            log.warning("rasa unreachable, degraded mode for %s: %s", conversation_id, exc)
            self.degraded_replies += 1
            emitted.append(events.degraded(conversation_id))
            return await run_in_threadpool(self._degraded, conversation_id, payload or text, handoffs, emitted)

    def _from_rasa(
        self,
        conversation_id: str,
        raw: list[dict[str, Any]],
        handoffs: Handoffs,
        question: str = "",
        emitted: list[Event] | None = None,
    ) -> list[Message]:
        """Rasa's REST channel sends text+buttons and the action's directive (custom JSON) as separate items.

        The directive becomes the data of the message before it, exactly as the degraded mode builds it.
        The events of the replies are added to `emitted`, stored with the replies (at once if None).
        """
        messages: list[Message] = []
        for item in raw:
            custom = item.get("custom")
            if custom is not None:
                directive = Directive.read(custom)
                if directive is None:
                    continue
                self._act_on(conversation_id, directive, handoffs, question, emitted)
                if messages and not messages[-1].data:
                    messages[-1].data = directive.as_json()
                continue
            buttons = [
                Button(title=b.get("title", ""), payload=b.get("payload", "")) for b in item.get("buttons") or []
            ]
            messages.append(reply_message(conversation_id, item.get("text") or "", buttons))
        return messages

    def _act_on(
        self,
        conversation_id: str,
        directive: Directive,
        handoffs: Handoffs,
        question: str = "",
        emitted: list[Event] | None = None,
    ) -> None:
        """What an action asked for: the reply's event, the conversation's topic, a handoff, feedback."""
        event = reply_event(conversation_id, directive, question)
        if event is not None:
            self._emit(event, emitted)
        if directive.kind == "answer" and directive.service_id and not directive.guess:
            self.store.update(conversation_id, service=directive.service_id, language=directive.language or "de")
        if directive.handoff_offer is not None:
            self._emit(events.handoff_offered(conversation_id, directive.handoff_offer.reason.value), emitted)
        if directive.handoff is not None:
            handoffs.append((directive.handoff.reason, directive.handoff.service))
        if directive.feedback is not None:
            feedback = events.feedback(conversation_id, directive.feedback.helpful, directive.feedback.service)
            self._emit(feedback, emitted)

    def _emit(self, event: Event, emitted: list[Event] | None) -> None:
        """Keep an event for the transaction that stores the replies (or write it now without one)."""
        if emitted is None:
            self.store.emit(event)
        else:
            emitted.append(event)

    def _degraded(
        self, conversation_id: str, text: str, handoffs: Handoffs, emitted: list[Event] | None = None
    ) -> list[Message]:
        """Answer without Rasa: knowledge base for questions, direct queueing for explicit requests."""
        conversation = self.store.get_or_create(conversation_id)
        intent, entities = "", {}
        match = _PAYLOAD.match(text.strip())
        if match:
            intent = match.group(1)
            try:
                entities = json.loads(match.group(2) or "{}")
            except ValueError:
                entities = {}
        marked = Directive(degraded=True)
        if intent in ("affirm", "request_human") or (not intent and asks_for_person(text)):
            handoffs.append((HandoffReason.REQUESTED, conversation.service))
            return [reply_message(conversation_id, texts.HANDOFF_CONFIRMED, [], marked)]
        if intent == "deny":  # "Nein, danke" to the offer of a person: what Rasa's action_handoff_declined says
            return [reply_message(conversation_id, texts.HANDOFF_DECLINED, [], marked)]
        if intent in ("feedback_positive", "feedback_negative"):  # metrics: the event Rasa's feedback action makes
            helpful = intent == "feedback_positive"
            self._emit(events.feedback(conversation_id, helpful, with_service=False), emitted)
            return [reply_message(conversation_id, texts.FEEDBACK_THANKS, [], marked)]
        section = entities.get("section")
        sections = [Section(section)] if section is not None and section in Section._value2member_map_ else None
        reply = reply_to(
            self.answerer,
            text if not intent else "",
            context_service=conversation.service,
            chosen_service=entities.get("service") if intent == "choose_service" else None,
            sections=sections,
        )
        if reply.topic:
            self.store.update(conversation_id, service=reply.topic)
        directive = Directive.for_reply(reply, degraded=True)
        event = reply_event(conversation_id, directive, text if not intent else "")
        if event is not None:
            self._emit(event, emitted)
        buttons = [Button(title=b.title, payload=b.payload) for b in reply.buttons]
        return [reply_message(conversation_id, reply.text, buttons, directive)]


async def _keep(receipts: Receipts) -> None:
    """Renew the lease while the turn runs (a slow Rasa, the LLM); a failed renewal is retried next time."""
    while True:
        await asyncio.sleep(LEASE_S / 3)
        try:
            if not receipts.lease.renew():
                return  # lost: the fenced writes of the turn will notice
        except RedisError as exc:
            log.debug("lease not renewed: %s", exc)


def reply_message(
    conversation_id: str, text: str, buttons: list[Button], directive: Directive | None = None
) -> Message:
    """A bot reply as the citizen's channels receive it, in Rasa mode and in degraded mode alike."""
    data = directive.as_json() if directive is not None else {}
    return Message(conversation_id=conversation_id, role="bot", text=text, buttons=buttons, data=data)


def reply_event(conversation_id: str, directive: Directive, question: str = "") -> Event | None:
    """The event log's record of a reply (bot_answer / bot_clarify / bot_abstain), the same in both modes.

    Replies that are no answer attempt (a handoff offer, a thank-you) have no `kind` and no event.
    """
    if directive.kind is None:
        return None
    return events.bot_reply(conversation_id, directive.kind, directive.service_id, directive.confidence, question)
