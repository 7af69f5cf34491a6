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

import httpx
from fastapi.concurrency import run_in_threadpool

from bot.conversation.events import Event, EventType
from bot.conversation.privacy import redact
from bot.conversation.store import Button, ConversationState, ConversationStore, Message
from bot.handoff.service import CALLBACK_PAYLOAD, HandoffReason, HandoffService, wants_human
from bot.settings import Settings
from bot.turns.answers import Reply, reply_to
from bot.turns.presentation import reply_data
from knowledge.answering import Answerer
from knowledge.models import Section

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)

QUEUED_TEXT = "Ich habe Ihr Anliegen an die Mitarbeitenden der Stadt weitergegeben."
CALLBACK_ELSEWHERE_TEXT = (
    "Eine Rückruf- oder E-Mail-Bitte können Sie im Chat-Fenster auf der Website der Stadt hinterlassen. "
    "Ihr Anliegen bleibt hier in der Warteschlange, und wir antworten Ihnen in diesem Chat."
)


class RasaUnreachableError(RuntimeError):
    pass


class TurnHandler:
    def __init__(
        self, settings: Settings, store: ConversationStore, answerer: Answerer, handoff: HandoffService
    ) -> None:
        self.settings = settings
        self.store = store
        self.answerer = answerer
        self.handoff = handoff
        self.degraded_replies = 0

    async def _ask_rasa(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=self.settings.rasa_timeout_s) as client:
                response = await client.post(
                    f"{self.settings.rasa_url}/webhooks/rest/webhook",
                    json={"sender": conversation_id, "message": text},
                )
        except httpx.HTTPError as exc:
            raise RasaUnreachableError(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnreachableError(f"rasa answered {response.status_code}")
        return list(response.json() or [])

    async def handle(
        self, conversation_id: str, text: str, channel: str = "web", payload: str | None = None
    ) -> list[Message]:
        """Route one citizen message; returns the replies (already stored and published)."""
        conversation = self.store.get_or_create(conversation_id, channel)
        # a button press keeps its payload: staff must tell a click ("Ja, bitte verbinden") from a question
        choice = {"payload": payload} if payload else {}
        self.store.append(Message(conversation_id=conversation_id, role="citizen", text=text, data=choice))
        self.store.emit(
            Event(
                conversation_id=conversation_id,
                type=EventType.MESSAGE_IN,
                actor="citizen",
                payload={"channel": conversation.channel, "language": conversation.language},
            )
        )
        if conversation.state is ConversationState.CLOSED:  # a new question after a close starts afresh
            conversation = self.store.update(conversation_id, state=ConversationState.BOT, team=None)
        if conversation.state is ConversationState.STAFF:
            return []  # staff see it live; the bot stays silent while a person holds the conversation
        if payload == CALLBACK_PAYLOAD:  # the web widget opens its form itself; other channels land here
            reply = Message(conversation_id=conversation_id, role="bot", text=CALLBACK_ELSEWHERE_TEXT)
            return [self.store.append(reply)]
        handoffs: list[tuple[HandoffReason, str | None]] = []
        if not self.settings.rasa_enabled:  # knowledge-only mode, configured: no Rasa to ask
            replies = await run_in_threadpool(self._degraded, conversation_id, payload or text, handoffs)
        else:
            try:
                started = time.perf_counter()
                raw = await self._ask_rasa(conversation_id, payload or text)
                rasa_ms = round((time.perf_counter() - started) * 1000, 2)
                replies = self._from_rasa(conversation_id, raw, handoffs, "" if payload else text)
                for message in replies:
                    if "timing" in message.data:
                        message.data["timing"]["rasa_ms"] = rasa_ms
            except RasaUnreachableError as exc:
                log.warning("rasa unreachable, degraded mode for %s: %s", conversation_id, exc)
                self.degraded_replies += 1
                self.store.emit(Event(conversation_id=conversation_id, type=EventType.DEGRADED, actor="system"))
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
        """Rasa's REST channel sends text+buttons and custom JSON as separate items; we merge them."""
        messages: list[Message] = []
        for item in raw:
            custom = item.get("custom")
            if custom is not None:
                self._act_on_custom(conversation_id, custom, handoffs, question)
                if messages and not messages[-1].data:
                    messages[-1].data = dict(custom)
                continue
            buttons = [
                Button(title=b.get("title", ""), payload=b.get("payload", "")) for b in item.get("buttons") or []
            ]
            messages.append(
                Message(conversation_id=conversation_id, role="bot", text=item.get("text") or "", buttons=buttons)
            )
        return messages

    def _act_on_custom(
        self,
        conversation_id: str,
        custom: dict[str, Any],
        handoffs: list[tuple[HandoffReason, str | None]],
        question: str = "",
    ) -> None:
        kind = custom.get("kind")
        if kind in ("answer", "abstain", "clarify", "refuse", "problem"):
            event_type = {
                "answer": EventType.BOT_ANSWER,
                "clarify": EventType.BOT_CLARIFY,
            }.get(kind, EventType.BOT_ABSTAIN)
            payload: dict[str, Any] = {"service": custom.get("service_id"), "confidence": custom.get("confidence")}
            if event_type is EventType.BOT_ABSTAIN:  # the content-gap report needs what was asked (redacted)
                reason = {"refuse": "refused", "problem": "out_of_scope"}.get(kind, "abstain")
                payload.update(reason=reason, question=redact(question)[:500] if question else None)
            self.store.emit(Event(conversation_id=conversation_id, type=event_type, payload=payload))
            if kind == "answer" and custom.get("service_id"):
                self.store.update(conversation_id, service=custom["service_id"], language=custom.get("language", "de"))
        if "handoff_offer" in custom:
            offer = dict(custom["handoff_offer"] or {})
            offer["reason"] = HandoffReason.parse(offer.get("reason")).value  # the action's word, read as the enum
            self.store.emit(Event(conversation_id=conversation_id, type=EventType.HANDOFF_OFFERED, payload=offer))
        if "handoff" in custom:
            handoff = custom["handoff"] or {}
            handoffs.append((HandoffReason.parse(handoff.get("reason")), handoff.get("service")))
        if "feedback" in custom:
            self.store.emit(
                Event(
                    conversation_id=conversation_id,
                    type=EventType.FEEDBACK,
                    actor="citizen",
                    payload=custom["feedback"],
                )
            )

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
        if intent in ("affirm", "request_human") or (not intent and wants_human(text)):
            handoffs.append((HandoffReason.REQUESTED, conversation.service))
            return [Message(conversation_id=conversation_id, role="bot", text=QUEUED_TEXT, data={"degraded": True})]
        if intent in ("feedback_positive", "feedback_negative", "deny"):
            if intent != "deny":  # metrics: the same event Rasa's feedback action produces
                self.store.emit(
                    Event(
                        conversation_id=conversation_id,
                        type=EventType.FEEDBACK,
                        actor="citizen",
                        payload={"helpful": intent == "feedback_positive"},
                    )
                )
            return [
                Message(
                    conversation_id=conversation_id,
                    role="bot",
                    text="Danke für Ihre Rückmeldung. Stellen Sie gern Ihre nächste Frage.",
                    data={"degraded": True},
                )
            ]
        section = entities.get("section")
        sections = [Section(section)] if section is not None and section in Section._value2member_map_ else None
        reply = reply_to(
            self.answerer,
            text if not intent else "",
            context_service=conversation.service,
            chosen_service=entities.get("service") if intent == "choose_service" else None,
            sections=sections,
        )
        if reply.service_id:
            self.store.update(conversation_id, service=reply.service_id)
        self._emit_reply_event(conversation_id, reply, text if not intent else "")
        return [self._reply_message(conversation_id, reply)]

    def _emit_reply_event(self, conversation_id: str, reply: Reply, question: str) -> None:
        """bot_answer / bot_clarify / bot_abstain for the event log (metrics, content gaps), as in Rasa mode."""
        kind = {"answer": EventType.BOT_ANSWER, "clarify": EventType.BOT_CLARIFY}.get(reply.kind, EventType.BOT_ABSTAIN)
        payload: dict[str, Any] = {
            "service": reply.service_id,
            "confidence": round(reply.answer.confidence, 4) if reply.answer else None,
        }
        if kind is EventType.BOT_ABSTAIN:
            reason = {"refuse": "refused", "problem": "out_of_scope"}.get(reply.kind, "abstain")
            payload.update(reason=reason, question=redact(question)[:500] if question else None)
        self.store.emit(Event(conversation_id=conversation_id, type=kind, payload=payload))

    @staticmethod
    def _reply_message(conversation_id: str, reply: Reply) -> Message:
        """The same message data as in Rasa mode (sources, language, parts), marked as degraded."""
        return Message(
            conversation_id=conversation_id,
            role="bot",
            text=reply.text,
            buttons=[Button(title=b.title, payload=b.payload) for b in reply.buttons],
            data={**reply_data(reply), "degraded": True},
        )
