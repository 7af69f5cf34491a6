"""From a question to an `Answer` made only of official sentences, or an honest abstention.

Answers are extractive on purpose: every fee, deadline and document a citizen reads is a line from
the service description, shown with its section, source link and date. When retrieval is not
confident enough, we say so and offer a human instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.extraction import MAX_CHARS, LineScorer, Selection, render, sentences
from knowledge.guard import asks_for_person, looks_like_creative_task, looks_like_injection
from knowledge.index import KnowledgeIndex
from knowledge.input import QuestionProblem, question_problem
from knowledge.llm import AnswerWriter
from knowledge.models import GUESS_REASON, PERSON_REQUESTED_REASON, Answer, Section, Service, Source
from knowledge.retrieval import Retrieval, analyze_query, retrieve
from knowledge.sections import requested_sections
from knowledge.text import analyze, detect_language
from knowledge.topics import topics_text
from wording.texts import (
    ABSTAIN_DE,
    ABSTAIN_EN,
    EMPTY_DE,
    ENGLISH_NOTE,
    NO_DATE_DE,
    NOT_COVERED_DE,
    NOT_FOUND_DE,
    OUT_OF_SCOPE_DE,
    PERSON_REQUESTED_DE,
    PERSON_REQUESTED_EN,
    REFUSE_INJECTION_DE,
    TOO_LONG_DE,
    TOPICS_LEAD_DE,
    TOPICS_LEAD_EN,
    UNREADABLE_DE,
    UNSURE_ALSO_DE,
    UNSURE_ALSO_EN,
    UNSURE_HELP_DE,
    UNSURE_HELP_EN,
    UNSURE_LEAD_DE,
    UNSURE_LEAD_EN,
    UNSURE_OTHERS_DE,
    UNSURE_OTHERS_EN,
    source_line_de,
)

VAGUE_RATIO = 0.6  # one-word questions: offer services scoring within 60 % of the best
TIED_RATIO = 0.95  # longer questions: only practically tied services, and only when not confident
CLARIFY_BELOW_CONFIDENCE = 0.8
MIN_CLARIFY_COVERAGE = 0.4


def with_topics(text: str, topics: str, language: str = "de") -> str:
    """A text that says what the assistant can do, followed by the topics of the loaded content."""
    if not topics:
        return text
    return f"{text} {(TOPICS_LEAD_EN if language == 'en' else TOPICS_LEAD_DE).format(topics=topics)}"


@dataclass(frozen=True)
class InputProblem:
    reason: str
    text: str


_PROBLEM_TEXTS: dict[QuestionProblem, str] = {"too_long": TOO_LONG_DE, "unreadable": UNREADABLE_DE, "empty": EMPTY_DE}


def check_input(question: str, max_chars: int) -> InputProblem | None:
    """Catch input we cannot answer before it reaches retrieval, with a friendly explanation.

    The rule is the channels' own (`knowledge.input.question_problem`), so a question refused on
    one path is refused on every other (CLI, evaluation, Rasa actions); only the wording is ours.
    """
    reason = question_problem(question, max_chars)
    return InputProblem(reason, _PROBLEM_TEXTS[reason]) if reason else None


def cited(service: Service, sections: list[Section]) -> list[Source]:
    """The sources an answer cites: the service's page, once per section its quoted lines come from."""
    return [
        Source(
            title=service.title,
            section=section,
            section_label=section.label_de,
            url=service.source_url,
            updated=service.updated,
        )
        for section in sections
    ]


def _date_de(service: Service) -> str:
    return service.updated.strftime("%d.%m.%Y") if service.updated else NO_DATE_DE


MAX_ANSWER_CHARS = 900  # a guess is cut to this; plain answers stay below it by `extraction.MAX_CHARS`
GUESS_QUOTE_CHARS = (360, 240, 120)  # a guess quotes less (`unsure_answer`), to stay within the same length
# a guess also quotes the runner-up's answering lines (`unsure_answer`): (likeliest, runner-up) quote
# budgets, tried in order until the whole guess fits; 0 names the runner-up only
GUESS_BUDGETS = ((360, 240), (240, 240), (240, 120), (120, 120), (360, 0), (240, 0), (120, 0))
# ... when it scores at least this share of the likeliest (README, "How answers are made"); of the
# next RUNNER_UP_CANDIDATES that do, the one whose own lines answer best
QUOTE_RUNNER_UP_RATIO = 0.85
RUNNER_UP_CANDIDATES = 2
MAX_LEAD_CHARS = 600  # the overview shown instead of chosen lines; the link and "Mehr dazu" hold the rest
# an overview also says what the service costs when that is short ("35 Euro"): what it is and what it
# costs is what a vague question that names only the service and a situation wants first; a long fee
# list stays a button
MAX_OVERVIEW_FEE_CHARS = 160


def _lead(text: str, limit: int = MAX_LEAD_CHARS) -> str:
    """The start of an overview, whole lines (else whole sentences) up to `limit` characters.

    Some catalogue summaries are long lists (1,200 characters of "Wir beantworten gerne Ihre
    Fragen – zu …"); an answer stays short, and the source link is right below it.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for line in text.splitlines():
        if kept and size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    lead = "\n".join(kept)
    if len(lead) > limit:  # one long first line: cut after its last full sentence that fits
        # sentences as the answer lines split them: "ab dem 1. November" or "z. B." end none
        fitting = ""
        for sentence in sentences(lead, limit=0):
            longer = f"{fitting} {sentence}" if fitting else sentence
            if len(longer) > limit:
                break
            fitting = longer
        lead = fitting or lead[:limit].rsplit(" ", 1)[0]
    return lead + " …"


def _overview_text(service: Service) -> str:
    """The summary, else the overview section, else the first section under its label.

    Some catalogue entries have only fees: "ab 24,80 Euro" alone, under the service's name, does not
    say what it is; "Gebühren:" before it does.
    """
    if service.summary.strip():
        return service.summary
    if service.sections.get(Section.UEBERBLICK, "").strip():
        return service.sections[Section.UEBERBLICK]
    for section in Section:
        text = service.sections.get(section, "").strip()
        if text:
            return f"{section.label_de}:\n{text}"
    return ""


def compose(
    service: Service, selection: Selection, language: str, *, overview: bool, lead_chars: int = MAX_LEAD_CHARS
) -> str:
    """Title, the chosen official lines (or, honestly, the overview), source and date.

    When no line answers, the overview follows one of two leads: "nothing on this in the text"
    (`NOT_COVERED_DE`) only when `Selection.gap_is_certain`, else "I found no exact answer"
    (`NOT_FOUND_DE`); never because one field of the export is empty. An overview comes with the
    fee when that is short (`MAX_OVERVIEW_FEE_CHARS`).
    """
    parts: list[str] = []
    if language == "en":
        parts.append(ENGLISH_NOTE)
    parts.append(service.title)
    if selection.answered and not overview:
        parts.append(render(selection))
    else:
        if not overview:
            parts.append(NOT_COVERED_DE if selection.gap_is_certain else NOT_FOUND_DE)
        overview_text = _overview_text(service)
        parts.append(_lead(overview_text, lead_chars))
        fee = overview_fee(service, overview_text)
        if fee:
            parts.append(fee)
    parts.append(source_line_de(service.source_url, _date_de(service)))
    return "\n\n".join(parts)


def overview_fee(service: Service, overview_text: str) -> str | None:
    """The fee shown under an overview: the fee section when it is short and not the overview itself
    (a fee-only service's overview is its fee section, which a short lead may cut: never twice)."""
    fees = service.sections.get(Section.GEBUEHREN, "").strip()
    if not fees or len(fees) > MAX_OVERVIEW_FEE_CHARS or fees in overview_text:
        return None
    return f"{Section.GEBUEHREN.label_de}:\n{fees}"


@dataclass(frozen=True)
class Assessment:
    """What retrieval thinks of a question before an answer is composed (used by the dialogue)."""

    question: str
    retrieval: Retrieval
    confidence: float
    language: str
    problem: InputProblem | None = None
    injection: bool = False
    creative_task: bool = False
    off_topic: bool = False  # closer to known out-of-scope questions than to the content (confidence.py)
    person_requested: bool = False  # asks for a person and names no service ("Kann ich mit jemandem vom Amt reden?")

    @property
    def top_service(self) -> str | None:
        top = self.retrieval.top
        return top.service_id if top else None


class Answerer:
    """Answers questions from one loaded `KnowledgeIndex`; safe to share between requests."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.threshold = index.settings.abstain_threshold
        self.lines = LineScorer(index)
        self.topics = topics_text(index.services.values())
        self.writer = AnswerWriter.from_settings(index.settings)  # optional LLM (BUERGERBOT_LLM_URL)

    def assess(self, question: str) -> Assessment:
        question = question.strip()
        problem = check_input(question, self.index.settings.max_question_chars)
        if problem:
            return Assessment(question, Retrieval([], {}, []), 0.0, "de", problem=problem)
        language = detect_language(question)
        if looks_like_injection(question):
            return Assessment(question, Retrieval([], {}, []), 0.0, language, injection=True)
        if looks_like_creative_task(question):
            return Assessment(question, Retrieval([], {}, []), 0.0, language, creative_task=True)
        result = retrieve(self.index, question, evidence=self.lines.best_scores)
        confidence = self.index.calibrator.confidence(result.features) if result.top else 0.0
        # "Kann mir jemand helfen: Was kostet ein Reisepass?" also names a service: that is its question
        person = asks_for_person(question) and result.features.get("title_match", 0.0) == 0.0
        if result.top and self.index.calibrator.off_topic(result.features, confidence):
            # no service can be the right one: every caller (answer, dialogue, eval) then abstains
            return Assessment(question, result, 0.0, language, off_topic=True, person_requested=person)
        return Assessment(question, result, confidence, language, person_requested=person)

    def ambiguous_candidates(self, assessment: Assessment, max_options: int = 4) -> list[str]:
        """Services a question could equally mean, when no single one stands out.

        A vague one-word question ("Ausweis") gets every service close to the best; a longer one only
        when the best services are practically tied and retrieval is not confident ("Unterlagen für
        die Anmeldung": Wohnsitz or Gewerbe?). Otherwise the best service is answered.
        """
        hits = assessment.retrieval.hits
        if len(hits) < 2 or assessment.problem or assessment.injection or assessment.off_topic:
            return []
        if assessment.retrieval.features.get("coverage", 0.0) < MIN_CLARIFY_COVERAGE:
            return []  # the question is mostly about something we have no content for
        own_words = set(analyze(assessment.question, expand=False))
        if own_words & self.index.title_words.get(hits[0].service_id, set()):
            return []  # the question uses the best service's own name ("Reisepass"): not vague
        if len(own_words) <= 1:
            ratio = VAGUE_RATIO
        elif assessment.confidence < CLARIFY_BELOW_CONFIDENCE:
            ratio = TIED_RATIO
        else:
            return []
        options = [h.service_id for h in hits[:max_options] if h.score >= ratio * hits[0].score]
        return options if len(options) > 1 else []

    def answer(self, question: str) -> Answer:
        """Answer a question from the best service, or abstain honestly."""
        assessment = self.assess(question)
        if assessment.problem:
            return Answer(text=assessment.problem.text, abstained=True, reason=assessment.problem.reason)
        if assessment.injection:
            return self.refusal(assessment.language)
        return self.respond(question, assessment)

    def respond(self, question: str, assessment: Assessment) -> Answer:
        """The best service's answer, a guess (`unsure_answer`) or the abstention: decided here only.

        Both `answer` and the dialogue (`bot.turns.answers.reply_to`, after its own follow-up and
        clarification rules) end here, so they never disagree on when to guess or abstain.
        """
        top = assessment.retrieval.top
        unsure = assessment.confidence < self.threshold
        # a request for a person (one that names no service, `assess`) gets the person, not the
        # service its words happen to resemble
        if top is None or assessment.person_requested or (unsure and not self.may_guess(assessment)):
            return self.abstention(assessment)
        if unsure:
            return self.unsure_answer(question, assessment)
        return self.answer_service(top.service_id, question, assessment)

    @staticmethod
    def may_guess(assessment: Assessment) -> bool:
        """Whether an unsure question may get the likeliest service as a guess (`unsure_answer`).

        Only when the scope check keeps it and at least one of its words occurs in the content
        (after typo correction, synonyms and the English word table): "Danke!", "ok" or "asdf"
        share no word with it, and e5 finds every text somewhat similar to some service card.
        """
        return (
            assessment.retrieval.top is not None
            and not (assessment.off_topic or assessment.creative_task)
            and assessment.retrieval.features.get("known_share", 0.0) > 0.0
        )

    def unsure_answer(self, question: str, assessment: Assessment) -> Answer:
        """The likeliest service's answer, introduced as a guess, with the runner-up and a human.

        For a question the scope check keeps (it is about the content) but whose service retrieval
        is unsure of. The right service is among the first five for almost every such question and
        first or second for most: "I found nothing" would hide that; a plain answer would pretend
        to a certainty we lack. Near-duplicate services ("Taxigenehmigung" / "Fahrzeugwechsel Taxi")
        are what retrieval confuses most, so when the runner-up's own text has lines that answer the
        question, the guess quotes them too, under its name and with its source: the citizen sees
        both and picks, instead of a second round trip by button.
        """
        top = assessment.retrieval.top
        assert top is not None
        runner_up = self._runner_up(question, assessment)
        # the hedge, the runner-up and the offer of a human need room: the quotes get shorter until
        # the whole guess fits what a plain answer may be long. Each size is composed once (with an
        # LLM configured, `answer_service` is a model call).
        answers: dict[int, Answer] = {}
        quotes: dict[int, tuple[str, list[Source]] | None] = {0: None}
        for quote_chars, runner_chars in GUESS_BUDGETS:
            if quote_chars not in answers:
                answers[quote_chars] = self.answer_service(
                    top.service_id, question, assessment, quote_chars=quote_chars
                )
            if runner_chars not in quotes:
                quotes[runner_chars] = self._runner_up_quote(runner_up, question, assessment, runner_chars)
            answer, quoted = answers[quote_chars], quotes[runner_chars]
            english = answer.language == "en"
            also = quoted[0] if quoted else None
            # with the runner-up quoted, further names would crowd the answer: they stay buttons
            named = [] if also else answer.alternatives[:2]
            others = [self.index.services[s].title for s in named if s in self.index.services]
            text = self._guess_text(answer.text, others, english, also)
            if len(text) <= MAX_ANSWER_CHARS:
                break
        if len(text) > MAX_ANSWER_CHARS:
            # one long official line is never cut; the runners-up then go only as buttons (`alternatives`)
            also = None
            text = self._guess_text(answer.text, [], english)
        sources = [*answer.sources, *quoted[1]] if also is not None and quoted else answer.sources
        return answer.model_copy(update={"text": text, "reason": GUESS_REASON, "sources": sources})

    def _runner_up(self, question: str, assessment: Assessment) -> str | None:
        """The service a guess quotes beside the likeliest: of the next two that score close to it,
        the one whose own lines answer the question best (`LineScorer.best_scores`, with the
        likeliest as a rival, as retrieval's answer evidence weighs them).

        A far weaker one is only named: its amounts would distract.
        """
        hits = assessment.retrieval.hits
        if not hits:
            return None
        close = [h for h in hits[1 : 1 + RUNNER_UP_CANDIDATES] if h.score >= QUOTE_RUNNER_UP_RATIO * hits[0].score]
        if len(close) < 2:
            return close[0].service_id if close else None
        retrieval = assessment.retrieval
        # the likeliest is among the rivals, as in retrieval: its name words do not count for the others
        found = self.lines.best_scores(
            question, [h.service_id for h in (hits[0], *close)], retrieval.query_terms, retrieval.query_vector
        )
        return max(close, key=lambda h: (found.get(h.service_id, 0.0), h.score)).service_id

    def _runner_up_quote(
        self, service_id: str | None, question: str, assessment: Assessment, chars: int
    ) -> tuple[str, list[Source]] | None:
        """The runner-up's title, its lines that answer the question and its source line; its sources.

        None when there is no runner-up or none of its lines answers: then it is named with the next
        one instead (`UNSURE_OTHERS_*`).
        Always in German (the note that the official text is German heads the whole guess).
        """
        if service_id is None or service_id not in self.index.services:
            return None
        service = self.index.services[service_id]
        selection = self.lines.select(
            service_id, question, assessment.retrieval.query_terms, assessment.retrieval.query_vector, max_chars=chars
        )
        if not selection.answered:
            return None
        return compose(service, selection, "de", overview=False), cited(service, selection.sections)

    @staticmethod
    def _guess_text(body: str, others: list[str], english: bool, also: str | None = None) -> str:
        """The hedge, the quoted answer, the runner-up's quote, further runners-up by name, a human."""
        parts = [UNSURE_LEAD_EN if english else UNSURE_LEAD_DE, body]
        if also:
            parts.extend([UNSURE_ALSO_EN if english else UNSURE_ALSO_DE, also])
        if others:
            quoted = " / ".join(others) if english else " oder ".join(f"„{t}“" for t in others)
            parts.append((UNSURE_OTHERS_EN if english else UNSURE_OTHERS_DE).format(titles=quoted))
        parts.append(UNSURE_HELP_EN if english else UNSURE_HELP_DE)
        return "\n\n".join(parts)

    def refusal(self, language: str) -> Answer:
        """Polite refusal of an instruction aimed at the assistant, with what it can help with."""
        return Answer(
            text=with_topics(REFUSE_INJECTION_DE, self.topics),
            abstained=True,
            reason="prompt_injection",
            language=language,
        )

    def out_of_scope_text(self) -> str:
        """What to say when the dialogue decided a message is off-topic."""
        return with_topics(OUT_OF_SCOPE_DE, self.topics)

    def abstention(self, assessment: Assessment) -> Answer:
        if assessment.person_requested:
            return Answer(
                text=PERSON_REQUESTED_EN if assessment.language == "en" else PERSON_REQUESTED_DE,
                abstained=True,
                reason=PERSON_REQUESTED_REASON,
                language=assessment.language,
            )
        return Answer(
            text=with_topics(
                ABSTAIN_EN if assessment.language == "en" else ABSTAIN_DE, self.topics, assessment.language
            ),
            abstained=True,
            confidence=assessment.confidence,
            reason="out_of_scope" if assessment.creative_task or assessment.off_topic else "low_confidence",
            language=assessment.language,
            alternatives=[h.service_id for h in assessment.retrieval.hits[:3]],
        )

    def answer_service(
        self,
        service_id: str,
        question: str,
        assessment: Assessment | None = None,
        sections: list[Section] | None = None,
        quote_chars: int | None = None,
    ) -> Answer:
        """Answer from one known service (top hit, button choice or dialogue context).

        The lines come from the service's whole text (`extraction.py`); `sections` (a button or a
        typed section request) restricts them to those sections.
        """
        service = self.index.services[service_id]
        query = analyze_query(self.index, question)
        terms = assessment.retrieval.query_terms if assessment else query.terms
        vector = assessment.retrieval.query_vector if assessment else None
        if vector is None:  # a button or the dialogue's context: the question was not embedded yet
            vector = self.index.embedder.embed_query(query.text or question)
        only = [s for s in sections if s in service.sections] if sections else None
        # a question that only names the service ("Personalausweis") gets its overview
        title = self.index.title_terms.get(service_id, set())
        general = not only and not requested_sections(question) and set(query.content_terms) <= title
        language = assessment.language if assessment else detect_language(question)
        # the quote's budget counts line text only; labels, list headings and the source line come on
        # top, so an answer over MAX_ANSWER_CHARS is made again from a smaller quote
        first = quote_chars or MAX_CHARS
        budgets = [first, *(b for b in GUESS_QUOTE_CHARS if b < first)]
        for budget in budgets:
            selection = self.lines.select(service_id, question, terms, vector, only=only or None, max_chars=budget)
            if only and not selection.lines:
                selection = self.lines.select(service_id, question, terms, vector, max_chars=budget)
            lead = (quote_chars or MAX_LEAD_CHARS) if budget == first else budget
            text = compose(service, selection, language, overview=general, lead_chars=lead)
            if len(text) <= MAX_ANSWER_CHARS or only:  # a section asked for by button is shown as far as it fits
                break
        overview = general or not selection.answered  # what `compose` showed instead of chosen lines
        shown = [Section.UEBERBLICK] if overview else selection.sections
        if overview and overview_fee(service, _overview_text(service)):
            shown = [Section.UEBERBLICK, Section.GEBUEHREN]  # cited, and no "Gebühren" button repeats it
        answer = Answer(
            text=text,
            service_id=service.id,
            service_title=service.title,
            sections=shown,
            sources=cited(service, shown),
            confidence=assessment.confidence if assessment else 1.0,
            language=language,
            alternatives=[h.service_id for h in assessment.retrieval.hits if h.service_id != service_id][:3]
            if assessment
            else [],
        )
        # the LLM may only reword these official lines; every check failing means the extractive answer
        return self.writer.improve(question, answer) if self.writer else answer
