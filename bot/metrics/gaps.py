"""Content gaps: questions the bot could not answer, grouped by similarity for the editors.

Why lemmas and not embeddings: the editors need groups they can read ("Hund, Leine, Park"), the
grouping must run inside the report command on a busy server without loading a neural model, and
the project's German analysis (knowledge.text: lemmas, compound parts, synonyms) already makes
"Perso verlängern" and "Personalausweis verlängern lassen" meet. Each question becomes a TF-IDF
vector of its terms; a greedy pass assigns it to the most similar existing group (cosine of the
group centroid above a threshold) or opens a new one. Deterministic and explainable.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.conversation.privacy import redact
from bot.eventlog.db import events
from bot.metrics.compute import day_start
from knowledge.text import analyze_many

SIMILARITY = 0.35
LABEL_CHARS = 120
MAX_QUESTIONS = 20_000
# words of the privacy placeholders ([NAME], [ADRESSE], ...) say nothing about the topic
# and filler words citizens open with ("kurze Frage: brauche ich ...") say nothing either
_IGNORED_TERMS = {
    "name", "adresse", "telefon", "mail", "iban", "geburtsdatum", "ausweisnummer", "steuer",
    "frage", "kurz", "brauchen", "brauche", "brauch", "hallo", "hey", "moin", "gut", "tag", "bitte", "danke",
    "wissen", "moechten", "koennen", "muessen", "duerfen", "gehen", "machen", "geben", "gibt", "mal",
}  # fmt: skip


@dataclass
class GapGroup:
    label: str
    count: int
    examples: list[str]
    terms: list[str] = field(default_factory=list)


def abstained_questions(engine: Engine, first: dt.date, last: dt.date, timezone: str) -> list[str]:
    """Redacted questions of bot_abstain events (payload `question`) in the period, newest last."""
    tz = ZoneInfo(timezone)
    query = (
        sa.select(events.c.payload)
        .where(events.c.type == "bot_abstain")
        .where(events.c.ts >= day_start(first, tz), events.c.ts < day_start(last + dt.timedelta(days=1), tz))
        .order_by(events.c.ts.desc())
        .limit(MAX_QUESTIONS)
    )
    with engine.connect() as connection:
        payloads = [row[0] for row in connection.execute(query)]
    # redacted when stored; redacted again here, so rules added since then also cover older events
    questions = [redact(str(p.get("question") or "")).strip() for p in payloads if isinstance(p, dict)]
    return [q for q in reversed(questions) if q]


def group_questions(questions: list[str], threshold: float = SIMILARITY, limit: int = 20) -> list[GapGroup]:
    """Greedy TF-IDF grouping; groups sorted by size, each with up to three distinct examples."""
    if not questions:
        return []
    distinct = Counter(q.strip() for q in questions)
    texts = list(distinct)
    term_lists = analyze_many(texts, expand=False)
    doc_freq: Counter[str] = Counter()
    for terms in term_lists:
        doc_freq.update(set(terms) - _IGNORED_TERMS)
    n_docs = len(texts)
    vectors: list[dict[str, float]] = []
    for terms in term_lists:
        tf = Counter(t for t in terms if t not in _IGNORED_TERMS)
        vec = {t: (1 + math.log(c)) * math.log(1 + n_docs / doc_freq[t]) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({t: v / norm for t, v in vec.items()})

    groups: list[dict[str, object]] = []
    order = sorted(range(n_docs), key=lambda i: (-distinct[texts[i]], texts[i]))
    for i in order:
        vec = vectors[i]
        best, best_sim = None, 0.0
        for group in groups:
            centroid: dict[str, float] = group["centroid"]  # type: ignore[assignment]
            norm = group["norm"]  # type: ignore[assignment]
            sim = sum(v * centroid.get(t, 0.0) for t, v in vec.items()) / (norm or 1.0)
            if sim > best_sim:
                best, best_sim = group, sim
        if best is None or best_sim < threshold or not vec:
            best = {"centroid": {}, "norm": 0.0, "members": []}
            groups.append(best)
        centroid = cast(dict[str, float], best["centroid"])
        for t, v in vec.items():
            centroid[t] = centroid.get(t, 0.0) + v
        best["norm"] = math.sqrt(sum(v * v for v in centroid.values()))
        cast(list[int], best["members"]).append(i)

    out: list[GapGroup] = []
    for group in groups:
        members: list[int] = group["members"]  # type: ignore[assignment]
        centroid = group["centroid"]  # type: ignore[assignment]
        count = sum(distinct[texts[i]] for i in members)
        top_terms: list[str] = []
        for term, _weight in sorted(centroid.items(), key=lambda kv: (-kv[1], kv[0])):
            if not any(term[:4] == t[:4] or term in t or t in term for t in top_terms):  # grill/grillen, kraftwerk
                top_terms.append(term)
            if len(top_terms) == 3:
                break
        typical = max(members, key=lambda i: (distinct[texts[i]], _is_sentence(texts[i]),
                                              _similarity(vectors[i], centroid), -len(texts[i])))  # fmt: skip
        examples = [texts[typical], *[texts[i] for i in members if i != typical][:2]]
        out.append(GapGroup(label=_label(texts[typical]), count=count, examples=examples, terms=top_terms))
    out.sort(key=lambda g: (-g.count, g.label))
    return out[:limit]


def _is_sentence(text: str) -> bool:
    """A question as people ask it, not a string of search words ("Bar Bingen längsten")."""
    return text.rstrip().endswith("?") or len(text.split()) >= 6


def _similarity(vector: dict[str, float], centroid: dict[str, float]) -> float:
    return sum(v * centroid.get(t, 0.0) for t, v in vector.items())


def _label(question: str, limit: int = LABEL_CHARS) -> str:
    """A group is named by its most typical question, as a citizen asked it (redacted, shortened).

    Most typical: asked most often; then a whole sentence before search words; then closest to
    the group's centre.

    Why not keywords: three top terms read as word salad ("Bar, Bingen, Längsten"); a real
    question tells editors at once what is missing. It passes through `redact` once more, since a
    label is shown more prominently than any example.
    """
    text = " ".join(redact(question).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def content_gaps(engine: Engine, first: dt.date, last: dt.date, timezone: str, limit: int = 20) -> list[GapGroup]:
    return group_questions(abstained_questions(engine, first, last, timezone), limit=limit)
