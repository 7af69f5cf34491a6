"""Importers: every supported content format → `ImportResult` (services plus reported failures)."""

from __future__ import annotations

from pathlib import Path

from knowledge.importers.base import ImportResult
from knowledge.importers.native import load_directory


def load_path(path: Path, fmt: str = "auto") -> ImportResult:
    return load_directory(path)
