"""What every importer returns: services it could read, and failures it could not, with reasons.

Importers never raise on bad input; one broken file must not stop an ingest run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.models import Service


@dataclass(frozen=True)
class ImportFailure:
    """A file (or an item inside one) that could not be imported, and why, for the ingest report."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    services: list[Service] = field(default_factory=list)
    failures: list[ImportFailure] = field(default_factory=list)
    skipped: list[ImportFailure] = field(default_factory=list)  # e.g. empty pages: not errors

    def extend(self, other: ImportResult) -> None:
        self.services.extend(other.services)
        self.failures.extend(other.failures)
        self.skipped.extend(other.skipped)


# How much text one service may carry. Real service pages and forms hold 2,000-30,000 characters. The
# German analysis (spaCy, `knowledge.text`) refuses any text over 1,000,000 characters (error E088) and
# needs roughly a gigabyte of memory per million; one such text in a batch used to abort a whole ingest
# run. A service beyond this limit is reported as failed with its path, and the rest is ingested.
MAX_SERVICE_TEXT_CHARS = 300_000


def service_text_chars(service: Service) -> int:
    """Characters of a service that reach the analysis: title, summary, sections and keywords."""
    sections = sum(len(text) for text in service.sections.values())
    return len(service.title) + len(service.summary) + sections + sum(len(k) + 2 for k in service.keywords)


def oversized_reason(service: Service) -> str | None:
    """A German reason when a service carries more text than `MAX_SERVICE_TEXT_CHARS`, else None."""
    size = service_text_chars(service)
    if size <= MAX_SERVICE_TEXT_CHARS:
        return None
    return (
        f"zu viel Text für eine Leistung ({_german_number(size)} Zeichen, höchstens "
        f"{_german_number(MAX_SERVICE_TEXT_CHARS)}): Datei beschädigt oder mehrere Leistungen in einer Datei; "
        "bitte aufteilen"
    )


def _german_number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def display_path(path: Path) -> str:
    """Paths in reports relative to the working directory when possible, to keep them readable."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def limit_reason(exc: BaseException) -> str:
    """A German reason for parser errors outside the format's syntax errors, for the ingest report.

    Hostile or broken files hit the parsers' limits rather than their grammar: nesting deeper than
    Python's recursion limit, integers longer than 4300 digits, impossible dates in YAML timestamps.
    These raise RecursionError or ValueError, which must become a report like any syntax error.
    """
    if isinstance(exc, RecursionError):
        return "zu tief verschachtelt (Datei beschädigt oder absichtlich so gebaut)"
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    if "digits" in message and "integer" in message:
        return "enthält eine Zahl mit zu vielen Ziffern"
    return f"ungültiger Wert ({message[:200]})"


def failure(where: str, reason: str, line: int | None = None) -> ImportResult:
    return ImportResult(failures=[ImportFailure(where, reason, line)])


def read_bytes(path: Path, shown: str) -> tuple[bytes, ImportResult | None]:
    """A file's bytes; on failure, an `ImportResult` that says why."""
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return b"", failure(shown, f"nicht lesbar: {exc}")


def read_json(path: Path, shown: str, encoding: str = "utf-8") -> tuple[Any, ImportResult | None]:
    """Parse a JSON export; on failure, an `ImportResult` that says why and where (line)."""
    try:
        text = path.read_text(encoding=encoding)
    except (OSError, UnicodeDecodeError) as exc:
        return None, failure(shown, f"nicht lesbar: {exc}")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, failure(shown, f"Syntaxfehler: {exc.msg}", exc.lineno)
    except (ValueError, RecursionError) as exc:
        return None, failure(shown, f"nicht lesbar: {limit_reason(exc)}")
