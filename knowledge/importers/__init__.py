"""Importers: every supported content format → `ImportResult` (services plus reported failures).

`load_path` is the one entry point ingest needs: point it at a file or a content directory and it
picks the importer, so editors can drop YAML, saved pages, PDFs and exports side by side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from knowledge.importers.base import ImportFailure, ImportResult, display_path
from knowledge.importers.dldb import is_locations_file, load_dldb_file, looks_like_dldb, looks_like_dldb_location
from knowledge.importers.html import load_html_file
from knowledge.importers.integreat import load_integreat_export
from knowledge.importers.native import load_service_file
from knowledge.importers.pdf import is_sidecar, load_pdf_file

__all__ = ["FORMATS", "ImportFailure", "ImportResult", "detect_json_format", "load_path"]

_LOADERS: dict[str, Callable[[Path], ImportResult]] = {
    "native": load_service_file,
    "html": load_html_file,
    "pdf": load_pdf_file,
    "integreat": load_integreat_export,
    "dldb": load_dldb_file,
}
FORMATS = ("auto", *_LOADERS)
_SUFFIXES = {
    "native": {".yaml", ".yml", ".json"},
    "html": {".html", ".htm"},
    "pdf": {".pdf"},
    "integreat": {".json"},
    "dldb": {".json"},
}
_BY_SUFFIX = {".yaml": "native", ".yml": "native", ".html": "html", ".htm": "html", ".pdf": "pdf"}
_SNIFF_SAMPLE = 20


def _failure(path: Path, reason: str) -> ImportResult:
    return ImportResult(failures=[ImportFailure(display_path(path), reason)])


def detect_json_format(data: object) -> str | None:
    """Which importer a parsed JSON document belongs to, judged by its shape rather than its name."""
    if isinstance(data, dict):
        if {"id", "title"} <= data.keys() and ("sections" in data or "source_url" in data):
            return "native"
        for key in ("data", "services"):
            inner = data.get(key)
            if isinstance(inner, list) and any(looks_like_dldb(item) for item in inner[:_SNIFF_SAMPLE]):
                return "dldb"
        return "dldb" if looks_like_dldb(data) else None
    if isinstance(data, list):
        sample = [item for item in data[:_SNIFF_SAMPLE] if isinstance(item, dict)]
        if any("content" in item and "url" in item for item in sample):
            return "integreat"
        if any(looks_like_dldb(item) for item in sample):
            return "dldb"
    return None


def _load_json(path: Path) -> ImportResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):  # ValueError covers JSON syntax, bad UTF-8 and huge numbers
        # The native importer reports unreadable files and syntax errors with their line.
        return load_service_file(path)
    if data == [] or data == {}:
        return ImportResult(skipped=[ImportFailure(display_path(path), "keine Einträge")])
    fmt = detect_json_format(data)
    if fmt is None and _is_locations(data):
        return _locations_only(path)
    if fmt is None:
        return _failure(
            path,
            "JSON-Format nicht erkannt: erwartet einen Dienst im eigenen Format (id, title, sections), "
            "einen Integreat-Export (Liste von Seiten mit url und content) oder DLDB-Dienste "
            "(leika, requirements, prerequisites)",
        )
    return _LOADERS[fmt](path)


def _is_locations(data: object) -> bool:
    items = data.get("data") if isinstance(data, dict) else data
    return isinstance(items, list) and any(looks_like_dldb_location(item) for item in items[:_SNIFF_SAMPLE])


def _locations_only(path: Path) -> ImportResult:
    """A DLDB locations file is read by the services export beside it, never on its own."""
    services = [
        p
        for p in sorted(path.parent.glob("*.json"))
        if p != path and not is_locations_file(p) and _json_format(p) == "dldb"
    ]
    if services:
        reason = f"DLDB-Standorte, gelesen zusammen mit {', '.join(display_path(p) for p in services)}"
        return ImportResult(skipped=[ImportFailure(display_path(path), reason)])
    return _failure(
        path,
        "DLDB-Standortdatei ohne Dienste: bitte die Dienste-Datei (z. B. services_de.json) in denselben Ordner legen",
    )


def _json_format(path: Path) -> str | None:
    try:
        return detect_json_format(json.loads(path.read_text(encoding="utf-8-sig")))
    except (OSError, ValueError, RecursionError):
        return None


def _load_file(path: Path, fmt: str) -> ImportResult:
    if fmt != "auto":
        return _LOADERS[fmt](path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _load_json(path)
    if suffix in _BY_SUFFIX:
        return _LOADERS[_BY_SUFFIX[suffix]](path)
    expected = ".yaml, .yml, .json, .html, .htm oder .pdf"
    return _failure(path, f"unbekannter Dateityp '{suffix or path.name}' (erwartet {expected})")


def _content_files(root: Path, suffixes: set[str]) -> list[Path]:
    """Files to import below `root`, in a stable order; hidden entries and PDF sidecars are not content."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):  # os.walk does not follow symlinked folders into loops
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(folder) / name
            if not name.startswith(".") and file.suffix.lower() in suffixes and not is_sidecar(file):
                found.append(file)
    return found


def load_path(path: Path, fmt: str = "auto") -> ImportResult:
    """Import a file or a whole directory; `fmt` forces one importer (and, for directories, its suffixes).

    Files with unknown suffixes are skipped silently inside directories (READMEs, images), but a file
    named explicitly is always reported, because the caller evidently expected it to be content.
    """
    path = Path(path)
    if fmt not in FORMATS:
        return _failure(path, f"unbekanntes Format '{fmt}' (erlaubt: {', '.join(FORMATS)})")
    if not path.exists():
        return _failure(path, "Datei oder Verzeichnis nicht gefunden")
    if not path.is_dir():
        return _load_file(path, fmt)
    suffixes = set().union(*_SUFFIXES.values()) if fmt == "auto" else _SUFFIXES[fmt]
    result = ImportResult()
    for file in _content_files(path, suffixes):
        result.extend(_load_file(file, fmt))
    return result
