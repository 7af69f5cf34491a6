"""The shipped catalogue end to end: fresh ingest time, answer latency and answer quality in one run.

Usage: python -m bench.munich [--questions FILE] [--repeat N]

1. Ingests `knowledge/content` (Munich's DLDB export) into an empty data directory (no embedding
   cache), as on a fresh server, and times it.
2. Asks every question `--repeat` times through `Answerer.answer` (retrieval, confidence, answer
   lines) after one warm-up pass, and through `Answerer.assess` alone (retrieval and confidence)
   as the baseline in the same run, so the cost of choosing answer lines shows as a ratio.
3. Prints the `buergerbot eval` figures (fact_accuracy, hit@k, abstention) for the same index.
Machine and settings are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from bot.settings import PROJECT_ROOT, Settings
from knowledge.answering import Answerer
from knowledge.evaluation import evaluate, load_questions
from knowledge.ingest import ingest, load_index

DEFAULT_QUESTIONS = PROJECT_ROOT.parent / "shared" / "eval" / "munich_dev.jsonl"
CONTENT = PROJECT_ROOT / "knowledge" / "content"


def _timings(call: object, questions: list[str], repeat: int) -> list[float]:
    timings: list[float] = []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            call(question)  # type: ignore[operator]
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _summary(timings: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    questions = load_questions(args.questions)
    texts = [q.question for q in questions]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), content_dir=CONTENT)
        started = time.perf_counter()
        report = ingest(settings, CONTENT)
        ingest_s = time.perf_counter() - started
        answerer = Answerer(load_index(settings))
        for text in texts:  # warm-up: the first answer of a service prepares its lines once
            answerer.answer(text)
        assess = _timings(answerer.assess, texts, args.repeat)
        answer = _timings(answerer.answer, texts, args.repeat)
        lengths = [len(answerer.answer(text).text) for text in texts]
        figures = evaluate(answerer, questions)
    result = {
        "machine": machine_info(),
        "settings": {
            "embedding_model": settings.embedding_model,
            "card_model": settings.card_model,
            "threads": settings.embedding_threads,
        },
        "content": str(CONTENT),
        "ingest_from_scratch_s": round(ingest_s, 1),
        "services": len(report.added),
        "skipped": len(report.skipped),
        "failed": len(report.failed),
        "passages": report.passages_embedded,
        "warm_assess": _summary(assess),
        "warm_answer": _summary(answer),
        "answer_vs_assess_p95_ratio": round(_summary(answer)["p95_ms"] / max(_summary(assess)["p95_ms"], 1e-9), 2),
        "answer_chars": {"median": int(np.median(lengths)), "max": max(lengths)},
        "eval": {key: figures[key] for key in ("n", "fact_accuracy", "facts", "english")}
        | {"hybrid": figures["systems"]["hybrid"]},  # type: ignore[index]
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
