"""How the assistant replies to a question in a conversation: answer, ask back, or admit it does not know.

Plain Python, no Rasa types, so the same logic serves the Rasa action and the degraded mode when
Rasa is down, and is tested without a dialogue server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from knowledge.answering import Answerer, Assessment
from knowledge.models import Answer, Section
from knowledge.retrieval import analyze_query, coverage
from knowledge.sections import requested_sections
from wording import texts

ReplyKind = Literal["answer", "abstain", "clarify", "refuse", "problem"]

_FOLLOW_UP = re.compile(
    r"^\s*(und|aber|auch|was ist mit|wie ist es mit|wie sieht es mit|and|what about|how about)\b"
    r"|\b(dafür|dafuer|davon|damit|dazu|dabei|hierfür|es|ihn|der|die|das|den|dem|it|that|this)\s*\??\s*$",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_WORDS = 8
SECTION_BUTTON_ORDER = (
    Section.UNTERLAGEN,
    Section.GEBUEHREN,
    Section.FRISTEN,
    Section.ZUSTAENDIGE_STELLE,
    Section.ONLINE_DIENST,
    Section.VORAUSSETZUNGEN,
    Section.ABLAUF,
    Section.FORMULARE,
)


@dataclass
class ReplyButton:
    title: str
    payload: str


@dataclass
class Reply:
    kind: ReplyKind
    text: str
    answer: Answer | None = None
    buttons: list[ReplyButton] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # service ids offered in a clarification

    @property
    def service_id(self) -> str | None:
        return self.answer.service_id if self.answer and not self.answer.abstained else None

    @property
    def guess(self) -> bool:
        """An answer introduced as a guess (`Answerer.unsure_answer`)."""
        return self.answer is not None and self.answer.is_guess

    @property
    def topic(self) -> str | None:
        """The service this reply makes the conversation's topic (follow-ups, section buttons).

        None for an abstention and for a guess: a stray message in the middle of a conversation
        must not move it to a service we only guessed at.
        """
        return None if self.guess else self.service_id


def section_payload(section: Section) -> str:
    return "/ask_section" + json.dumps({"section": section.value})


def service_payload(service_id: str) -> str:
    return "/choose_service" + json.dumps({"service": service_id})


def is_follow_up(question: str, assessment: Assessment, confident: bool, answerer: Answerer, context: str) -> bool:
    """A question that leans on the previous topic ("Und was kostet der?", "und für Kinder?").

    Either it says so ("und …", "… dafür?"), or it is short, asks for a part of a service ("Wie lange
    dauert das?", "Wo?") and does not clearly name another service. A short question about something
    else ("Welche Aktien soll ich kaufen?", even with "Und …") is not one: when it reads like the
    known off-topic questions and its words are not in the conversation's service, it must not
    inherit that service.
    """
    if len(question.split()) > MAX_FOLLOW_UP_WORDS or assessment.creative_task:
        return False
    if assessment.off_topic:
        own_words = analyze_query(answerer.index, question).content_terms
        if coverage(answerer.index, context, own_words) < 1.0:
            return False  # a new subject the content of this service does not speak about
    if _FOLLOW_UP.search(question):
        return True
    names_a_service = assessment.retrieval.features.get("title_match", 0.0) >= 0.5
    return not confident and not names_a_service and bool(requested_sections(question))


def _answer_reply(answerer: Answerer, answer: Answer) -> Reply:
    service = answerer.index.services[answer.service_id] if answer.service_id else None
    buttons = []
    if service:
        for section in SECTION_BUTTON_ORDER:
            if section in service.sections and section not in answer.sections:
                buttons.append(ReplyButton(section.label_de, section_payload(section)))
    return Reply("answer", answer.text, answer=answer, buttons=buttons[:4])


def reply_to(
    answerer: Answerer,
    question: str,
    context_service: str | None = None,
    chosen_service: str | None = None,
    sections: list[Section] | None = None,
) -> Reply:
    """Decide the reply to one citizen message, using the conversation's current service as context."""
    if chosen_service and chosen_service in answerer.index.services:
        return _answer_reply(answerer, answerer.answer_service(chosen_service, question, sections=sections))
    if sections and context_service in answerer.index.services:
        return _answer_reply(answerer, answerer.answer_service(context_service, question, sections=sections))
    assessment = answerer.assess(question)
    if assessment.problem:
        answer = Answer(text=assessment.problem.text, abstained=True, reason=assessment.problem.reason)
        return Reply("problem", answer.text, answer=answer)
    if assessment.injection:
        answer = answerer.refusal(assessment.language)
        return Reply("refuse", answer.text, answer=answer)

    confident = assessment.retrieval.top is not None and assessment.confidence >= answerer.threshold
    if assessment.person_requested:
        # a request for a person is neither a follow-up nor vague: the offer of a person, as `/api/ask` says
        answer = answerer.respond(question, assessment)
        return Reply("abstain", answer.text, answer=answer)
    if (
        context_service is not None
        and context_service in answerer.index.services
        and is_follow_up(question, assessment, confident, answerer, context_service)
    ):
        context_title = answerer.index.services[context_service].title
        contextual = answerer.assess(f"{question} {context_title}")
        target = context_service
        if (
            contextual.top_service
            and contextual.top_service != context_service
            and contextual.confidence >= answerer.threshold
            and contextual.confidence > assessment.confidence
        ):
            target = contextual.top_service  # "und für Kinder?" after Reisepass → Kinderreisepass
        return _answer_reply(answerer, answerer.answer_service(target, question, contextual))

    options = answerer.ambiguous_candidates(assessment)
    if len(options) > 1:
        titles = [answerer.index.services[o].title for o in options]
        text = texts.CLARIFY_EN if assessment.language == "en" else texts.CLARIFY_DE
        buttons = [ReplyButton(t, service_payload(o)) for o, t in zip(options, titles, strict=True)]
        return Reply("clarify", text, buttons=buttons, options=options)
    answer = answerer.respond(question, assessment)
    if answer.abstained:
        return Reply("abstain", answer.text, answer=answer)
    reply = _answer_reply(answerer, answer)
    if answer.is_guess:  # the service is uncertain: the runners-up as buttons instead of its sections
        others = [s for s in answer.alternatives[:2] if s in answerer.index.services]
        reply.buttons = [ReplyButton(answerer.index.services[s].title, service_payload(s)) for s in others]
    return reply
