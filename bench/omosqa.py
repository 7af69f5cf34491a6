"""OMoS-QA benchmark through the product: Integreat import, one index per city (and pooled), `Answerer`.

Usage: python -m bench.omosqa [--corpus DIR] [--splits dev_de,dev_en] [--line-weights FILE] [--no-pooled]

For each split: every city's pages are ingested through the Integreat importer into a temporary
index (one bot per city) and every question is asked twice: about its gold page
(`Answerer.answer_service`, answer-sentence P/R/F1) and freely (`Answerer.answer`, end-to-end F1
where a wrong page scores zero, plus unanswerable P/R); then the same with one index of all three
cities. English questions are asked against the German pages (cross-lingual). `--line-weights`
evaluates a candidate weights file (from `buergerbot train-extractor --out FILE`) beside the
shipped weights in the same run. Prints one JSON document with machine info and attribution.
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
from knowledge.omosqa.cli import run

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "integreat-qa"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--splits", default="dev_de,dev_en")
    parser.add_argument("--line-weights", type=Path, default=None, help="also evaluate this weights file")
    parser.add_argument("--no-pooled", action="store_true", help="skip the three-city index")
    args = parser.parse_args()
    pages = args.corpus / "pages_de.jsonl"
    if not pages.exists():
        sys.exit(f"OMoS-QA corpus not found: {pages} (pass --corpus)")
    settings = get_settings()
    report: dict[str, object] = {
        "machine": machine_info(),
        "load_avg_start": [round(v, 2) for v in os.getloadavg()],
        "settings": {"embedding_model": settings.embedding_model, "threads": settings.embedding_threads},
        "pages": str(pages),
        "splits": {},
    }
    started = time.perf_counter()
    for split in [s for s in args.splits.split(",") if s]:
        for weights in [None, args.line_weights] if args.line_weights else [None]:
            result = run(
                pages,
                args.corpus / f"{split}.json",
                pooled=not args.no_pooled,
                line_weights=weights,
                settings=get_settings(),
            )
            result.pop("attribution", None)
            name = split if weights is None else f"{split} ({weights.name})"
            report["splits"][name] = result  # type: ignore[index]
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["attribution"] = ATTRIBUTION
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
