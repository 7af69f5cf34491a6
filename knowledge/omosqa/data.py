"""Loading OMoS-QA pages and questions into small typed records.

Sentences are the lines of `context` (line 0 is the title); gold `answers` are line indices and
sometimes arrive as a JSON string, so parsing is centralised here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Page:
    page_id: int
    city: str
    language: str
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    id: int
    text: str
    sentences: tuple[str, ...]
    answers: frozenset[int]
    page_id: int
    language: str
    city: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def split_sentences(context: str) -> tuple[str, ...]:
    """The data set's sentence unit is a line of `context`; indices must stay aligned, so no filtering."""
    return tuple(context.split("\n"))


def parse_answers(raw: object) -> frozenset[int]:
    """Gold indices from a list or from a JSON-encoded list (both occur in the published files)."""
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ValueError(f"answers must be a list of line indices, got {raw!r}")
    return frozenset(int(i) for i in raw)


def load_pages(path: Path) -> list[Page]:
    """Pages from a JSON-lines file (`page_id`, `city`, `language`, `title`, `context`)."""
    pages: list[Page] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            pages.append(
                Page(
                    page_id=int(row["page_id"]),
                    city=str(row.get("city", "")),
                    language=str(row.get("language", "")),
                    title=str(row.get("title", "")),
                    sentences=split_sentences(str(row["context"])),
                )
            )
    return pages


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON list as published (`train_*.json`, `dev_*.json`)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Question(
            id=int(row["id"]),
            text=str(row["question"]),
            sentences=split_sentences(str(row["context"])),
            answers=parse_answers(row.get("answers")),
            page_id=int(row["pageId"]),
            language=str(row.get("language", "de")),
            city=str(row.get("city", "")),
        )
        for row in rows
    ]
