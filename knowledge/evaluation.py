"""Retrieval, answer and abstention figures for our hybrid system and its baselines, in one run.

Question file: JSON lines `{"question", "service", "expect": "answer"|"abstain"|"handoff"}`, and
optionally `"fact"` (a string a correct answer must contain), `"also"` (other service ids that are
just as right) and `"lang"` (`"en"` for English questions; absent means German).

Ranking figures use questions with a service; a hit on `service` or on any `also` id counts. Answer
figures read what the product says (`Answerer.answer(question).text`), not only which service it
picked: a citizen is helped by the fee or the address, not by the right service id. Abstention
figures use the `abstain` questions; a handoff request is a dialogue matter and counts as neither.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.answering import Answerer, check_input
from knowledge.guard import looks_like_injection
from knowledge.retrieval import System, retrieve

SYSTEMS: tuple[System, ...] = ("hybrid", "bm25", "dense")
RANKING_SHOWN = 5  # ids per ranking in the details file


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    service: str | None
    expect: str
    fact: str | None = None
    also: tuple[str, ...] = ()
    lang: str | None = None

    @property
    def gold(self) -> tuple[str, ...]:
        """Every service id that counts as right: the gold service and its equally right variants."""
        return (self.service, *self.also) if self.service else ()

    @property
    def english(self) -> bool:
        return self.lang == "en"


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a question file; lines without `fact`, `also` or `lang` read exactly as before."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            also = row.get("also") or ()
            questions.append(
                EvalQuestion(
                    row["question"],
                    row.get("service"),
                    row.get("expect", "answer"),
                    fact=row.get("fact") or None,
                    also=tuple(str(a) for a in also) if isinstance(also, list | tuple) else (str(also),),
                    lang=row.get("lang"),
                )
            )
    return questions


def normalise_text(text: str) -> str:
    """Case-folded, Unicode-normalised, invisible characters dropped, whitespace collapsed.

    This is how a fact and an answer are compared: line breaks of the answer layout, non-breaking
    spaces, the zero-width spaces and soft hyphens of exported web texts and "STRASSE"/"Straße"
    casing must not decide whether the citizen got the fact.
    """
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return " ".join(visible.casefold().split())


def contains_fact(answer_text: str, fact: str) -> bool:
    return normalise_text(fact) in normalise_text(answer_text)


def first_hit(ranking: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first right service in a ranking, or None."""
    return next((rank for rank, sid in enumerate(ranking, start=1) if sid in gold), None)


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


@dataclass
class _Tally:
    """Per system: ranks of the questions with a service, abstention flags and timings."""

    ranks: list[int | None]
    english_ranks: list[int | None]
    abstain_flags: list[tuple[bool, bool]]  # (should abstain, did abstain)
    timings: list[float]


def evaluate(
    answerer: Answerer, questions: Sequence[EvalQuestion], details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Evaluate every system on the same questions; hybrid is the product (`Answerer`) as a citizen meets it.

    `details`, when given, receives one record per question (fields: README, the `eval` paragraph).
    """
    index = answerer.index
    tallies = {system: _Tally([], [], [], []) for system in SYSTEMS}
    facts: list[bool] = []
    english_facts: list[bool] = []
    sure: list[bool] = []  # per plain (not hedged, not abstained) answer: about a right service?
    guesses = 0
    for item in questions:
        rankings: dict[str, list[str]] = {}
        abstained_by: dict[str, bool] = {}
        for system in SYSTEMS:
            started = time.perf_counter()
            if system == "hybrid":
                ids = [h.service_id for h in answerer.assess(item.question).retrieval.hits]
                timing = (time.perf_counter() - started) * 1000
                answer = answerer.answer(item.question)  # the product's words; its abstention is the product's
                abstained = bool(answer.abstained)
            else:
                result = retrieve(index, item.question, system=system)
                blocked = check_input(item.question, index.settings.max_question_chars) or looks_like_injection(
                    item.question
                )
                confidence = _baseline_confidence(system, result.features)
                abstained = bool(blocked or result.top is None or confidence < answerer.threshold)
                ids = [h.service_id for h in result.hits]
                timing = (time.perf_counter() - started) * 1000
            rankings[system], abstained_by[system] = ids, abstained
            if item.expect == "handoff":
                continue
            tally = tallies[system]
            tally.timings.append(timing)
            if item.service:
                rank = first_hit(ids, item.gold)
                tally.ranks.append(rank)
                if item.english:
                    tally.english_ranks.append(rank)
            tally.abstain_flags.append((item.expect == "abstain", abstained))
        if item.expect != "handoff" and not answer.abstained:
            if answer.is_guess:
                guesses += 1
            else:
                sure.append(item.expect == "answer" and answer.service_id in item.gold)
        fact_found = None
        if item.fact and item.expect != "handoff":
            fact_found = not answer.abstained and contains_fact(answer.text, item.fact)
            facts.append(fact_found)
            if item.english:
                english_facts.append(fact_found)
        if details is not None:
            details.append(_detail(item, rankings, answer, fact_found))
    english = [q for q in questions if q.english and q.expect != "handoff"]
    return {
        "n": len(questions),
        "fact_accuracy": _share(facts),
        "facts": len(facts),
        # the product's own honesty: how often an answer given without a hedge is about a right service
        "sure_answers": len(sure),
        "sure_precision": _share(sure),
        "guesses": guesses,
        "systems": {system: _summarise(t.ranks, t.abstain_flags, t.timings) for system, t in tallies.items()},
        "english": {
            "n": len(english),
            "fact_accuracy": _share(english_facts),
            "facts": len(english_facts),
            "systems": {system: _ranking_figures(t.english_ranks) for system, t in tallies.items()},
        },
    }


def _detail(item: EvalQuestion, rankings: dict[str, list[str]], answer: Any, fact_found: bool | None) -> dict[str, Any]:
    """One line of the details file: what was asked, what was expected, what the product did, and the verdicts."""
    hybrid = rankings["hybrid"]
    rank = first_hit(hybrid, item.gold) if item.service else None
    scored = item.expect != "handoff"
    return {
        "question": item.question,
        "expect": item.expect,
        "lang": item.lang or "de",
        "expected": list(item.gold),
        "fact": item.fact,
        "ranking": hybrid[:RANKING_SHOWN],
        "ranking_bm25": rankings["bm25"][:RANKING_SHOWN],
        "ranking_dense": rankings["dense"][:RANKING_SHOWN],
        "answer_service": answer.service_id,
        "answer": answer.text,
        "abstained": bool(answer.abstained),
        "verdict": {
            "hit@1": rank == 1 if item.service else None,
            "hit@5": rank is not None and rank <= 5 if item.service else None,
            "fact_found": fact_found,
            "abstain_correct": (bool(answer.abstained) == (item.expect == "abstain")) if scored else None,
        },
    }


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _baseline_confidence(system: str, features: dict[str, float]) -> float:
    """Baselines get the simplest honest abstention rule for their signal, not our calibrated model."""
    if system == "bm25":
        return min(1.0, features["bm25_top"] / 3.0) * features["known_share"]
    return max(0.0, min(1.0, (features["dense_top"] - 0.75) / 0.15))


def _ranking_figures(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 4) if n else 0.0,
        "hit@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4) if n else 0.0,
        "mrr": round(sum(1.0 / r for r in ranks if r) / n, 4) if n else 0.0,
    }


def _summarise(
    ranks: list[int | None], abstain_flags: list[tuple[bool, bool]], timings: list[float]
) -> dict[str, float]:
    predicted = [did for _, did in abstain_flags]
    true_pos = sum(1 for should, did in abstain_flags if should and did)
    should_count = sum(1 for should, _ in abstain_flags if should)
    precision = true_pos / sum(predicted) if sum(predicted) else 0.0
    recall = true_pos / should_count if should_count else 0.0
    return {
        **_ranking_figures(ranks),
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
        "p50_ms": round(_percentile(timings, 50), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
    }


def write_details(path: Path, details: Sequence[dict[str, Any]]) -> None:
    """One JSON object per line, UTF-8, in question order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in details:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
