"""Which sentences of a service answer *this* question: scored over the service's whole text.

The previous answer picked a section ("Gebühren") and printed up to five of its lines in order; on
Munich's catalogue that dropped the one fee line asked for ("über 24 Jahren: 46 Euro") and claimed
"Zu Fristen steht nichts", when the description said "ein Jahr gültig". So now every line of the
service competes, wherever the catalogue put it: a fee line in the description, a deadline in the
overview, an office address in the locations.

A line's score adds four pieces of evidence: the question's rare words it contains (idf-weighted,
after typo correction and synonyms), its vector similarity to the question (so English questions
and paraphrases find German lines), whether it holds the *kind* of fact asked for (an amount for
"Was kostet", a duration for "Wie lange", an office or phone number for "Wo"/"anrufen"), and
whether it sits in the section that kind of question usually lives in. Bullets carry their list
heading, so "46 Euro" is shown with "über 24 Jahren" and under "Gebühren".

How the evidence is weighed comes from `knowledge/data/line_scorer.json` when that file exists: a
logistic regression over the same evidence (plus whether the line is a heading, where it stands and
how long it is), fitted on OMoS-QA's train split through the product's own index by
`buergerbot train-extractor` (`knowledge/omosqa/training.py`). Without the file (or if it cannot be
read) the hand-set weights below are used; they were checked on the content's own structure. No
file is shipped: fitted on OMoS-QA, the weights raised its dev F1 but lowered Munich's
fact_accuracy (README, "Real municipal content: OMoS-QA").
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.models import Section, Service
from knowledge.sections import asks_for, requested_sections
from knowledge.text import FREE_OF_CHARGE_DE, analyze, is_dictionary_word

if TYPE_CHECKING:
    from knowledge.index import KnowledgeIndex

_MONEY = re.compile(rf"\d[\d.,]*\s*(?:euro|eur\b|€)|{FREE_OF_CHARGE_DE}|\bfree of charge\b", re.I)
_FEE_WORD = re.compile(r"gebühr|kosten|\bkostet?\b|bezahl|zahlen", re.I)  # "kostet" holds no "kosten"
_DURATION = re.compile(
    r"\b(?:\d+|ein|eine[nms]?|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|"
    r"vierzehn|halbe[nms]?)\s+(?:arbeits|werk|kalender)?(?:tage?s?n?|wochen?|monate?s?n?|jahre?s?n?|stunden?)\b|"
    r"\bgültig\b|\bfrist\w*|\bspätestens\b|\bdauer\w*|\d{1,2}\.\d{1,2}\.\d{2,4}",
    re.I,
)
# an age ("über 24 Jahren: 46 Euro", "ab 16 Jahren", "18 Jahre alt") is no duration; "über 4 Wochen" is
_AGE = re.compile(r"\b(?:unter|über|ab)\s+\d+\s+jahre?n?\b|\b\d+\s+jahre?\s+alt\b", re.I)


def _has_duration(text: str) -> bool:
    """A duration or deadline that is not an age."""
    ages = [match.span() for match in _AGE.finditer(text)]
    return any(not any(start <= match.start() < end for start, end in ages) for match in _DURATION.finditer(text))


_CLOCK = re.compile(r"\b\d{1,2}[.:]\d{2}\s*uhr\b|\bmontags?\b|\bdienstags?\b|\bmittwochs?\b|\bdonnerstags?\b|"
                    r"\bfreitags?\b|\bsamstags?\b|\böffnungszeit\w*", re.I)  # fmt: skip
_PHONE = re.compile(r"\b(?:telefon|tel\.|hotline|rufnummer)\b|\b0\d{2,4}[ /-]?\d{3,}|\b\d{3} \d{3}\b", re.I)
_ONLINE = re.compile(r"\bonline\w*|https?://|\binternet\b|\be-?mail\b", re.I)
_DOCUMENT = re.compile(
    r"\b\w*(?:ausweis|pass|bescheinigung|urkunde|nachweis|formular|bestätigung|foto|vollmacht|unterlagen|"
    r"dokument|original|kopie)\w*\b",
    re.I,
)
# what to bring, in the split form of "mitbringen" ("Bitte bringen Sie die Benachrichtigung mit.")
_BRING_ALONG = re.compile(r"\b(?:bringen|nehmen|legen)\s+sie\b[^.;:]*\b(?:mit|vor)\b", re.I)
_ASKS_PHONE = re.compile(r"\b(?:anruf\w*|telefon\w*|hotline|phone|call|sperr\w*|block\w*)\b", re.I)
_ASKS_TIME = re.compile(
    r"\b(?:wann|uhrzeit|öffnungszeit\w*|geöffnet|an welche[mn] tag\w*|welche[mn]? wochentag\w*|when|opening|"
    r"which days?|what time)\b",
    re.I,
)
# a date written out ("bis 11. März 2026", "ab dem 1. Sept."): the answer to "bis wann / ab wann", but
# not to "wie lange" (catalogue texts also date their laws: "Am 27. Juni 2024 in Kraft getreten")
_DATE = re.compile(
    r"\b\d{1,2}\.?\s*(?:jan(?:uar)?|feb(?:ruar)?|mär(?:z)?|maerz|apr(?:il)?|mai|jun[i]?|jul[i]?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|okt(?:ober)?|nov(?:ember)?|dez(?:ember)?)\b\.?",
    re.I,
)
_ASKS_DATE = re.compile(r"\bwann\b|\bstichtag\w*|\bdatum\b|\bwhen\b|\bby what date\b", re.I)
_HEADING_MAX_WORDS = 8
_ITEM_MAX_WORDS = 12  # "Neufahrzeug (ohne Wunschkennzeichen): ab 20,50 Euro": an unbulleted list item
_DIGIT = re.compile(r"\d")
log = logging.getLogger(__name__)

# evidence weights (see module doc)
W_LEXICAL = 1.0
W_DENSE = 1.2
W_KIND = 1.2
W_SECTION = 0.3
W_PARAGRAPH = 0.5  # share of its paragraph's lexical evidence a sentence keeps
DENSE_FLOOR = 0.25  # cosine below this says nothing
# `buergerbot train-extractor --hand-set` chooses MIN_SCORE 0.25 and RELATIVE_KEEP 0.3 on OMoS-QA's
# train split. MIN_SCORE follows it; RELATIVE_KEEP stays at the hand-chosen 0.7, because 0.3 made
# Munich's answers longer and less focused (the Sperrnotruf line lost to two longer ones; README).
RELATIVE_KEEP = 0.7  # further lines are kept when they score at least this share of the best line
MAX_LINES = 4
MAX_FEE_LINES = 6
MAX_GENERAL_FEE_LINES = 2
MAX_CHARS = 560
MAX_SECTION_CHARS = 800  # a section asked for by name is shown as far as this allows
# the kinds of fact `_kind_match` recognises in a line: only for these is "no line has it" checkable
CHECKABLE_SECTIONS = frozenset(
    {Section.GEBUEHREN, Section.FRISTEN, Section.UNTERLAGEN, Section.ZUSTAENDIGE_STELLE, Section.ONLINE_DIENST,
     Section.FORMULARE}
)  # fmt: skip
FORM_LINE_WEIGHT = 0.5  # a form link's score when the question does not ask for forms (`LineScorer.select`)
MIN_SCORE = 0.25  # below this, no line of the service answers the question (chosen on OMoS-QA train)
LEARNED_FILE = Path(__file__).resolve().parent / "data" / "line_scorer.json"
# the evidence per line, in this order, for the learned weights (`line_features`)
FEATURES = (
    "lexical",
    "dense",
    "kind",
    "section",
    "heading",
    "position",
    "length",
    "lexical_gap",  # lexical minus the service's best line: how this line compares with its rivals
    "dense_gap",
    "neighbour_dense",  # the better dense evidence of the lines before and after: answers come in runs
    "paragraph_lexical",  # lexical evidence of the whole paragraph a sentence was split from
)
KIND = FEATURES.index("kind")


@dataclass(frozen=True)
class Line:
    """One line of a service, with what it needs to be understood on its own."""

    position: int
    section: Section
    text: str
    heading: str  # the list heading a bullet belongs to ("Gebühren:", "Unterlagen:"), or ""
    paragraph: int = -1  # position of its paragraph's first line (-1: a bullet or list item)
    heads_list: bool = False  # a short line without a colon that bullets follow (`service_lines`)

    @property
    def is_heading(self) -> bool:
        """A title that answers nothing by itself ("Gebühren:", "Wichtige Hinweise").

        A short line with a number or a "label: value" pair is a fact: fee lists in the DLDB export
        are plain lines ("12 Monate gültig: 102 Euro", "Gebührenfrei: ehrenamtliche Tätigkeit"),
        and halving their score as headings let a long sentence about "die Gebühr überweisen" win
        over the amount asked for.
        """
        text = self.text.rstrip()
        if text.startswith("- "):
            return False
        if text.endswith(":"):
            return True
        return _is_label(text) and ":" not in text

    @property
    def labels_what_follows(self) -> bool:
        """A heading, or a short "label: value" line that names the list under it ("Online-Gebühr: …")."""
        return self.heads_list or self.is_heading or (_is_label(self.text.rstrip()) and ":" in self.text)


@dataclass(frozen=True)
class Selection:
    """The lines chosen for a question (source order) and how sure the extractor is."""

    lines: list[Line]
    best_score: float
    min_score: float = MIN_SCORE  # the scale of the weights that scored the lines
    # when no line answers: whether that means the text does not cover the question. Only for a
    # question that asks for a kind of fact a line can be checked for (a fee, a deadline, a document,
    # an office, a form) or whose words occur nowhere in the service; a situation ("Ich bin nach
    # München gezogen") or a "Wie beantrage ich …" that the service is about is answered by its
    # overview, and "nothing on this" would be false.
    gap_is_certain: bool = True

    @property
    def answered(self) -> bool:
        return bool(self.lines) and self.best_score >= self.min_score

    @property
    def sections(self) -> list[Section]:
        return list(dict.fromkeys(line.section for line in self.lines))


@dataclass(frozen=True)
class LineWeights:
    """How the evidence of a line becomes its score, and which scores answer a question.

    Hand-set (`learned=False`): the weighted sum of lexical, dense, kind and section evidence, halved
    for a heading. Learned: the probability of a logistic regression over all `FEATURES`; then
    `min_score` and `relative_keep` are on that probability scale, as fitted.
    """

    coefficients: dict[str, float] = field(default_factory=dict)
    intercept: float = 0.0
    min_score: float = MIN_SCORE
    relative_keep: float = RELATIVE_KEEP
    learned: bool = False
    info: dict[str, object] = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """One score per row of `features` (columns in `FEATURES` order)."""
        if len(features) == 0:
            return np.zeros(0)
        if self.learned:
            weights = np.array([self.coefficients.get(name, 0.0) for name in FEATURES])
            return 1.0 / (1.0 + np.exp(-(features @ weights + self.intercept)))
        lexical, dense, kind, section, heading = (features[:, FEATURES.index(n)] for n in FEATURES[:5])
        # a sentence keeps part of its paragraph's evidence: "Die Bearbeitungszeit beträgt drei bis
        # sechs Arbeitstage" answers "Wie lange braucht der Expresspass?" because the sentence before names the express
        lexical = np.maximum(lexical, W_PARAGRAPH * features[:, FEATURES.index("paragraph_lexical")])
        score = W_LEXICAL * lexical + W_DENSE * dense + W_KIND * kind + W_SECTION * section
        return np.where(heading > 0, 0.5 * score, score)  # a heading alone answers nothing

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "coefficients": self.coefficients,
            "intercept": self.intercept,
            "min_score": self.min_score,
            "relative_keep": self.relative_keep,
            "info": self.info,
        }

    @classmethod
    def load(cls, path: Path = LEARNED_FILE) -> LineWeights:
        """The learned weights in `path`, or the hand-set ones when it is missing or unreadable."""
        if not path.exists():
            return HAND_SET
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            coefficients = {str(k): float(v) for k, v in data["coefficients"].items()}
            if set(coefficients) - set(FEATURES) or not all(math.isfinite(v) for v in coefficients.values()):
                raise ValueError(f"unknown or invalid features {sorted(coefficients)}")
            return cls(
                coefficients,
                float(data["intercept"]),
                float(data["min_score"]),
                float(data["relative_keep"]),
                learned=True,
                info=dict(data.get("info", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("learned line weights not loaded from %s (%s): using the hand-set weights", path, exc)
            return HAND_SET


HAND_SET = LineWeights()


def service_lines(service: Service) -> list[Line]:
    """All lines of a service in reading order (sections in their canonical order).

    A long paragraph is split into its sentences: the catalogue writes five facts into one
    paragraph ("… nur noch befristet erteilt. … längstens für fünf Jahre …"), and as one line the
    fact asked for came with four sentences that did not fit the answer's length, or not at all.
    """
    lines: list[Line] = []
    for section in Section:
        text = service.sections.get(section)
        if not text:
            continue
        heading = ""
        bulleted = False  # the current list has bullets: a line without one ends it
        raws = [raw.strip() for raw in text.splitlines() if raw.strip()]
        for index, raw in enumerate(raws):
            # a short numbered line that bullets follow heads them ("Aufenthalt für mehr als 90 Tage");
            # after a bulleted list it is the next heading, not one more item ("Zusätzliche
            # Informationen für Eltern (6–10 Jahre)"); under a label without bullets, an item
            short = _is_unbulleted_item(raw)
            heads = short and index + 1 < len(raws) and raws[index + 1].startswith("- ")
            item = raw.startswith("- ") or (bool(heading) and not bulleted and not heads and short)
            if item:
                bulleted = bulleted or raw.startswith("- ")
                lines.append(Line(len(lines), section, raw, heading))
                continue
            bulleted = False
            first = len(lines)
            for sentence in sentences(raw):
                line = Line(len(lines), section, sentence, "", first, heads_list=heads)
                heading = sentence if line.labels_what_follows else ""
                lines.append(line)
    return lines


SPLIT_CHARS = 160  # a paragraph longer than this is split into sentences (`service_lines`)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"“”)]))\s+(?=[„\"(]?[A-ZÄÖÜ])")
_ABBREVIATION = re.compile(
    r"(?:\b(?i:[a-zäöü]|z\.\s?b|bzw|bzgl|ca|nr|abs|usw|inkl|insb|evtl|ggf|u\.\s?a|d\.\s?h|st|str|tel|dr|hr|fr|vgl|"
    r"max|min|mind|zzgl|mo|di|mi|do|sa|so|jan|feb|aug|sept?|okt|nov|dez|bspw|gem|geb|lt|sog|ziff|art|abt|mio|mrd|"
    r"s|ff|allg|bes|bzw|eigtl|evtl|jhd|jh|tsd)|(?<![\d.])\d{1,2})\.$"
)


def sentences(paragraph: str, limit: int = SPLIT_CHARS) -> list[str]:
    """The sentences of a long paragraph (a short one stays whole); never splits "z. B." or "1. Januar"."""
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start : match.start()].rstrip()
        if _ABBREVIATION.search(candidate.rstrip('"“”)')):
            continue
        pieces.append(candidate)
        start = match.end()
    pieces.append(paragraph[start:].strip())
    return [piece for piece in pieces if piece]


def _is_label(text: str) -> bool:
    """Short, without a number, not a sentence: "Gebühren", "vor-Ort-Gebühr: nur EC-Karte"."""
    return len(text.split()) <= _HEADING_MAX_WORDS and not text.endswith((".", "!", "?")) and not _DIGIT.search(text)


def _is_unbulleted_item(text: str) -> bool:
    """A short line with a number under a label, as the DLDB fee lists write them without bullets.

    "Online-Gebühr: Online-Zahlung möglich" followed by "Neufahrzeug: ab 20,50 Euro": the amount
    is only right with its label, so the line keeps the label as its heading, like a bullet.
    """
    return len(text.split()) <= _ITEM_MAX_WORDS and bool(_DIGIT.search(text)) and not text.endswith(":")


def _kind_match(line: Line, asked: list[Section], question: str) -> float:
    """How well the line holds the kind of fact the question asks for (0..1)."""
    text = line.text
    best = 0.0
    for section in asked:
        if (section is Section.GEBUEHREN and _MONEY.search(text)) or (
            section is Section.FRISTEN and (_has_duration(text) or (_ASKS_DATE.search(question) and _DATE.search(text)))
        ):
            best = max(best, 1.0)
        elif section is Section.GEBUEHREN and _FEE_WORD.search(text):
            best = max(best, 0.3)  # talks about paying, but states no amount
        elif section is Section.ZUSTAENDIGE_STELLE and (
            line.section is Section.ZUSTAENDIGE_STELLE or _CLOCK.search(text)
        ):
            best = max(best, 0.8)
        elif section is Section.UNTERLAGEN and (_DOCUMENT.search(text) or _BRING_ALONG.search(text)):
            best = max(best, 0.6)
        elif (section is Section.ONLINE_DIENST and _ONLINE.search(text)) or (
            section is Section.FORMULARE and line.section is Section.FORMULARE
        ):
            best = max(best, 0.8)
    if _ASKS_PHONE.search(question) and _PHONE.search(text):
        best = max(best, 1.0)
    if _ASKS_TIME.search(question) and (_CLOCK.search(text) or _has_duration(text) or _DATE.search(text)):
        best = max(best, 0.8)
    return best


MIN_HEAD_CHARS = 5  # a question word this long also matches compounds it ends ("anwalt" in "rechtsanwalt")
MIN_MODIFIER_CHARS = 4  # ... when what comes before it is a word of at least this length


def _contains(line_terms: frozenset[str], term: str) -> bool:
    """The line uses the word, or a compound whose head it is (German compounds end in their head).

    The compound splitter knows common compounds as whole words ("rechtsanwalt"), so their parts
    are not among a line's terms; a "Rechtsanwalt" is still an "Anwalt".
    """
    if term in line_terms:
        return True
    if len(term) < MIN_HEAD_CHARS:
        return False
    # a verb ending is no compound head: "zulassen" is no kind of "lassen"
    return any(
        word.endswith(term) and _is_modifier(word[: -len(term)]) and not (term.endswith("en") and word.endswith("en"))
        for word in line_terms
    )


@functools.lru_cache(maxsize=50_000)
def _is_modifier(prefix: str) -> bool:
    """The front of a compound is a word itself (with or without the linking "s"): "rechts" in
    "Rechtsanwalt", not "fahrzeugh" in "Fahrzeughalter" or "sch" in "Schalter"."""
    if len(prefix) < MIN_MODIFIER_CHARS:
        return False
    return is_dictionary_word(prefix) or (prefix.endswith("s") and is_dictionary_word(prefix[:-1]))


class LineScorer:
    """Scores the lines of one index's services; analysis and vectors of lines are cached per service."""

    def __init__(self, index: KnowledgeIndex, weights: LineWeights | None = None) -> None:
        self.index = index
        self.weights = weights if weights is not None else LineWeights.load()
        self._lines: dict[str, tuple[list[Line], list[frozenset[str]], np.ndarray]] = {}
        self._lock = threading.Lock()

    def prepared(self, service_id: str) -> tuple[list[Line], list[frozenset[str]], np.ndarray]:
        cached = self._lines.get(service_id)
        if cached is not None:
            return cached
        service = self.index.services[service_id]
        lines = service_lines(service)
        terms = [frozenset(analyze(f"{line.heading} {line.text}", expand=False)) for line in lines]
        vectors = self.index.embed_texts([f"{line.heading} {line.text}".strip() for line in lines])
        norms = np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12) if len(lines) else 1.0
        prepared = (lines, terms, (vectors / norms).astype(np.float32) if len(lines) else vectors)
        with self._lock:
            self._lines[service_id] = prepared
        return prepared

    def line_features(
        self,
        service_id: str,
        question: str,
        query_terms: list[str],
        query_vector: np.ndarray | None,
        *,
        rivals: frozenset[str] | None = None,
    ) -> tuple[list[Line], np.ndarray]:
        """The service's lines and their evidence for `question` (one row per line, `FEATURES` columns).

        Training (`knowledge/omosqa/training.py`) reads the same rows the answer is chosen from.
        `rivals` (comparing services, `best_scores`): the name words of the other candidate services.
        """
        lines, terms, vectors = self.prepared(service_id)
        if not lines:
            return lines, np.zeros((0, len(FEATURES)))
        asked = requested_sections(question)
        weights = {t: self.index.idf(t) for t in dict.fromkeys(query_terms)}
        title = self.index.title_terms.get(service_id, set())
        if rivals is None:
            # the service's own name says which service, not which line: it must not pull every line
            content = {t: w for t, w in weights.items() if t not in title} or weights
        else:
            # comparing services: the service's own name counts, and a line that names another candidate
            # ("… kostet ein Personalausweis für Kinder" in the Kinderreisepass) is about that one
            # and the words that only say what kind of fact is asked ("kostet") are weighed as that kind
            content = {t: w for t, w in weights.items() if t not in rivals - title and not asks_for(t, asked)}
        total = sum(content.values()) or 1.0
        if query_vector is not None and len(vectors):
            unit = query_vector / max(float(np.linalg.norm(query_vector)), 1e-12)
            cosines = vectors @ unit.astype(np.float32)
        else:
            cosines = np.zeros(len(lines), np.float32)
        rows = np.array(
            [
                (
                    sum(w for t, w in content.items() if _contains(line_terms, t)) / total,
                    max(0.0, float(cosine) - DENSE_FLOOR),
                    _kind_match(line, asked, question),
                    float(line.section in asked),
                    float(line.is_heading),
                    line.position / max(len(lines) - 1, 1),
                    math.log1p(len(line.text)) / 6.0,  # ~1 for a 400-character line
                )
                for line, line_terms, cosine in zip(lines, terms, cosines, strict=True)
            ],
            dtype=np.float64,
        )
        lexical, dense = rows[:, 0], rows[:, 1]
        padded = np.pad(dense, 1)
        neighbour = np.maximum(padded[:-2], padded[2:])
        paragraphs: dict[int, frozenset[str]] = {}
        for line, line_terms in zip(lines, terms, strict=True):
            if line.paragraph >= 0:
                paragraphs[line.paragraph] = paragraphs.get(line.paragraph, frozenset()) | line_terms
        evidence = {
            first: sum(w for t, w in content.items() if _contains(words, t)) / total
            for first, words in paragraphs.items()
        }
        paragraph_lexical = np.array(
            [
                evidence[line.paragraph] if line.paragraph >= 0 else own
                for line, own in zip(lines, lexical, strict=True)
            ],
            dtype=np.float64,
        )
        rows = np.column_stack([rows, lexical - lexical.max(), dense - dense.max(), neighbour, paragraph_lexical])
        return lines, rows

    def line_scores(
        self,
        service_id: str,
        question: str,
        query_terms: list[str],
        query_vector: np.ndarray | None,
        *,
        rivals: frozenset[str] | None = None,
    ) -> tuple[list[Line], np.ndarray, list[float]]:
        """The service's lines, their evidence and their scores as answers to `question`."""
        lines, features = self.line_features(service_id, question, query_terms, query_vector, rivals=rivals)
        scores = [float(v) for v in self.weights.scores(features)]
        if not {Section.FORMULARE, Section.ONLINE_DIENST} & set(requested_sections(question)):
            # a form's name shares the question's words ("Leasingfahrzeug anmelden: https://…") but
            # a link answers only a question about forms
            scores = [
                s * FORM_LINE_WEIGHT if line.section is Section.FORMULARE else s
                for line, s in zip(lines, scores, strict=True)
            ]
        return lines, features, scores

    def best_scores(
        self, question: str, service_ids: list[str], query_terms: list[str], query_vector: np.ndarray | None
    ) -> dict[str, float]:
        """Each service's best answer-line score: how well its own text answers (`retrieval.AnswerEvidence`).

        Compared across services, the words of a service's own name count for its lines (within one
        service they are ignored, every line is about it), and the name words of another candidate do
        not: "Was kostet ein Personalausweis?" is no question about the Kinderreisepass because its
        text says "22,80 Euro kostet ein Personalausweis für Kinder". On the hand-set scale (about 0
        to 3), on which retrieval's `EVIDENCE_BOOST` was measured.
        """
        known = [s for s in service_ids if s in self.index.services]
        names = {s: frozenset(self.index.title_terms.get(s, set())) for s in known}
        found: dict[str, float] = {}
        for service_id in known:
            rivals = frozenset().union(*(names[s] for s in known if s != service_id))
            scores = self.line_scores(service_id, question, query_terms, query_vector, rivals=rivals)[2]
            found[service_id] = max(scores, default=0.0)
        return found

    def select(
        self,
        service_id: str,
        question: str,
        query_terms: list[str],
        query_vector: np.ndarray | None,
        only: list[Section] | None = None,
        max_chars: int = MAX_CHARS,
    ) -> Selection:
        """The lines that answer `question`; `only` restricts to sections a citizen picked by button."""
        if only:
            lines, _, _ = self.prepared(service_id)
            return self._whole_sections(lines, only) if lines else Selection([], 0.0)
        lines, features, scores = self.line_scores(service_id, question, query_terms, query_vector)
        if not lines:
            return Selection([], 0.0, self.weights.min_score)
        asked = requested_sections(question)
        selection = choose(lines, scores, asked, self.weights, max_chars)
        vocabulary = self.index.service_terms.get(service_id, set())
        words_found = any(term in vocabulary for term in query_terms)
        kind_absent = bool(asked) and all(s in CHECKABLE_SECTIONS for s in asked) and not features[:, KIND].any()
        return replace(selection, gap_is_certain=kind_absent or not words_found)

    @staticmethod
    def _whole_sections(lines: list[Line], only: list[Section]) -> Selection:
        """A section the citizen picked ("Unterlagen" button): its lines in order, as far as they fit."""
        chosen: list[Line] = []
        size = 0
        for line in lines:
            if line.section in only and (not chosen or size + len(line.text) <= MAX_SECTION_CHARS):
                chosen.append(line)
                size += len(line.text)
        return Selection(chosen, 1.0 if chosen else 0.0)


def choose(
    lines: list[Line], scores: list[float], asked: list[Section], weights: LineWeights, max_chars: int = MAX_CHARS
) -> Selection:
    """The best lines by score, as many as are close to the best and fit, in source order.

    A function of its own so training can pick `min_score` and `relative_keep` with the very rule
    the answers use.
    """
    order = sorted(range(len(lines)), key=lambda i: (-scores[i], i))
    best = scores[order[0]]
    # fee lists are short lines, and the one asked for is often the fourth ("über 24 Jahren")
    limit = MAX_FEE_LINES if Section.GEBUEHREN in asked else MAX_LINES
    chosen: list[int] = []
    size = 0
    for i in order:
        if len(chosen) >= limit or scores[i] < weights.relative_keep * best or scores[i] <= 0:
            break
        if chosen and size + len(lines[i].text) > max_chars:
            continue
        chosen.append(i)
        size += len(lines[i].text)
    size = _with_context(lines, chosen, size, max_chars + CONTEXT_SLACK_CHARS, keep=order[0])
    page = all(line.section is Section.UEBERBLICK for line in lines)
    if page:
        size = _as_page_passage(lines, chosen, size, max_chars)
    elif not asked:
        # a question about a situation rather than a detail: what it costs belongs to a short answer
        # (not on a web page: there a money line elsewhere belongs to another of its blocks)
        fees = [i for i in range(len(lines)) if _MONEY.search(lines[i].text) and i not in chosen]
        for i in fees[:MAX_GENERAL_FEE_LINES]:
            extra = [j for j in dict.fromkeys([*_context(lines, i), i]) if j not in chosen]
            cost = sum(len(lines[j].text) for j in extra)
            if size + cost <= max_chars:  # a fee line only with what it needs ("Dann kostet …")
                chosen.extend(extra)
                size += cost
    _as_passages(lines, chosen, size, max_chars + CONTEXT_SLACK_CHARS, within_blocks=page)
    return Selection([lines[i] for i in sorted(chosen)], best, weights.min_score)


# German words that open a sentence by referring to the one before (demonstratives, pronominal
# adverbs, connectives, "Dann" after a condition); not "Sie" (mostly the polite "you") nor "Es" ("Es gibt …")
_POINTS_BACK = re.compile(
    r"^(?:dies(?:e[mnrs]?)?|da(?:zu|für|bei|her|mit|nach|von|rin|rauf|raus|rüber)|deshalb|deswegen|darum|"
    r"hierfür|hierzu|hierbei|außerdem|zudem|ebenso|allerdings|jedoch|trotzdem|er|solche[nrs]?|dann)\b",
    re.I,
)
CONTEXT_SLACK_CHARS = 160  # the context a chosen line needs may overrun the quote budget by this much
# lines of a broken sentence or condition added before or after a chosen line (a list comes whole)
MAX_CONTEXT_LINES = 4
# lines between two chosen ones that are shown to make one passage; on OMoS-QA's German train split
# gold-page F1 is 0.435 / 0.446 / 0.450 for 2 / 3 / 4 lines: 3, to keep Munich's answers focused
MAX_GAP_LINES = 3


def _unfinished(line: Line) -> bool:
    """A paragraph line that does not stand alone: it ends mid-sentence, is a heading, or asks.

    Web pages break a sentence over lines ("… beträgt ca." / "4 Wochen."; "Fachschulen sind für
    Personen, die" / what follows), open a list ("folgende Dokumente mitbringen:"), or ask the
    question the next line answers ("Du möchtest den Kurs freiwillig besuchen?"). A list item
    stands alone under its heading, which `render` shows.
    """
    if line.paragraph < 0:
        return False
    text = line.text.rstrip().rstrip('"“”)')
    if text.endswith((":", "?", ",", ";", "–", "-")) or line.is_heading:
        return True
    if not text.endswith((".", "!")) and not _DIGIT.search(text):
        return True  # a fact line ("13 Euro", "Mo – Fr 10.00 – 13.00 Uhr") stands alone without a full stop
    words = text.split()
    return bool(words) and (words[-1].casefold() in _FUNCTION_WORDS or bool(_ABBREVIATION.search(text)))


# German words a sentence cannot end with (articles, conjunctions, prepositions, relative pronouns):
# a line ending with one is continued on the next ("Fachschulen sind für Personen, die")
_FUNCTION_WORDS = frozenset(
    re.split(
        r"\s+",
        "der die das den dem des ein eine einen einem einer eines und oder aber sowie sondern bzw wenn weil dass "
        "ob als wie wo was wer welche welcher welches für mit von zu zum zur bei nach aus an am auf in im über "
        "unter vor hinter neben zwischen durch gegen ohne um bis seit während wegen trotz sich",
    )
)


def _breaks_off(line: Line) -> bool:
    """A paragraph line that ends mid-sentence (not a heading, list opener or question)."""
    text = line.text.rstrip().rstrip('"“”)')
    return _unfinished(line) and not line.is_heading and not text.endswith((":", "?"))


def _list_items(lines: list[Line], opener: Line) -> list[int]:
    """The items of the list `opener` opens: bullets under it, or short lines after a colon."""
    colon = opener.paragraph >= 0 and opener.text.rstrip().endswith(":")
    items: list[int] = []
    for following in lines[opener.position + 1 :]:
        if following.section is not opener.section:
            break
        if not (following.heading == opener.text or (colon and following.paragraph >= 0 and _is_label(following.text))):
            break
        items.append(following.position)
    return items


def _context(lines: list[Line], i: int) -> list[int]:
    """What line i is not understood without: the start of its sentence or its condition, and
    what it leaves open (the rest of a broken sentence, the answer to a question, a whole list).
    A list comes whole or not at all: part of "bringen Sie mit:" reads as the complete list."""
    line = lines[i]
    needed: list[int] = []
    j = i
    while j > 0 and len(needed) < MAX_CONTEXT_LINES:
        before = lines[j - 1]
        if before.section is not line.section or before.paragraph < 0 or lines[j].paragraph < 0:
            break
        # a line that starts in lower case continues the one before ("kostenlos." after "… der Eintritt")
        if not (_breaks_off(before) or lines[j].text[:1].islower() or _POINTS_BACK.match(lines[j].text)):
            break
        needed.append(j - 1)
        j -= 1
    current, steps = line, 0
    while current.position + 1 < len(lines):
        following = lines[current.position + 1]
        if following.section is not line.section:
            break
        items = _list_items(lines, current) if current.labels_what_follows else []
        if items:
            needed.extend(items)
            break
        if steps >= MAX_CONTEXT_LINES or not (_unfinished(current) or _POINTS_BACK.match(following.text)):
            break
        needed.append(following.position)
        current, steps = following, steps + 1
        if not _unfinished(current):
            break
    return needed


def _with_context(lines: list[Line], chosen: list[int], size: int, budget: int, keep: int) -> int:
    """Add what each chosen line needs, all of it or none; a line (other than the best, `keep`)
    whose context does not fit is dropped, since alone it could say what the source does not."""
    pulled: set[int] = set()
    for i in list(chosen):  # score order: the best line's context first
        if i not in chosen:
            continue
        extra = [j for j in dict.fromkeys(_context(lines, i)) if j not in chosen]
        cost = sum(len(lines[j].text) for j in extra)
        if size + cost <= budget:
            chosen.extend(extra)
            pulled.update(extra)
            size += cost
        elif i != keep and i not in pulled:
            chosen.remove(i)
            size -= len(lines[i].text)
    return size


def _as_page_passage(lines: list[Line], chosen: list[int], size: int, budget: int) -> int:
    """On a page without catalogue sections, the chosen lines grow into the block around them.

    A web page (an Integreat export) is prose with no Gebühren or Unterlagen to pick from, and its
    answer is a run of sentences: on OMoS-QA's German *train* split four gold answers in five are
    one unbroken run, four lines in the median, while the line scorer chose two, the run's most
    telling ones. So neighbours join, before and after each chosen line in turn, within the
    quote `budget` and within the block: a page's own headings ("Sozialwohnungen", "Lokale
    Zeitungen") are its sections, and the answer does not run on into the next one. Gold-page F1 on
    train 0.443 → 0.56, the same as growing across headings, and a model of where a passage ends,
    fitted on train, did no better. A catalogue entry keeps its chosen lines: its sections are
    its blocks already, and there a neighbour is another fee (measured: Munich lost a fact).
    """
    changed = True
    while changed:
        changed = False
        for i in sorted(chosen):
            for j in (i - 1, i + 1):
                if not 0 <= j < len(lines) or j in chosen:
                    continue
                unit = [k for k in _unit(lines, j) if k not in chosen]
                if not unit or _leaves_block(lines, unit, i, forward=j > i):
                    continue
                cost = sum(len(lines[k].text) for k in unit)
                if size + cost <= budget:
                    chosen.extend(unit)
                    size += cost
                    changed = True
    return size


def _leaves_block(lines: list[Line], unit: list[int], i: int, *, forward: bool) -> bool:
    """Whether adding `unit` next to chosen line i would take the passage into another block.

    Forward, no line of it may be a heading; backward, only the first (the block's own heading,
    which opens the passage), and not at all when line i is that heading already.
    """
    if forward:
        return any(_starts_block(lines[k]) for k in unit)
    first = min(unit)
    return _starts_block(lines[i]) or any(_starts_block(lines[k]) for k in unit if k != first)


def _starts_block(line: Line) -> bool:
    """A page's own heading ("Sozialwohnungen"), where the page turns to another topic.

    Web pages mark their blocks only by such short lines (no sentence, no number); a list's
    "Bringen Sie mit:" and a "label: value" line ("E-Mail: …", "Ansprechpartnerin: Frau Meier")
    belong to the block they stand in.
    """
    text = line.text.rstrip()
    return line.paragraph == line.position and _is_label(text) and ":" not in text


def _unit(lines: list[Line], i: int) -> list[int]:
    """Line i with what it cannot be shown without, as `_with_context` adds it to a chosen line.

    A passage that grows by single lines would end in half a list, which reads as the whole list,
    or in half a sentence: a list item brings its heading and the whole list, a list heading its
    items, a broken sentence the rest of it (`_context`).
    """
    line = lines[i]
    if line.paragraph < 0 and line.heading:
        opener = next((j for j in range(i - 1, -1, -1) if lines[j].text == line.heading), None)
        if opener is not None:
            return [opener, *_list_items(lines, lines[opener])]
    return list(dict.fromkeys([i, *_context(lines, i)]))


def _as_passages(lines: list[Line], chosen: list[int], size: int, budget: int, *, within_blocks: bool = False) -> None:
    """Two chosen lines up to `MAX_GAP_LINES` apart in one section: the lines between make them one passage.

    Read alone, "Fachschulen sind für …" and "Was bietet die Fachschule?" skip what connects
    them; the official text in one piece is easier to follow and no longer than the budget.
    `within_blocks` (a web page): not across one of the page's own headings (`_starts_block`).
    """
    ordered = sorted(chosen)
    for first, second in itertools.pairwise(ordered):
        gap = range(first + 1, second)
        if not 0 < len(gap) <= MAX_GAP_LINES or lines[first].section is not lines[second].section:
            continue
        if within_blocks and any(_starts_block(lines[i]) for i in (*gap, second)):
            continue
        extra = sum(len(lines[i].text) for i in gap)
        if size + extra <= budget:
            chosen.extend(gap)
            size += extra


def render(selection: Selection) -> str:
    """Chosen lines under their section labels, each bullet under the label it has in the source."""
    parts: list[str] = []
    current: Section | None = None
    block: list[str] = []
    label = ""  # the list label the reader sees above the next line
    previous = -2
    for line in selection.lines:
        if line.section is not current:
            if block:
                parts.append("\n".join(block))
            block = [f"{line.section.label_de}:"]
            current, label = line.section, ""
        if line.position != previous + 1:
            label = ""  # after a gap, the same heading text may head another list
        previous = line.position
        if (
            line.heading
            and line.heading != label
            and line.heading.rstrip(":") != line.section.label_de
            and block[-1] != line.heading  # a heading chosen for itself just above, with items far below it
        ):
            block.append(line.heading)
        if line.heading:
            label = line.heading
        if line.labels_what_follows:
            label = line.text
        block.append(line.text)
    if block:
        parts.append("\n".join(block))
    return "\n\n".join(parts)
