"""The turn handler: every citizen message, from any channel, goes through here.

Bot conversations go to Rasa; if Rasa does not answer, we answer from the knowledge base directly
(degraded mode) and still honour requests for a person, so nobody is left without a reply.
Conversations held by staff bypass the bot. Replies are stored in Redis and published live.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from fastapi.concurrency import run_in_threadpool

from bot.conversation import events, texts
from bot.conversation.events import Event
from bot.conversation.store import Button, ConversationState, ConversationStore, Message
from bot.dialogue.client import RasaClient, RasaUnreachableError
from bot.handoff.service import CALLBACK_PAYLOAD, HandoffReason, HandoffService, wants_human
from bot.settings import Settings
from bot.turns.answers import reply_to
from bot.turns.protocol import Directive
from knowledge.answering import Answerer
from knowledge.models import Section

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)


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
        self, conversation_id: str, text: str, channel: str = "web", payload: str | None = None
    ) -> list[Message]:
        """Route one citizen message; returns the replies (already stored and published)."""
        conversation = self.store.get_or_create(conversation_id, channel)
        # a button press keeps its payload: staff must tell a click ("Ja, bitte verbinden") from a question
        choice = {"payload": payload} if payload else {}
        self.store.append(Message(conversation_id=conversation_id, role="citizen", text=text, data=choice))
        self.store.emit(events.message_in(conversation_id, conversation.channel, conversation.language))
        if conversation.state is ConversationState.CLOSED:  # a new question after a close starts afresh
            conversation = self.store.update(conversation_id, state=ConversationState.BOT, team=None)
        if conversation.state is ConversationState.STAFF:
            return []  # staff see it live; the bot stays silent while a person holds the conversation
        if payload == CALLBACK_PAYLOAD:  # the web widget opens its form itself; other channels land here
            reply = Message(conversation_id=conversation_id, role="bot", text=texts.CALLBACK_ELSEWHERE)
            return [self.store.append(reply)]
        handoffs: list[tuple[HandoffReason, str | None]] = []
        if not self.settings.rasa_enabled:  # knowledge-only mode, configured: no Rasa to ask
            replies = await run_in_threadpool(self._degraded, conversation_id, payload or text, handoffs)
        else:
            try:
                started = time.perf_counter()
                raw = await self.rasa.send(conversation_id, payload or text)
                rasa_ms = round((time.perf_counter() - started) * 1000, 2)
                replies = self._from_rasa(conversation_id, raw, handoffs, "" if payload else text)
                for message in replies:
                    if "timing" in message.data:
                        message.data["timing"]["rasa_ms"] = rasa_ms
            except RasaUnreachableError as exc:
                log.warning("rasa unreachable, degraded mode for %s: %s", conversation_id, exc)
                self.degraded_replies += 1
                self.store.emit(events.degraded(conversation_id))
                replies = await run_in_threadpool(self._degraded, conversation_id, payload or text, handoffs)
        stored = [self.store.append(m) for m in replies]
        for reason, service in handoffs:  # after the bot's own words, so the citizen reads them in order
            queued = await run_in_threadpool(self.handoff.request, conversation_id, reason, service, "citizen", False)
            if queued.state is ConversationState.QUEUED:
                stored.append(self.store.append(self.handoff.status_message(queued)))
                self.store.publish_state(conversation_id, state="queued", position=self.handoff.position(queued.id))
        return stored

    def _from_rasa(
        self,
        conversation_id: str,
        raw: list[dict[str, Any]],
        handoffs: list[tuple[HandoffReason, str | None]],
        question: str = "",
    ) -> list[Message]:
        """Rasa's REST channel sends text+buttons and the action's directive (custom JSON) as separate items.

        The directive becomes the data of the message before it, exactly as the degraded mode builds it.
        """
        messages: list[Message] = []
        for item in raw:
            custom = item.get("custom")
            if custom is not None:
                directive = Directive.read(custom)
                if directive is None:
                    continue
                self._act_on(conversation_id, directive, handoffs, question)
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
        handoffs: list[tuple[HandoffReason, str | None]],
        question: str = "",
    ) -> None:
        """What an action asked for: the reply's event, the conversation's topic, a handoff, feedback."""
        event = reply_event(conversation_id, directive, question)
        if event is not None:
            self.store.emit(event)
        if directive.kind == "answer" and directive.service_id and not directive.guess:
            self.store.update(conversation_id, service=directive.service_id, language=directive.language or "de")
        if directive.handoff_offer is not None:
            self.store.emit(events.handoff_offered(conversation_id, directive.handoff_offer.reason.value))
        if directive.handoff is not None:
            handoffs.append((directive.handoff.reason, directive.handoff.service))
        if directive.feedback is not None:
            self.store.emit(events.feedback(conversation_id, directive.feedback.helpful, directive.feedback.service))

    def _degraded(
        self, conversation_id: str, text: str, handoffs: list[tuple[HandoffReason, str | None]]
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
        if intent in ("affirm", "request_human") or (not intent and wants_human(text)):
            handoffs.append((HandoffReason.REQUESTED, conversation.service))
            return [reply_message(conversation_id, texts.HANDOFF_CONFIRMED_DEGRADED, [], marked)]
        if intent in ("feedback_positive", "feedback_negative", "deny"):
            if intent != "deny":  # metrics: the same event Rasa's feedback action produces
                helpful = intent == "feedback_positive"
                self.store.emit(events.feedback(conversation_id, helpful, with_service=False))
            return [reply_message(conversation_id, texts.FEEDBACK_THANKS_DEGRADED, [], marked)]
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
            self.store.emit(event)
        buttons = [Button(title=b.title, payload=b.payload) for b in reply.buttons]
        return [reply_message(conversation_id, reply.text, buttons, directive)]


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
