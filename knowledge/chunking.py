"""Service → passages. One passage per section (long sections split at bullet boundaries).

Each passage carries the service title in its indexed text, because citizens name the service
("Reisepass") far more often than they repeat the words inside a section.
"""

from __future__ import annotations

from knowledge.models import Passage, Section, Service

MAX_PASSAGE_CHARS = 700


def _split_long(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) > limit:
            pieces.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append("\n".join(current))
    return pieces or [text]


def overview_id(service_id: str) -> str:
    return f"{service_id}#{Section.UEBERBLICK.value}#0"


def service_passages(service: Service) -> list[Passage]:
    overview_text = service.summary or service.sections.get(Section.UEBERBLICK, "")
    passages = [
        Passage(
            id=overview_id(service.id),
            service_id=service.id,
            section=Section.UEBERBLICK,
            text=overview_text,
            source_url=service.source_url,
            title=service.title,
        )
    ]
    for section, text in service.sections.items():
        if section is Section.UEBERBLICK and not service.summary:
            continue  # already the overview passage
        # the overview passage took number 0 of "ueberblick"; its section text continues from 1
        first = 1 if section is Section.UEBERBLICK else 0
        for n, piece in enumerate(_split_long(text), start=first):
            passages.append(
                Passage(
                    id=f"{service.id}#{section.value}#{n}",
                    service_id=service.id,
                    section=section,
                    text=piece,
                    source_url=service.source_url,
                    title=service.title,
                )
            )
    return passages


def dense_text(passage: Passage) -> str:
    """What the embedding model sees: title and section name give the piece its context."""
    return f"{passage.title} – {passage.section.label_de}: {passage.text}"


def lexical_text(passage: Passage, service: Service) -> str:
    """What BM25 sees: like `dense_text`, plus the overview passage carries the keywords."""
    text = dense_text(passage)
    if passage.section is Section.UEBERBLICK and service.keywords:
        text += "\n" + ", ".join(service.keywords)
    return text
