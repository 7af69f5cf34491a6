"""Importer for our own service format: one YAML or JSON file per service (see content/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.importers.base import ImportFailure, ImportResult, display_path, limit_reason
from knowledge.models import Service

SUFFIXES = {".yaml", ".yml", ".json"}


def _error_line(exc: Exception) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    lineno = getattr(exc, "lineno", None)
    return int(lineno) if lineno else None


def _field_line(text: str, field: str) -> int | None:
    """Best-effort line of a top-level key, so validation errors point editors to the right place."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{field}:") or line.lstrip().startswith(f'"{field}"'):
            return number
    return None


def load_service_file(path: Path) -> ImportResult:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ImportResult(failures=[ImportFailure(shown, f"nicht lesbar: {exc}")])
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ImportResult(failures=[ImportFailure(shown, f"Syntaxfehler: {reason}", _error_line(exc))])
    except (ValueError, RecursionError) as exc:  # parser limits and impossible dates ("2026-13-45")
        return ImportResult(failures=[ImportFailure(shown, f"nicht lesbar: {limit_reason(exc)}")])
    if not isinstance(data, dict):
        return ImportResult(failures=[ImportFailure(shown, "erwartet ein Objekt mit den Feldern eines Dienstes", 1)])
    try:
        service = Service.model_validate({**data, "origin": shown})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        reason = f"Feld '{'.'.join(str(p) for p in first['loc'])}': {first['msg']}"
        return ImportResult(failures=[ImportFailure(shown, reason, _field_line(text, field))])
    return ImportResult(services=[service])


def load_directory(root: Path) -> ImportResult:
    """Import every service file below `root` in a stable order."""
    result = ImportResult()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES)
    for path in files:
        result.extend(load_service_file(path))
    return result
