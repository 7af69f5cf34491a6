"""`buergerbot eval-omosqa` and `buergerbot train-extractor`: OMoS-QA through the product.

Plain functions, so `bench/omosqa` and the tests call the same code the commands run. The code
lives in the installed package (not in `bench/`, which is not installed) because the commands are
part of the shipped CLI.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from knowledge.config import KnowledgeConfig
from knowledge.extraction import LEARNED_FILE, LineWeights
from knowledge.omosqa import ATTRIBUTION
from knowledge.omosqa.data import load_pages, load_questions
from knowledge.omosqa.product import evaluate_product


def default_cache(settings: KnowledgeConfig) -> Path:
    """The embedding cache of the configured data directory: shared, so repeated runs embed nothing."""
    return settings.data_dir / "cache"


def run(
    pages: Path,
    questions: Path,
    *,
    pooled: bool = True,
    line_weights: Path | None = None,
    settings: KnowledgeConfig,
    cache_dir: Path | None = None,
) -> dict[str, object]:
    """All figures of one questions file: per city, over all cities' questions, and pooled."""
    for path in (pages, questions):
        if not path.exists():
            raise SystemExit(f"file not found: {path}")
    weights = LineWeights.load(line_weights) if line_weights else None
    if line_weights and weights is not None and not weights.learned:
        raise SystemExit(f"no usable line weights in {line_weights}")
    shipped = LineWeights.load()
    started = time.perf_counter()
    result = evaluate_product(
        load_pages(pages),
        load_questions(questions),
        settings,
        cache_dir if cache_dir is not None else default_cache(settings),
        pooled=pooled,
        weights=weights,
    )
    return {
        "pages": str(pages),
        "questions": str(questions),
        "line_weights": str(line_weights) if line_weights else (str(LEARNED_FILE) if shipped.learned else "hand-set"),
        "embedding_model": settings.embedding_model,
        **result,
        "wall_s": round(time.perf_counter() - started, 1),
        "attribution": ATTRIBUTION,
    }


def _line(name: str, figures: dict[str, object]) -> str:
    g, e = figures["gold_page"], figures["end_to_end"]
    return (
        f"{name:16} n={figures['n']:<4} gold page F1 {g['f1']:.3f} (P {g['precision']:.3f} R {g['recall']:.3f}) "  # type: ignore[index]
        f"unanswerable P {g['unanswerable_precision']:.3f} R {g['unanswerable_recall']:.3f} | "  # type: ignore[index]
        f"end-to-end F1 {e['f1']:.3f} unanswerable P {e['unanswerable_precision']:.3f} "  # type: ignore[index]
        f"R {e['unanswerable_recall']:.3f} page hit@1 {e['page_hit@1_answerable']:.3f}"  # type: ignore[index]
    )


def eval_omosqa_command(
    pages: Path,
    questions: Path,
    as_json: bool,
    settings: KnowledgeConfig,
    pooled: bool = True,
    line_weights: Path | None = None,
) -> None:
    """Entry point for `buergerbot eval-omosqa --pages P --questions Q [--json] [--no-pooled] [--line-weights F]`."""
    result = run(pages, questions, pooled=pooled, line_weights=line_weights, settings=settings)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    print(f"line weights: {result['line_weights']}  wall {result['wall_s']} s")
    for city, figures in result["cities"].items():  # type: ignore[attr-defined]
        print(_line(city, figures))
    print(_line("one bot per city", result["per_city"]))  # type: ignore[arg-type]
    if "pooled" in result:
        print(_line("pooled index", result["pooled"]))  # type: ignore[arg-type]
    print(ATTRIBUTION)


def train_extractor_command(
    corpus: Path, settings: KnowledgeConfig, out: Path = LEARNED_FILE, hand_set: bool = False
) -> None:
    """Entry point for `buergerbot train-extractor --corpus DIR [--out FILE] [--hand-set]` (train_*.json only)."""
    from knowledge.omosqa.training import train_extractor

    weights = train_extractor(corpus, settings, default_cache(settings), out, hand_set=hand_set)
    print(json.dumps(weights.to_json(), ensure_ascii=False, indent=1), file=sys.stdout)
