"""OMoS-QA benchmark: page retrieval, answer-line extraction and end-to-end on the dev splits.

Usage: python -m bench.omosqa [--corpus DIR] [--splits dev_de,dev_en] [--train] [--threads N]
German and English dev questions are both run against the German pages (English questions reach
German pages through multilingual vectors: the cross-lingual case). Prints one JSON document with
machine info, the figures of `buergerbot eval-omosqa --json` per split, and the data attribution.
Data: OMoS-QA (CC BY 4.0), see ATTRIBUTION in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.machine import machine_info, peak_rss_mb
from bot.settings import PROJECT_ROOT, get_settings
from knowledge.omosqa import ATTRIBUTION
from knowledge.omosqa.cli import evaluate, load_or_train

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "integreat-qa"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--splits", default="dev_de,dev_en")
    parser.add_argument("--train", action="store_true", help="refit on train_*.json before evaluating")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="embedding threads; 1 is the robust choice when other processes share the 2 cores "
        "(two OpenMP threads fighting a busy machine made one e5 query take ~700 ms instead of ~50 ms)",
    )
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read when the e5 engine loads, i.e. later
    pages = args.corpus / "pages_de.jsonl"
    if not pages.exists():
        sys.exit(f"OMoS-QA corpus not found: {pages} (pass --corpus)")
    settings = get_settings().model_copy(update={"embedding_threads": args.threads})
    splits = [s for s in args.splits.split(",") if s]
    model = load_or_train(pages, args.corpus / f"{splits[0]}.json", args.train, settings)
    # other processes on the machine inflate latency: the load average is printed beside p95
    report: dict[str, object] = {
        "machine": machine_info(),
        "load_avg_start": [round(v, 2) for v in os.getloadavg()],
        "pages": str(pages),
        "splits": {},
    }
    for split in splits:
        started = time.perf_counter()
        result = evaluate(pages, args.corpus / f"{split}.json", model, settings)
        result.pop("attribution", None)
        result["wall_s"] = round(time.perf_counter() - started, 1)
        report["splits"][split] = result  # type: ignore[index]
    report["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["attribution"] = ATTRIBUTION
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
