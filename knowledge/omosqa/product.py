"""OMoS-QA through the product: pages ingested by the Integreat importer, questions asked to `Answerer`.

A city running buergerbot feeds its Integreat export to `buergerbot ingest`; this module does the
same with the data set's pages. Each page becomes one entry of an Integreat page export
(`<city>_de.json`: id, url, title, HTML content), written to a temporary content folder and
ingested with `knowledge.ingest.ingest` into a temporary index. The data set's pages are plain lines
(line 0 is the title), so every further line becomes one `<p>`: the importer then yields exactly one
answer line per context line, and the lines an answer shows can be mapped back to the gold line
indices by their normalised text (`AnswerLines`). Lines the importer drops (no letters or digits)
and answer lines that match no context line are counted, not hidden.

The embedding cache (data_dir/cache) is shared between the temporary indexes and kept in
`cache_dir`, so a second run embeds nothing new.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.answering import Answerer
from knowledge.config import KnowledgeConfig
from knowledge.extraction import LineWeights
from knowledge.importers.html import clean_line, has_words
from knowledge.ingest import ingest, load_index
from knowledge.models import SECTION_LABELS_DE, Answer
from knowledge.omosqa.data import Page, Question
from knowledge.omosqa.metrics import extraction_scores, percentile
from wording.texts import ENGLISH_NOTE, NOT_COVERED_DE, NOT_FOUND_DE

Log = Callable[[str], None]
URL = "https://integreat.app/{city}/de/omosqa-{page_id}"  # the data set has no page URLs; a stable stand-in


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def service_id(page: Page | Question) -> str:
    """The id the Integreat importer gives a page of `city` (region from the export's file name)."""
    return f"integreat-{page.city}-{page.page_id}"


def integreat_export(pages: Sequence[Page]) -> list[dict[str, object]]:
    """Pages in the Integreat page-API shape the importer reads: one `<p>` per context line."""
    return [
        {
            "id": page.page_id,
            "url": URL.format(city=page.city, page_id=page.page_id),
            "title": page.sentences[0] if page.sentences else page.title,
            "content": "".join(f"<p>{html.escape(line)}</p>" for line in page.sentences[1:]),
        }
        for page in pages
    ]


def write_exports(pages: Sequence[Page], folder: Path) -> list[Path]:
    """One `<city>_de.json` per city, as a city's own Integreat export would be named."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for city in sorted({p.city for p in pages}):
        path = folder / f"{city}_de.json"
        path.write_text(json.dumps(integreat_export([p for p in pages if p.city == city]), ensure_ascii=False))
        written.append(path)
    return written


@contextmanager
def product_index(
    pages: Sequence[Page], cache_dir: Path | None, base: KnowledgeConfig, weights: LineWeights | None = None
) -> Iterator[Answerer]:
    """A temporary index of `pages` ingested through the Integreat importer, and its `Answerer`.

    `cache_dir` (embedding cache) survives the temporary directory, so repeated runs embed nothing.
    `weights` replaces the answer-line weights the product loads (to compare hand-set and learned).
    """
    with tempfile.TemporaryDirectory(prefix="omosqa-") as tmp:
        root = Path(tmp)
        content, data = root / "content", root / "data"
        write_exports(pages, content)
        data.mkdir()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            (data / "cache").symlink_to(cache_dir.resolve(), target_is_directory=True)
        settings = base.model_copy(update={"data_dir": data, "content_dir": content, "llm_url": None})
        report = ingest(settings, content)
        if report.failed:
            raise RuntimeError(f"OMoS-QA pages failed to import: {report.failed[:3]}")
        answerer = Answerer(load_index(settings))
        if weights is not None:
            answerer.lines.weights = weights
        yield answerer


_BULLET = re.compile(r"^(?:- |[•●▪◦■□➢►✓✔·]\s*|[-–*]\s+)")


def normalise(line: str) -> str:
    """Text of a line as the importer cleans it, without bullet marks, compared case-blind."""
    return _BULLET.sub("", clean_line(line)).casefold()


@dataclass
class AnswerLines:
    """Which context lines (indices) an answer shows, and what could not be mapped."""

    indices: list[int] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


_LABELS = {f"{label}:".casefold() for label in SECTION_LABELS_DE.values()}


def abstains(answer: Answer) -> bool:
    """The product abstains, or says that the official text does not cover the question or that it found no answer."""
    return answer.abstained or NOT_COVERED_DE in answer.text or NOT_FOUND_DE in answer.text


def answer_lines(answer: Answer, context: Sequence[str]) -> AnswerLines:
    """Map the lines an answer shows back to indices of `context` (empty when it abstains).

    The answer's frame (English note, title, section labels, source line) is no sentence of the
    page. A shown line matches the first unused context line with the same normalised text; a line
    that matches none is a paragraph the product composed (the overview's lead joins lines), whose
    context lines are found by containment.
    """
    if abstains(answer):
        return AnswerLines()
    body = answer.text.split("\n")
    title = normalise(answer.service_title or "")
    wanted = [normalise(line) for line in body if line.strip()]
    wanted = [
        w
        for w in wanted
        if w and w != title and w not in _LABELS and not w.startswith("quelle: ") and w != normalise(ENGLISH_NOTE)
    ]
    keys = [normalise(line) for line in context]
    found = AnswerLines()
    used: set[int] = set()
    for text in wanted:
        match = next((i for i, key in enumerate(keys) if i > 0 and i not in used and key == text), None)
        if match is not None:
            used.add(match)
            found.indices.append(match)
            continue
        # a sentence the product split from a longer context line: that line is shown (in part);
        # checked before containment, or a split sentence holding a short heading ("Kosten") maps there
        holder = next((i for i, key in enumerate(keys) if i > 0 and has_words(text) and text in key), None)
        if holder is not None:
            if holder not in used:
                used.add(holder)
                found.indices.append(holder)
            continue
        inside = [i for i, key in enumerate(keys) if i > 0 and i not in used and has_words(key) and key in text]
        if inside:
            used.update(inside)
            found.indices.extend(inside)
        else:
            found.unmapped.append(text)
    found.indices.sort()
    return found


def dropped_lines(pages: Sequence[Page]) -> int:
    """Context lines (after the title) the importer cannot keep: no letters or digits."""
    return sum(1 for p in pages for line in p.sentences[1:] if not has_words(clean_line(line)))


@dataclass
class Run:
    """Predictions for one questions file against one index."""

    gold_page: list[list[int]] = field(default_factory=list)
    end_to_end: list[list[int]] = field(default_factory=list)
    page_hit: list[bool] = field(default_factory=list)
    unmapped: int = 0
    latencies_ms: list[float] = field(default_factory=list)


def ask_all(answerer: Answerer, questions: Sequence[Question], pages: Sequence[Page], run: Run) -> None:
    """Ask each question twice: about its gold page (`answer_service`) and freely (`answer`).

    Lines are mapped to the German page's lines: English questions (dev_en) carry an English
    context, line by line parallel to the German page the product answers from.
    """
    contexts = {p.page_id: p.sentences for p in pages}
    for q in questions:
        context = contexts[q.page_id]
        gold = answer_lines(answerer.answer_service(service_id(q), q.text), context)
        run.gold_page.append(gold.indices)
        started = time.perf_counter()
        answer = answerer.answer(q.text)
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
        right = answer.service_id == service_id(q)
        shown = answer_lines(answer, context) if right else AnswerLines()
        # another page's lines share indices with the gold page only by accident: they count as one wrong
        # line (precision and recall 0, and the question counts as answered, not as abstained)
        run.end_to_end.append(shown.indices if right or abstains(answer) else [-1])
        run.page_hit.append(right)
        run.unmapped += len(gold.unmapped) + len(shown.unmapped)


def figures(questions: Sequence[Question], run: Run) -> dict[str, object]:
    """The data set's scores for both modes, page accuracy and latency, rounded for printing."""
    golds = [q.answers for q in questions]
    gold_page = extraction_scores(run.gold_page, golds)
    end_to_end = extraction_scores(run.end_to_end, golds)
    answerable = [hit for hit, q in zip(run.page_hit, questions, strict=True) if q.answerable]
    keys = ("f1", "precision", "recall", "f1_mean_per_question", "unanswerable_precision", "unanswerable_recall")
    return {
        "n": len(questions),
        "gold_page": {k: round(gold_page[k], 4) for k in keys},
        "end_to_end": {k: round(end_to_end[k], 4) for k in keys}
        | {"page_hit@1_answerable": round(sum(answerable) / max(len(answerable), 1), 4)},
        "unmapped_answer_lines": run.unmapped,
        "answer_p50_ms": round(percentile(run.latencies_ms, 50), 1),
        "answer_p95_ms": round(percentile(run.latencies_ms, 95), 1),
    }


def evaluate_product(
    pages: Sequence[Page],
    questions: Sequence[Question],
    base: KnowledgeConfig,
    cache_dir: Path | None,
    *,
    pooled: bool = True,
    weights: LineWeights | None = None,
    log: Log = _stderr,
) -> dict[str, object]:
    """Per-city indexes (one bot per city) and, with `pooled`, one index of all cities' pages."""
    result: dict[str, object] = {"dropped_context_lines": dropped_lines(pages), "cities": {}}
    combined = Run()
    order: list[Question] = []
    for city in sorted({p.city for p in pages}):
        asked = [q for q in questions if q.city == city]
        if not asked:
            continue
        started = time.perf_counter()
        log(f"{city}: ingesting {sum(1 for p in pages if p.city == city)} pages, asking {len(asked)} questions")
        with product_index([p for p in pages if p.city == city], cache_dir, base, weights) as answerer:
            run = Run()
            ask_all(answerer, asked, pages, run)
        result["cities"][city] = figures(asked, run) | {"wall_s": round(time.perf_counter() - started, 1)}  # type: ignore[index]
        for name in ("gold_page", "end_to_end", "page_hit", "latencies_ms"):
            getattr(combined, name).extend(getattr(run, name))
        combined.unmapped += run.unmapped
        order.extend(asked)
    result["per_city"] = figures(order, combined)
    if pooled:
        started = time.perf_counter()
        log(f"pooled: ingesting {len(pages)} pages, asking {len(questions)} questions")
        with product_index(pages, cache_dir, base, weights) as answerer:
            run = Run()
            ask_all(answerer, questions, pages, run)
        result["pooled"] = figures(questions, run) | {"wall_s": round(time.perf_counter() - started, 1)}
    return result
