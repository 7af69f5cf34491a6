"""`load_path`: one entry point that picks the importer by format name, suffix or JSON shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from knowledge.importers import detect_json_format, load_path
from tests.unit.knowledge.importers.samples import FIXTURES, NATIVE_YAML, make_pdf


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A content folder mixing every supported format with files that are not content."""
    root = tmp_path / "content"
    (root / "seiten").mkdir(parents=True)
    (root / "exporte").mkdir()
    (root / ".cache").mkdir()
    (root / "hundesteuer.yaml").write_text(NATIVE_YAML.format(id="hundesteuer", title="Hundesteuer"), "utf-8")
    native_json = {
        "id": "kfz-zulassung",
        "title": "Fahrzeug zulassen",
        "source_url": "https://example.org/kfz",
        "sections": {"gebuehren": "- 27,00 Euro"},
    }
    (root / "kfz-zulassung.json").write_text(json.dumps(native_json), "utf-8")
    shutil.copy(FIXTURES / "muenchen_reisepass.html", root / "seiten" / "reisepass.htm")
    shutil.copy(FIXTURES / "musterstadt_de.json", root / "exporte" / "musterstadt_de.json")
    shutil.copy(FIXTURES / "dldb_services.json", root / "exporte" / "berlin.json")
    (root / "seiten" / "merkblatt.pdf").write_bytes(make_pdf([["Merkblatt Sperrmüll", "Abholung auf Antrag."]]))
    (root / "seiten" / "merkblatt.pdf.meta.yaml").write_text("source_url: https://example.org/m.pdf\n", "utf-8")
    (root / "README.md").write_text("# Inhalte\n", "utf-8")
    (root / "seiten" / "logo.png").write_bytes(b"\x89PNG\r\n")
    (root / ".cache" / "alt.yaml").write_text("kaputt: [", "utf-8")
    return root


def test_directory_imports_every_format_and_ignores_other_files(content: Path):
    result = load_path(content)
    assert result.failures == []
    assert sorted(s.id for s in result.services) == [
        "dldb-326400",
        "dldb-327001",
        "hundesteuer",
        "integreat-musterstadt-9100002",
        "integreat-musterstadt-9100003",
        "kfz-zulassung",
        "merkblatt",
        "reisepass-beantragen",
    ]
    assert [s.reason for s in result.skipped] == ["leere Seite"]
    merkblatt = next(s for s in result.services if s.id == "merkblatt")
    assert merkblatt.source_url == "https://example.org/m.pdf"  # the sidecar is used, not imported


def test_format_name_restricts_a_directory_to_its_files(content: Path):
    assert [s.id for s in load_path(content, "html").services] == ["reisepass-beantragen"]
    assert [s.id for s in load_path(content, "pdf").services] == ["merkblatt"]
    native = load_path(content, "native")
    assert sorted(s.id for s in native.services) == ["hundesteuer", "kfz-zulassung"]
    assert len(native.failures) == 2  # the exports are not services in our own format, and it says so


def test_format_name_forces_the_importer_for_a_file(tmp_path: Path):
    path = tmp_path / "export.txt"
    shutil.copy(FIXTURES / "dldb_services.json", path)
    assert len(load_path(path, "dldb").services) == 2
    assert "unbekannter Dateityp '.txt'" in load_path(path).failures[0].reason


def test_explicit_unknown_file_missing_path_and_unknown_format_are_reported(tmp_path: Path):
    notes = tmp_path / "notizen.md"
    notes.write_text("# Notizen", "utf-8")
    assert "unbekannter Dateityp" in load_path(notes).failures[0].reason
    assert "nicht gefunden" in load_path(tmp_path / "fehlt.yaml").failures[0].reason
    assert "unbekanntes Format 'xml'" in load_path(notes, "xml").failures[0].reason


def test_json_is_sniffed_by_shape(tmp_path: Path):
    path = tmp_path / "daten.json"
    path.write_text('{"foo": [1, 2]}', "utf-8")
    assert "JSON-Format nicht erkannt" in load_path(path).failures[0].reason
    path.write_text('{"id": "x",\n "title": }', "utf-8")
    (failure,) = load_path(path).failures
    assert failure.reason.startswith("Syntaxfehler") and failure.line == 2
    path.write_text("[]", "utf-8")
    result = load_path(path)
    assert result.failures == [] and [s.reason for s in result.skipped] == ["keine Einträge"]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        ({"id": "a", "title": "A", "sections": {}}, "native"),
        ([{"id": 1, "url": "https://x", "title": "T", "content": "<p>x</p>"}], "integreat"),
        ([{"id": "1", "name": "N", "leika": "99"}], "dldb"),
        ({"data": [{"id": "1", "name": "N", "requirements": []}]}, "dldb"),
        ({"id": "1", "name": "N", "prerequisites": []}, "dldb"),
        ([{"a": 1}], None),
        ("text", None),
    ],
)
def test_detect_json_format(data: object, fmt: str | None):
    assert detect_json_format(data) == fmt
