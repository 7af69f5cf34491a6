"""Fit the answer-line weights (`knowledge/data/line_scorer.json`) on OMoS-QA's train split only.

Each city's pages are ingested through the Integreat importer into a temporary index, exactly as
`eval-omosqa` does, and every train question (German and English, both asked against the German
pages) is turned into the rows `LineScorer.line_features` computes for the gold page: the same
evidence the answer is chosen from. A logistic regression learns which lines are gold answer lines;
then the answer rule's two numbers on the new probability scale (`min_score`: below it no line
answers; `relative_keep`: further lines within this share of the best) are chosen on the same train
questions with `extraction.choose`, the rule answers use. Dev files are never read here.

Run: `buergerbot train-extractor --corpus DIR` (DIR holds pages_de.jsonl and train_*.json).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.answering import Answerer
from knowledge.config import KnowledgeConfig
from knowledge.extraction import FEATURES, HAND_SET, LEARNED_FILE, W_KIND, W_SECTION, Line, LineWeights, choose
from knowledge.omosqa import ATTRIBUTION
from knowledge.omosqa.data import Page, Question, load_pages, load_questions
from knowledge.omosqa.metrics import extraction_scores, harmonic
from knowledge.omosqa.product import normalise, product_index, service_id
from knowledge.retrieval import analyze_query
from knowledge.sections import requested_sections

Log = Callable[[str], None]
MIN_SCORES = tuple(round(v, 2) for v in np.arange(0.05, 0.80, 0.05))
RELATIVE_KEEPS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
REGULARISATION_C = 1.0
# Integreat pages have no sections (every line is "Überblick"), so OMoS-QA cannot teach what the
# section evidence is worth: it keeps its hand-set proportion to the kind evidence. Where a line
# stands and how long it is describe Integreat's page layout (answers in long early prose lines);
# fitted, they made a catalogue's short fee lines lose against its long overview (Munich's
# fact_accuracy fell from 0.62 to 0.50), so they are not fitted.
NOT_FITTED = ("section", "position", "length")
FITTED = tuple(name for name in FEATURES if name not in NOT_FITTED)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def line_indices(lines: Sequence[Line], context: Sequence[str]) -> list[int | None]:
    """Context index of each service line, aligned in order by normalised text (None: no match)."""
    keys = [normalise(text) for text in context]
    found: list[int | None] = []
    cursor = 1  # line 0 of a context is the page title, which the importer makes the service's title
    for line in lines:
        text = normalise(line.text)
        if line.paragraph >= 0 and line.paragraph != line.position and found and found[-1] is not None:
            # a further sentence of a split paragraph: the same context line as the sentence before
            found.append(found[-1] if text in keys[found[-1]] else None)
            continue
        exact = next((i for i in range(cursor, len(keys)) if keys[i] == text), None)
        match = exact if exact is not None or line.paragraph < 0 else _containing(keys, text, cursor)
        found.append(match)
        if match is not None:
            cursor = match + 1
    return found


def _containing(keys: Sequence[str], text: str, start: int) -> int | None:
    """The first context line from `start` that holds the sentence `text` (split from it)."""
    return next((i for i in range(start, len(keys)) if text and text in keys[i]), None)


@dataclass
class Example:
    """One train question on its gold page: line rows, labels, and what the answer rule needs."""

    question: Question
    lines: list[Line]
    features: np.ndarray
    labels: np.ndarray
    indices: list[int | None]


def examples(answerer: Answerer, questions: Sequence[Question], pages: Sequence[Page]) -> list[Example]:
    """The product's line evidence for each question on its gold page (as `answer_service` computes it).

    Gold indices refer to the German page's lines (English contexts are parallel line by line).
    """
    index = answerer.index
    contexts = {p.page_id: p.sentences for p in pages}
    found: list[Example] = []
    for q in questions:
        sid = service_id(q)
        if sid not in index.services:
            continue
        query = analyze_query(index, q.text)
        vector = index.embedder.embed_query(query.text or q.text)
        lines, features = answerer.lines.line_features(sid, q.text, query.terms, vector)
        if not lines:
            continue
        indices = line_indices(lines, contexts[q.page_id])
        labels = np.array([i is not None and i in q.answers for i in indices], dtype=np.int8)
        found.append(Example(q, lines, features, labels, indices))
    return found


def collect(pages: Sequence[Page], questions: Sequence[Question], base: KnowledgeConfig, cache_dir: Path | None,
            log: Log = _stderr) -> list[Example]:  # fmt: skip
    """Examples from one temporary product index per city (one bot per city, as evaluated)."""
    collected: list[Example] = []
    for city in sorted({p.city for p in pages}):
        asked = [q for q in questions if q.city == city]
        if not asked:
            continue
        log(f"{city}: ingesting {sum(1 for p in pages if p.city == city)} pages, {len(asked)} train questions")
        with product_index([p for p in pages if p.city == city], cache_dir, base) as answerer:
            collected.extend(examples(answerer, asked, pages))
    return collected


def rule_scores(
    items: Sequence[Example], probabilities: Sequence[np.ndarray], weights: LineWeights
) -> dict[str, float]:
    """Gold-page figures of the answer rule with `weights`' thresholds on given line probabilities."""
    predictions: list[list[int]] = []
    for item, scores in zip(items, probabilities, strict=True):
        selection = choose(item.lines, [float(s) for s in scores], requested_sections(item.question.text), weights)
        chosen = {line.position for line in selection.lines} if selection.answered else set()
        predictions.append([i for pos, i in enumerate(item.indices) if pos in chosen and i is not None])
    return extraction_scores(predictions, [item.question.answers for item in items])


def objective(figures: dict[str, float]) -> float:
    """Answer lines and honest abstention count alike: mean of extraction F1 and unanswerable F1."""
    unanswerable = harmonic(figures["unanswerable_precision"], figures["unanswerable_recall"])
    return (figures["f1"] + unanswerable) / 2


def fit(items: Sequence[Example], log: Log = _stderr) -> LineWeights:
    """Logistic regression over all lines of all examples, then the rule's thresholds on train."""
    from sklearn.linear_model import LogisticRegression

    columns = [FEATURES.index(name) for name in FITTED]
    x = np.vstack([item.features for item in items])
    y = np.concatenate([item.labels for item in items])
    model = LogisticRegression(C=REGULARISATION_C, max_iter=1000)
    model.fit(x[:, columns], y)
    coefficients = {name: round(float(c), 6) for name, c in zip(FITTED, model.coef_[0], strict=True)}
    coefficients["section"] = round(coefficients["kind"] * W_SECTION / W_KIND, 6)
    intercept = round(float(model.intercept_[0]), 6)
    log(f"fitted on {len(items)} questions, {len(y)} lines ({int(y.sum())} gold): {coefficients} + {intercept}")
    learned = LineWeights(coefficients, intercept, learned=True)
    probabilities = [learned.scores(item.features) for item in items]
    best: tuple[float, float, float] | None = None
    for min_score in MIN_SCORES:
        for keep in RELATIVE_KEEPS:
            candidate = LineWeights(coefficients, intercept, min_score, keep, learned=True)
            value = objective(rule_scores(items, probabilities, candidate))
            if best is None or value > best[0] + 1e-9:
                best = (value, min_score, keep)
    assert best is not None
    _, min_score, keep = best
    chosen = LineWeights(coefficients, intercept, min_score, keep, learned=True)
    train = {k: round(v, 4) for k, v in rule_scores(items, probabilities, chosen).items()}
    log(f"rule on train: min_score {min_score}, relative_keep {keep}: {train}")
    return LineWeights(
        coefficients,
        intercept,
        min_score,
        keep,
        learned=True,
        info={
            "trained_on": "OMoS-QA train_de.json + train_en.json (questions), pages_de.jsonl, per-city product indexes",
            "questions": len(items),
            "lines": len(y),
            "gold_lines": int(y.sum()),
            "model": f"sklearn LogisticRegression(C={REGULARISATION_C}) over {list(FITTED)}; "
            "section = kind * W_SECTION / W_KIND (not in the data); position and length not used",
            "thresholds_chosen_on": "train (objective: mean of extraction F1 and unanswerable F1)",
            "train_gold_page": train,
            "data": ATTRIBUTION,
        },
    )


def hand_set_thresholds(items: Sequence[Example], log: Log = _stderr) -> tuple[float, float]:
    """`MIN_SCORE` and `RELATIVE_KEEP` for the hand-set weights, chosen on train like the learned ones.

    The hand-set weights stay (fitted weights lowered Munich's fact_accuracy, module doc of
    extraction.py); only the answer rule's two thresholds are chosen on real questions.
    """
    scores = [HAND_SET.scores(item.features) for item in items]
    best: tuple[float, float, float] | None = None
    for min_score in MIN_SCORES:
        for keep in RELATIVE_KEEPS:
            value = objective(rule_scores(items, scores, LineWeights(min_score=min_score, relative_keep=keep)))
            if best is None or value > best[0] + 1e-9:
                best = (value, min_score, keep)
    assert best is not None
    value, min_score, keep = best
    log(f"hand-set weights on {len(items)} train questions: min_score {min_score}, relative_keep {keep}, "
        f"objective {value:.4f}")  # fmt: skip
    return min_score, keep


def train_extractor(corpus: Path, base: KnowledgeConfig, cache_dir: Path | None, out: Path = LEARNED_FILE,
                    log: Log = _stderr, hand_set: bool = False) -> LineWeights:  # fmt: skip
    """Fit on `corpus`/train_*.json against `corpus`/pages_de.jsonl and write `out`.

    With `hand_set`, only the hand-set weights' two thresholds are chosen on train and returned
    (nothing written), to compare with the hand-chosen `extraction.MIN_SCORE` and `RELATIVE_KEEP`.
    """
    import json

    files = sorted(corpus.glob("train_*.json"))
    if not files:
        raise SystemExit(f"no train_*.json in {corpus}")
    pages = load_pages(corpus / "pages_de.jsonl")
    questions = [q for f in files for q in load_questions(f)]
    items = collect(pages, questions, base, cache_dir, log)
    if hand_set:
        min_score, keep = hand_set_thresholds(items, log)
        return LineWeights(min_score=min_score, relative_keep=keep)
    weights = fit(items, log)
    out.write_text(json.dumps(weights.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(f"written {out}")
    return weights
