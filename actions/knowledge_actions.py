"""Custom Rasa actions. Thin on purpose: decisions live in `bot.turns.answers`, facts in `knowledge`.

Actions are registered as instances holding the gateway's loaded `Answerer`, so the index is
loaded once per gateway process. Handoffs and feedback are announced to the gateway as custom
JSON on the reply; the gateway updates the conversation state in Redis.
"""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.handoff.service import HandoffReason
from bot.turns.answers import reply_to
from bot.turns.protocol import Directive, Feedback, HandoffOffer, HandoffRequest
from knowledge.answering import Answerer
from knowledge.models import PERSON_REQUESTED_REASON, Section
from wording import texts

ABSTENTIONS_BEFORE_OFFER = 2
OUT_OF_SCOPE_OVERRIDE = 0.8  # knowledge confidence that outweighs an "out of scope" NLU intent


def offer_handoff(dispatcher: CollectingDispatcher, reason: HandoffReason, lead: str = "") -> list[EventType]:
    """Ask for consent; the reason waits in a slot until `action_handoff` tells the gateway (one enum, no free text)."""
    dispatcher.utter_message(
        text=(lead + " " + texts.OFFER_TEXT).strip(),
        buttons=texts.CONSENT_BUTTONS,
        json_message=Directive(handoff_offer=HandoffOffer(reason=reason)).as_json(),
    )
    return [SlotSet("handoff_offered", True), SlotSet("handoff_reason", reason.value)]


class ActionAnswerFromKnowledge(Action):
    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer

    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        text = message.get("text") or ""
        context = tracker.get_slot("service")
        entity_service = next(tracker.get_latest_entity_values("service"), None)
        valid_entity = entity_service if entity_service in self.answerer.index.services else None
        section = next(tracker.get_latest_entity_values("section"), None)
        sections = [Section(section)] if section is not None and section in Section._value2member_map_ else None

        started = time.perf_counter()
        if intent == "choose_service" and valid_entity:
            question = tracker.get_slot("pending_question") or text
            reply = reply_to(self.answerer, question, chosen_service=valid_entity)
        elif intent == "ask_section" and sections and context:
            reply = reply_to(self.answerer, text, context_service=context, sections=sections)
        else:
            reply = reply_to(self.answerer, text, context_service=context)
            if reply.kind == "abstain" and valid_entity:
                reply = reply_to(self.answerer, text, chosen_service=valid_entity)

        if reply.answer is not None and reply.answer.reason == PERSON_REQUESTED_REASON:
            # a request for a person the NLU took for a question: what `action_offer_handoff` does
            return [
                *offer_handoff(dispatcher, HandoffReason.REQUESTED, texts.OFFER_LEAD_REQUESTED),
                SlotSet("abstain_count", 0.0),
            ]
        if intent == "out_of_scope" and (reply.answer is None or reply.answer.confidence < OUT_OF_SCOPE_OVERRIDE):
            # NLU thinks it is off-topic and the knowledge base is not sure otherwise: polite refusal
            dispatcher.utter_message(
                text=self.answerer.out_of_scope_text(), json_message=Directive(kind="refuse").as_json()
            )
            return self._count_failure(dispatcher, tracker)
        timing = {"knowledge_ms": round((time.perf_counter() - started) * 1000, 2)}
        dispatcher.utter_message(
            text=reply.text,
            buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons],
            json_message=Directive.for_reply(reply, timing=timing).as_json(),
        )
        events: list[EventType] = []
        if reply.kind == "answer":
            dispatcher.utter_message(text=texts.FEEDBACK_QUESTION, buttons=texts.FEEDBACK_BUTTONS)
            events.append(SlotSet("abstain_count", 0.0))
            if reply.topic:  # a guess keeps the conversation's service (Reply.topic)
                events.append(SlotSet("service", reply.topic))
        elif reply.kind == "clarify":
            events.append(SlotSet("pending_question", text))
        elif reply.kind == "abstain":
            events += self._count_failure(dispatcher, tracker)
        return events

    @staticmethod
    def _count_failure(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Two unanswered messages in a row (abstention or refusal): offer a person."""
        count = float(tracker.get_slot("abstain_count") or 0.0) + 1
        if count < ABSTENTIONS_BEFORE_OFFER:
            return [SlotSet("abstain_count", count)]
        return [*offer_handoff(dispatcher, HandoffReason.REPEATED_FAILURE), SlotSet("abstain_count", 0.0)]


class ActionOfferHandoff(Action):
    def name(self) -> str:
        return "action_offer_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return offer_handoff(dispatcher, HandoffReason.REQUESTED, texts.OFFER_LEAD_REQUESTED)


class ActionHandoff(Action):
    """The citizen agreed: tell them honestly what happens next; the gateway queues the conversation."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(
            text=texts.HANDOFF_CONFIRMED,  # the gateway adds the honest status right after: position or hours
            # a tracker from before the enum may still hold an old spelling: the model parses it
            json_message=Directive(
                handoff=HandoffRequest(reason=tracker.get_slot("handoff_reason"), service=tracker.get_slot("service"))
            ).as_json(),
        )
        return [SlotSet("handoff_offered", False)]


class ActionHandoffDeclined(Action):
    def name(self) -> str:
        return "action_handoff_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=texts.HANDOFF_DECLINED)
        return [SlotSet("handoff_offered", False)]


class ActionFeedback(Action):
    def name(self) -> str:
        return "action_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        positive = intent == "feedback_positive"
        feedback = Directive(feedback=Feedback(helpful=positive, service=tracker.get_slot("service"))).as_json()
        if positive:
            dispatcher.utter_message(text=texts.FEEDBACK_THANKS, json_message=feedback)
            return []
        dispatcher.utter_message(json_message=feedback)
        return offer_handoff(dispatcher, HandoffReason.NEGATIVE_FEEDBACK, texts.OFFER_LEAD_SORRY)


def build_actions(answerer: Answerer) -> list[Action]:
    return [
        ActionAnswerFromKnowledge(answerer),
        ActionOfferHandoff(),
        ActionHandoff(),
        ActionHandoffDeclined(),
        ActionFeedback(),
    ]
