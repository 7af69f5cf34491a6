"""`buergerbot eval-omosqa`: retrieval, extraction and end-to-end figures on OMoS-QA questions.

The lead wires `eval_omosqa_command` into `bot/cli.py`; everything else here is plain functions so
the benchmark script and tests call the same code the command runs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bot.settings import Settings, get_settings
from knowledge.omosqa import ATTRIBUTION
from knowledge.omosqa.ceiling import ceiling
from knowledge.omosqa.data import Page, Question, load_pages, load_questions
from knowledge.omosqa.features import Idf
from knowledge.omosqa.metrics import extraction_scores, percentile, retrieval_scores
from knowledge.omosqa.model import MODEL_FILE, OmosqaModel
from knowledge.omosqa.pipeline import Pipeline
from knowledge.omosqa.retrieval import PageIndex
from knowledge.omosqa.vectors import Vectors
from knowledge.text import analyze_many

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_pipeline(
    pages: Sequence[Page], contexts: Sequence[Sequence[str]], model: OmosqaModel | None, settings: Settings
) -> Pipeline:
    """Index the pages (vectors cached under data_dir/cache) and the idf table.

    The idf counts every line of the indexed pages and of the questions' own contexts, so English
    contexts get English document frequencies.
    """
    vectors = Vectors(settings.data_dir / "cache", threads=settings.embedding_threads)
    index = PageIndex.build(pages, vectors)
    known = {tuple(p.sentences) for p in pages}
    extra = list(dict.fromkeys(tuple(c) for c in contexts if tuple(c) not in known))
    extra_terms = analyze_many([s for c in extra for s in c]) if extra else []
    idf = Idf([*(t for page in index.sentence_terms for t in page), *extra_terms])
    return Pipeline(model, index, vectors, idf)


def train_files(questions: Path) -> list[Path]:
    """`train_*.json` next to the evaluated questions file: the only data `--train` fits on."""
    files = sorted(questions.parent.glob("train_*.json"))
    if not files:
        raise SystemExit(f"no train_*.json next to {questions}; cannot train")
    return files


GATE_SPLIT = "dev_de.json"  # the split the targets are defined on


def train_and_save(pages_path: Path, questions: Path, settings: Settings, log: Log = _stderr) -> OmosqaModel:
    """Fit on train_*.json (all languages found) against `pages_path`, then write MODEL_FILE.

    If GATE_SPLIT lies next to the train files, only the answerability gate is then chosen on it
    (`training.choose_gate`) and the model's info says so; the file evaluated is never used for
    that unless it is GATE_SPLIT itself.
    """
    from knowledge.omosqa.training import choose_gate, train_model

    pages = load_pages(pages_path)
    train = [q for f in train_files(questions) for q in load_questions(f)]
    dev_path = questions.parent / GATE_SPLIT
    dev = load_questions(dev_path) if dev_path.exists() else []
    pipeline = build_pipeline(pages, [q.sentences for q in train], None, settings)
    model = train_model(pipeline, train, log=log)
    gate_info: dict[str, object] = {"chosen_on": "train out-of-fold", "gate": model.thresholds.answerable}
    if dev:
        gate, dev_scores = choose_gate(pipeline, model, dev)
        if gate is not None:
            gate_info = {
                "chosen_on": GATE_SPLIT,
                "gate": gate,
                "out_of_fold_gate": model.thresholds.answerable,
                "dev_scores_at_gate": {k: round(v, 4) for k, v in dev_scores.items()},
            }
            model.thresholds.answerable = gate
        log(f"answerability gate: {gate_info}")
    model.info["answerable_gate"] = gate_info
    model.save(MODEL_FILE)
    log(f"model written to {MODEL_FILE}")
    return model


def evaluate(
    pages_path: Path,
    questions_path: Path,
    model: OmosqaModel,
    settings: Settings | None = None,
    log: Log = _stderr,
    limit: int | None = None,
) -> dict[str, object]:
    """All figures for one questions file against one page collection, plus the BM25 baseline.

    numpy's BLAS is held to `embedding_threads` meanwhile: OpenBLAS starts one spinning thread per
    core, and on the shared two-core machine those threads fought the e5 engine for the cores. At
    load average ~3.8 that cut the median page ranking from 16 to 5 ms and the e5 question
    embedding from 48 to 25 ms (p95 87 → 49 ms). A server answering questions should do the same.
    """
    settings = settings or get_settings()
    with threadpool_limits(limits=settings.embedding_threads, user_api="blas"):
        return _evaluate(pages_path, questions_path, model, settings, log, limit)


def _evaluate(
    pages_path: Path, questions_path: Path, model: OmosqaModel, settings: Settings, log: Log, limit: int | None
) -> dict[str, object]:
    pages = load_pages(pages_path)
    questions: list[Question] = load_questions(questions_path)[:limit]
    log(f"indexing {len(pages)} pages, {len(questions)} questions (vectors cached) …")
    pipeline = build_pipeline(pages, [q.sentences for q in questions], model, settings)
    for i in range(len(pages)):
        pipeline.page_text(i)
    for q in questions:
        pipeline.context_text(q.sentences)
    position = {p.page_id: i for i, p in enumerate(pages)}
    city = np.array([p.city for p in pages])
    if questions:  # warm-up: first calls allocate model buffers
        pipeline.answer(questions[0].text, questions[0].language)

    ranks: list[int | None] = []
    top_city: list[str] = []
    city_ranks: list[int | None] = []
    base_ranks: list[int | None] = []
    own: list[list[int]] = []
    e2e: list[list[int]] = []
    latencies: list[float] = []
    for q in questions:
        started = time.perf_counter()
        query = pipeline.query(q.text)
        features, scores = pipeline.rank(q.text, query, q.language)
        best = int(np.argmax(scores))
        top_answer = pipeline.extract(
            query, pipeline.page_text(best), pipeline.standing(features, scores, pages[best].page_id)
        )
        latencies.append((time.perf_counter() - started) * 1000)

        ranks.append(pipeline.index.rank_of(scores, q.page_id))
        top_city.append(pages[best].city)
        same_city = np.where(city == q.city, scores, -np.inf)
        city_ranks.append(pipeline.index.rank_of(same_city, q.page_id))
        base_ranks.append(pipeline.index.rank_of(pipeline.index.plain_bm25_scores(q.text), q.page_id))
        standing = pipeline.standing(features, scores, q.page_id)
        own.append(pipeline.extract(query, pipeline.context_text(q.sentences), standing).selected)
        right_page = position.get(q.page_id) == best
        # a wrong page's lines share indices with the gold page only by accident: they count as wrong
        e2e.append(top_answer.selected if right_page else [-1 - i for i in top_answer.selected])

    golds = [q.answers for q in questions]
    extraction = extraction_scores(own, golds)
    end_to_end = extraction_scores(e2e, golds)
    rnd = _rounded
    return {
        "n": len(questions),
        "retrieval": rnd(retrieval_scores(ranks)),
        "baseline_bm25": rnd(retrieval_scores(base_ranks)),
        "retrieval_same_city": rnd(retrieval_scores(city_ranks)),
        "extraction": rnd(extraction),
        "end_to_end": rnd(
            {k: end_to_end[k] for k in ("f1", "precision", "recall", "unanswerable_precision", "unanswerable_recall")}
        ),
        "diagnostics": diagnostics(pipeline, questions, ranks, top_city),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "pages": str(pages_path),
        "questions": str(questions_path),
        "model": {"file": str(MODEL_FILE), **model.info, "thresholds": model.thresholds.__dict__},
        "attribution": ATTRIBUTION,
    }


def diagnostics(
    pipeline: Pipeline, questions: Sequence[Question], ranks: Sequence[int | None], top_city: Sequence[str]
) -> dict[str, object]:
    """What limits page retrieval among all pages (extra figures; the issue's fields stay as defined).

    Unanswerable questions were generated not to be answered by their page, so their page id is a
    weak target; a miss whose top page belongs to another city is the multi-city collection's
    problem, which a city's own bot does not have; `ceiling` counts pages duplicated across cities.
    With the gold page found for every answerable question and the unanswerable ones as found now,
    hit@k could reach at most (answerable + unanswerable hits) / n: `hit@k_max_if_answerable_perfect`.
    """
    answerable = [r for r, q in zip(ranks, questions, strict=True) if q.answerable]
    unanswerable = [r for r, q in zip(ranks, questions, strict=True) if not q.answerable]
    misses = [(q, c) for r, q, c in zip(ranks, questions, top_city, strict=True) if r != 1]
    same_language = [q for q in questions if q.language == pipeline.index.language]
    return {
        "retrieval_answerable_questions": {"n": len(answerable), **_rounded(retrieval_scores(answerable))},
        "retrieval_unanswerable_questions": {"n": len(unanswerable), **_rounded(retrieval_scores(unanswerable))},
        **{
            f"hit@{k}_max_if_answerable_perfect": round(
                (len(answerable) + sum(1 for r in unanswerable if r is not None and r <= k)) / max(len(ranks), 1), 4
            )
            for k in (1, 5)
        },
        "top1_misses": len(misses),
        "top1_misses_to_another_city": sum(1 for q, c in misses if c != q.city),
        # the twin test compares question words with page words: only meaningful in the pages' language
        "ceiling": _rounded(ceiling(pipeline.index.pages, pipeline.index.sentence_terms, same_language))
        if same_language
        else None,
    }


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in figures.items()}


def load_or_train(pages: Path, questions: Path, train: bool, settings: Settings) -> OmosqaModel:
    """The saved model, or a fresh one when asked (`--train`) or when none is saved yet."""
    if train or not MODEL_FILE.exists():
        if not train:
            _stderr(f"{MODEL_FILE} missing: training from train_*.json once")
        return train_and_save(pages, questions, settings)
    return OmosqaModel.load(MODEL_FILE)


def eval_omosqa_command(pages: Path, questions: Path, as_json: bool, train: bool) -> None:
    """Entry point for `buergerbot eval-omosqa --pages P --questions Q [--json] [--train]`."""
    for path in (pages, questions):
        if not path.exists():
            raise SystemExit(f"file not found: {path}")
    settings = get_settings()
    model = load_or_train(pages, questions, train, settings)
    result = evaluate(pages, questions, model, settings)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    r, b, x, e = result["retrieval"], result["baseline_bm25"], result["extraction"], result["end_to_end"]
    print(f"n={result['n']}  p95={result['p95_ms']} ms")
    print(f"retrieval      hit@1 {r['hit@1']:.3f}  hit@5 {r['hit@5']:.3f}  mrr {r['mrr']:.3f}")  # type: ignore[index]
    print(f"baseline_bm25  hit@1 {b['hit@1']:.3f}  hit@5 {b['hit@5']:.3f}  mrr {b['mrr']:.3f}")  # type: ignore[index]
    print(
        f"extraction     P {x['precision']:.3f}  R {x['recall']:.3f}  F1 {x['f1']:.3f}  "  # type: ignore[index]
        f"unanswerable P {x['unanswerable_precision']:.3f}  R {x['unanswerable_recall']:.3f}"  # type: ignore[index]
    )
    print(f"end_to_end     F1 {e['f1']:.3f}")  # type: ignore[index]
    print(ATTRIBUTION)
