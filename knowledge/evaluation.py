"""Retrieval and abstention figures for our hybrid system and its baselines, in one run.

Question file: JSON lines `{"question", "service", "expect": "answer"|"abstain"|"handoff"}`.
Ranking figures use questions with a service; abstention figures use the `abstain` ones (a
handoff request is a dialogue matter and counts as neither).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.answering import Answerer, check_input
from knowledge.guard import looks_like_injection
from knowledge.retrieval import System, retrieve

SYSTEMS: tuple[System, ...] = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    service: str | None
    expect: str


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(EvalQuestion(row["question"], row.get("service"), row.get("expect", "answer")))
    return questions


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def evaluate(answerer: Answerer, questions: Sequence[EvalQuestion]) -> dict[str, object]:
    """Evaluate every system on the same questions; hybrid abstains exactly as `Answerer` does."""
    index = answerer.index
    results: dict[str, dict[str, float]] = {}
    for system in SYSTEMS:
        ranks: list[int | None] = []
        timings: list[float] = []
        abstain_flags: list[tuple[bool, bool]] = []  # (should abstain, did abstain)
        for item in questions:
            if item.expect == "handoff":
                continue
            started = time.perf_counter()
            if system == "hybrid":
                assessment = answerer.assess(item.question)
                result = assessment.retrieval
                abstained = bool(
                    assessment.problem
                    or assessment.injection
                    or result.top is None
                    or assessment.confidence < answerer.threshold
                )
            else:
                result = retrieve(index, item.question, system=system)
                blocked = check_input(item.question, index.settings.max_question_chars) or looks_like_injection(
                    item.question
                )
                confidence = _baseline_confidence(system, result.features)
                abstained = bool(blocked or result.top is None or confidence < answerer.threshold)
            timings.append((time.perf_counter() - started) * 1000)
            if item.service:
                ids = [h.service_id for h in result.hits]
                ranks.append(ids.index(item.service) + 1 if item.service in ids else None)
            abstain_flags.append((item.expect == "abstain", abstained))
        results[system] = _summarise(ranks, abstain_flags, timings)
    return {"n": len(questions), "systems": results}


def _baseline_confidence(system: str, features: dict[str, float]) -> float:
    """Baselines get the simplest honest abstention rule for their signal, not our calibrated model."""
    if system == "bm25":
        return min(1.0, features["bm25_top"] / 3.0) * features["known_share"]
    return max(0.0, min(1.0, (features["dense_top"] - 0.75) / 0.15))


def _summarise(
    ranks: list[int | None], abstain_flags: list[tuple[bool, bool]], timings: list[float]
) -> dict[str, float]:
    n = len(ranks)
    hit1 = sum(1 for r in ranks if r == 1) / n if n else 0.0
    hit5 = sum(1 for r in ranks if r is not None and r <= 5) / n if n else 0.0
    mrr = sum(1.0 / r for r in ranks if r) / n if n else 0.0
    predicted = [did for _, did in abstain_flags]
    true_pos = sum(1 for should, did in abstain_flags if should and did)
    should_count = sum(1 for should, _ in abstain_flags if should)
    precision = true_pos / sum(predicted) if sum(predicted) else 0.0
    recall = true_pos / should_count if should_count else 0.0
    return {
        "hit@1": round(hit1, 4),
        "hit@5": round(hit5, 4),
        "mrr": round(mrr, 4),
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
        "p50_ms": round(_percentile(timings, 50), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
    }
