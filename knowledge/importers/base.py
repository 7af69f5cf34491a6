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
