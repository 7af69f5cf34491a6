"""Scores exactly as the data set's evaluation (digitalfabrik/integreat-qa-dataset, evaluation/tools).

Per question: precision = |pred ∩ gold| / |pred| (1 when nothing is predicted), recall =
|pred ∩ gold| / |gold|. Extraction precision and recall are means over answerable questions and the
published F1 is the harmonic mean of those two means (`prediction_tables.evaluate`); the mean of
per-question F1 is reported beside it because it does not reward empty answers. An empty prediction
means "not answerable"; unanswerable precision/recall treat that as a retrieval of unanswerable
questions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def question_scores(predicted: Collection[int], gold: Collection[int]) -> tuple[float, float, float]:
    """(precision, recall, f1) of one prediction, with the script's conventions for empty sets."""
    pred, ref = set(predicted), set(gold)
    hit = len(pred & ref)
    precision = hit / len(pred) if pred else 1.0
    recall = hit / len(ref) if ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def harmonic(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def extraction_scores(predictions: Sequence[Collection[int]], golds: Sequence[Collection[int]]) -> dict[str, float]:
    """Macro P/R over answerable questions, F1 of those means, and unanswerable-detection P/R."""
    if len(predictions) != len(golds):
        raise ValueError("one prediction per question")
    answerable = [question_scores(p, g) for p, g in zip(predictions, golds, strict=True) if g]
    precision = sum(s[0] for s in answerable) / len(answerable) if answerable else 0.0
    recall = sum(s[1] for s in answerable) / len(answerable) if answerable else 0.0
    mean_f1 = sum(s[2] for s in answerable) / len(answerable) if answerable else 0.0
    flagged = [not p for p in predictions]
    relevant = [not g for g in golds]
    true_pos = sum(1 for f, r in zip(flagged, relevant, strict=True) if f and r)
    n_flagged, n_relevant = sum(flagged), sum(relevant)
    return {
        "precision": precision,
        "recall": recall,
        "f1": harmonic(precision, recall),
        "f1_mean_per_question": mean_f1,
        "unanswerable_precision": true_pos / n_flagged if n_flagged else 0.0,
        "unanswerable_recall": true_pos / n_relevant if n_relevant else 0.0,
    }


def retrieval_scores(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR from 1-based ranks of the right page (None: not ranked at all)."""
    n = len(ranks)
    if n == 0:
        return {"hit@1": 0.0, "hit@5": 0.0, "mrr": 0.0}
    return {
        "hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr": sum(1.0 / r for r in ranks if r) / n,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), so p95 is a latency that actually occurred."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
