"""`buergerbot eval --llm`: the same questions answered extractively and through the city's model, side by side.

The writer never changes which service answers or whether the bot abstains; it changes the words.
So the comparison asks what a city needs to decide whether to switch it on: is the fact the
citizen needs (`"fact"` in the question file) still in the answer, how often did the model's reply
pass the checks, how much longer does a citizen wait, and how long are the answers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from knowledge.answering import Answerer
from knowledge.evaluation import EvalQuestion, contains_fact
from knowledge.llm import AnswerWriter


@dataclass
class _Variant:
    facts: list[bool] = field(default_factory=list)
    english_facts: list[bool] = field(default_factory=list)
    timings_ms: list[float] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "fact_accuracy": _share(self.facts),
            "fact_accuracy_en": _share(self.english_facts),
            "p50_ms": round(float(np.percentile(self.timings_ms, 50)), 1) if self.timings_ms else 0.0,
            "p95_ms": round(float(np.percentile(self.timings_ms, 95)), 1) if self.timings_ms else 0.0,
            "median_chars": int(statistics.median(self.chars)) if self.chars else 0,
        }


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def compare_writer(extractive: Answerer, writer: AnswerWriter, questions: Sequence[EvalQuestion]) -> dict[str, Any]:
    """Figures for the extractive answers and for the same answers after the writer, plus the writer's outcomes.

    `extractive` must be an `Answerer` without a writer, so both columns start from the same answer.
    """
    variants = {"extractive": _Variant(), "llm": _Variant()}
    changed = lost = gained = 0
    scored = [q for q in questions if q.expect != "handoff"]
    for item in scored:
        started = time.perf_counter()
        answer = extractive.answer(item.question)
        extractive_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        written = writer.improve(item.question, answer)
        writer_ms = (time.perf_counter() - started) * 1000
        changed += written.text != answer.text
        found: dict[str, bool] = {}
        outcomes = (("extractive", answer, extractive_ms), ("llm", written, extractive_ms + writer_ms))
        for name, result, elapsed in outcomes:
            variant = variants[name]
            variant.timings_ms.append(elapsed)
            if not result.abstained:
                variant.chars.append(len(result.text))
            if item.fact:
                found[name] = not result.abstained and contains_fact(result.text, item.fact)
                variant.facts.append(found[name])
                if item.english:
                    variant.english_facts.append(found[name])
        if item.fact:
            lost += found["extractive"] and not found["llm"]
            gained += found["llm"] and not found["extractive"]
    return {
        "n": len(scored),
        "facts": sum(1 for q in scored if q.fact),
        "systems": {name: variant.figures() for name, variant in variants.items()},
        "llm_changed": changed,
        "fact_lost": lost,
        "fact_gained": gained,
        "writer": dict(sorted(writer.counts.items())),
    }
