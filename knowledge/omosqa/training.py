"""Fitting the OMoS-QA models on `train_*` questions only, thresholds from out-of-fold predictions.

Folds group questions by page, as the published dev split shares no page with train: a model that
memorised a page's lines must not be rewarded when choosing thresholds. Dev data is read only by
`choose_gate`, which picks the answerability gate (one number) on a dev split, as the issue allows
("dev_* to choose"); every model and the other thresholds are fitted on train alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.omosqa import ATTRIBUTION
from knowledge.omosqa.data import Question
from knowledge.omosqa.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    STACK_FEATURES,
    PageText,
    QueryText,
    Standing,
    question_features,
    sentence_features,
    stacked_features,
)
from knowledge.omosqa.lexicon import Lexicon, fit_lexicon, parallel_lines
from knowledge.omosqa.metrics import extraction_scores
from knowledge.omosqa.model import BagOfWords, Linear, OmosqaModel, Thresholds
from knowledge.omosqa.pipeline import Pipeline, score_lines, select_lines
from knowledge.omosqa.retrieval import RANK_FEATURES

FOLDS = 5
UNANSWERABLE_TARGET = 0.72  # a little above the 0.70 goal, so out-of-fold choices keep a margin
RANK_NEGATIVES = 60  # hardest wrong pages per question kept for the ranker


@dataclass
class Example:
    question: Question
    query: QueryText
    page: PageText
    base: np.ndarray
    labels: np.ndarray
    standing: Standing | None = None


def build_examples(
    pipeline: Pipeline,
    questions: Sequence[Question],
    rankers: dict[str, Linear] | None = None,
    lexicon: Lexicon | None = None,
) -> list[Example]:
    """Each training question on its own context, with cached question vectors.

    With `rankers`, each example also records how retrieval ranks its page among all pages.
    """
    examples = []
    for q in questions:
        query = pipeline.query(q.text, cached=True)
        page = pipeline.context_text(q.sentences)
        labels = np.array([i in q.answers for i in range(len(q.sentences))], dtype=np.int32)
        standing = None
        if rankers is not None:
            ranker = rankers.get(q.language) or rankers["de"]
            features = pipeline.page_features(query, q.language, lexicon or Lexicon())
            standing = pipeline.standing(features, ranker.decision(features), q.page_id)
        examples.append(Example(q, query, page, sentence_features(query, page), labels, standing))
    return examples


def page_folds(questions: Sequence[Question], k: int = FOLDS, seed: int = 13) -> np.ndarray:
    """Fold number per question, all questions of one page (in every language) in the same fold."""
    pages = sorted({q.page_id for q in questions})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pages))
    fold_of = {pages[i]: n % k for n, i in enumerate(order)}
    return np.array([fold_of[q.page_id] for q in questions], dtype=np.int32)


def _out_of_fold(
    rows: Sequence[np.ndarray], labels: Sequence[np.ndarray], folds: np.ndarray, names: list[str], c: float
) -> tuple[list[np.ndarray], Linear]:
    """Per-example out-of-fold probabilities, and the model refitted on everything."""
    out: list[np.ndarray] = [np.zeros(len(r), np.float32) for r in rows]
    for f in range(int(folds.max()) + 1):
        train = [i for i in range(len(rows)) if folds[i] != f]
        model = Linear.fit(
            np.concatenate([rows[i] for i in train]), np.concatenate([labels[i] for i in train]), names, c
        )
        for i in np.flatnonzero(folds == f):
            out[i] = model.proba(rows[i])
    full = Linear.fit(np.concatenate(list(rows)), np.concatenate(list(labels)), names, c)
    return out, full


def fit_prior(examples: Sequence[Example], folds: np.ndarray) -> tuple[np.ndarray, BagOfWords]:
    """Out-of-fold question-only prior scores, and the prior refitted on everything."""
    texts = [e.question.text for e in examples]
    labels = [int(e.question.answerable) for e in examples]
    out = np.zeros(len(examples), dtype=np.float32)
    for f in range(int(folds.max()) + 1):
        train = np.flatnonzero(folds != f)
        prior = BagOfWords.fit([texts[i] for i in train], [labels[i] for i in train])
        for i in np.flatnonzero(folds == f):
            out[i] = prior.score(texts[i])
    return out, BagOfWords.fit(texts, labels)


def fit_extraction(
    examples: Sequence[Example], folds: np.ndarray, priors: np.ndarray, c: float = 0.5
) -> tuple[Linear, Linear, Linear, list[np.ndarray], np.ndarray]:
    """Stage 1, stage 2 (stacked on out-of-fold stage-1) and the answerability model."""
    base = [e.base for e in examples]
    labels = [e.labels for e in examples]
    p1, sentence = _out_of_fold(base, labels, folds, list(SENTENCE_FEATURES), c)
    stacked_rows = [stacked_features(e.base, p, e.page) for e, p in zip(examples, p1, strict=True)]
    p2, stacked = _out_of_fold(stacked_rows, labels, folds, [*SENTENCE_FEATURES, *STACK_FEATURES], c)
    q_rows = [
        question_features(e.query, e.page, p, e.standing, float(prior))[None, :]
        for e, p, prior in zip(examples, p2, priors, strict=True)
    ]
    q_labels = [np.array([int(e.question.answerable)]) for e in examples]
    pa, question = _out_of_fold(q_rows, q_labels, folds, list(QUESTION_FEATURES), c)
    return sentence, stacked, question, p2, np.array([float(p[0]) for p in pa])


def choose_thresholds(
    probabilities: Sequence[np.ndarray], answerable: np.ndarray, golds: Sequence[frozenset[int]]
) -> tuple[Thresholds, dict[str, float]]:
    """Best extraction F1 whose unanswerable precision and recall both reach the target.

    If no setting reaches it, the best sum of F1 and the weaker of the two is taken instead.
    """
    best: tuple[tuple[int, float], Thresholds, dict[str, float]] | None = None
    for select in np.arange(0.15, 0.8, 0.025):
        for relative in (0.0, 0.3, 0.5, 0.6, 0.7, 0.8):
            for gate in np.arange(0.2, 0.9, 0.02):
                th = Thresholds(
                    answerable=round(float(gate), 3), select=round(float(select), 3), relative=float(relative)
                )
                preds = [select_lines(p, a, th) for p, a in zip(probabilities, answerable, strict=True)]
                s = extraction_scores(preds, golds)
                weaker = min(s["unanswerable_precision"], s["unanswerable_recall"])
                key = (1, s["f1"]) if weaker >= UNANSWERABLE_TARGET else (0, s["f1"] + weaker)
                if best is None or key > best[0]:
                    best = (key, th, s)
    assert best is not None
    return best[1], best[2]


GATE_TARGET = 0.70  # the goal for unanswerable precision and recall


def choose_gate(
    pipeline: Pipeline, model: OmosqaModel, questions: Sequence[Question]
) -> tuple[float | None, dict[str, float]]:
    """The answerability gate alone, chosen on a development split (the issue: "dev_* to choose").

    Everything else stays fitted on train. Out-of-fold predictions on train choose a gate for a
    train-like mix of questions; the dev questions come from other pages, and the gate that keeps
    both unanswerable precision and recall at GATE_TARGET there differs by a few hundredths. Among
    gates that reach the target the one with the best extraction F1 is taken; None when no gate
    reaches it (the out-of-fold gate then stays). Line thresholds are not touched.
    """
    examples = build_examples(pipeline, questions, model.ranker, model.lexicon)
    scored = [score_lines(model, e.query, e.page, e.standing) for e in examples]
    golds = [e.question.answers for e in examples]
    best: tuple[float, float, dict[str, float]] | None = None
    for gate in np.arange(0.3, 0.9, 0.01):
        th = Thresholds(round(float(gate), 3), model.thresholds.select, model.thresholds.relative)
        s = extraction_scores([select_lines(p, a, th) for p, a in scored], golds)
        if min(s["unanswerable_precision"], s["unanswerable_recall"]) >= GATE_TARGET and (
            best is None or s["f1"] > best[1]
        ):
            best = (th.answerable, s["f1"], s)
    return (best[0], best[2]) if best else (None, {})


def rank_rows(pipeline: Pipeline, questions: Sequence[Question], lexicon: Lexicon) -> tuple[np.ndarray, np.ndarray]:
    """Ranker training rows: the gold page plus the hardest wrong pages of each question."""
    xs, ys = [], []
    positions = {p.page_id: i for i, p in enumerate(pipeline.index.pages)}
    for q in questions:
        if q.page_id not in positions:
            continue
        query = pipeline.query(q.text, cached=True)
        x = pipeline.page_features(query, q.language, lexicon)
        gold = positions[q.page_id]
        hardness = x.sum(axis=1)
        hardness[gold] = np.inf
        keep = np.argsort(-hardness)[: RANK_NEGATIVES + 1]
        xs.append(x[keep])
        ys.append((keep == gold).astype(np.int32))
    return np.concatenate(xs), np.concatenate(ys)


def train_model(pipeline: Pipeline, questions: Sequence[Question], log: Callable[[str], None] = print) -> OmosqaModel:
    """All models and thresholds from training questions (any mix of languages)."""
    folds = page_folds(questions)
    lexicon = fit_lexicon(parallel_lines(questions))
    log(f"lexicon: {len(lexicon.table)} English terms from the parallel training contexts")
    rankers = {}
    for language in sorted({q.language for q in questions}):
        x, y = rank_rows(pipeline, [q for q in questions if q.language == language], lexicon)
        rankers[language] = Linear.fit(x, y, list(RANK_FEATURES), c=1.0)
    log(f"features for {len(questions)} training questions …")
    examples = build_examples(pipeline, questions, rankers, lexicon)
    priors, prior = fit_prior(examples, folds)
    sentence, stacked, question, p2, pa = fit_extraction(examples, folds, priors)
    thresholds, oof = choose_thresholds(p2, pa, [e.question.answers for e in examples])
    log(f"out-of-fold extraction on train: {oof}")
    by_language = {}
    for language in sorted({q.language for q in questions}):
        chosen = [i for i, e in enumerate(examples) if e.question.language == language]
        preds = [select_lines(p2[i], pa[i], thresholds) for i in chosen]
        scores = extraction_scores(preds, [examples[i].question.answers for i in chosen])
        by_language[language] = {k: round(v, 4) for k, v in scores.items()}
    log(f"out-of-fold by language: {by_language}")
    return OmosqaModel(
        sentence=sentence,
        stacked=stacked,
        question=question,
        prior=prior,
        ranker=rankers,
        thresholds=thresholds,
        lexicon=lexicon,
        info={
            "data": ATTRIBUTION,
            "train_questions": len(questions),
            "out_of_fold_train": {k: round(v, 4) for k, v in oof.items()},
            "out_of_fold_train_by_language": by_language,
        },
    )
