"""Our own YAML/JSON format: editors get the file, the line and the field of every mistake."""

from __future__ import annotations

from pathlib import Path

from knowledge.importers import load_path
from knowledge.importers.native import load_directory, load_service_file
from tests.unit.knowledge.importers.samples import NATIVE_YAML

BROKEN_SYNTAX = """\
id: kaputt
title: Kaputt
summary: Die nächste Zeile ist kein gültiges YAML.
sections:
  gebuehren: [10 Euro
source_url: https://example.org/kaputt
"""

MISSING_TITLE = """\
id: ohne-titel
source_url: https://example.org/ohne-titel
sections:
  gebuehren: 5 Euro
"""


def test_yaml_syntax_error_reports_path_and_line(tmp_path: Path):
    path = tmp_path / "kaputt.yaml"
    path.write_text(BROKEN_SYNTAX, encoding="utf-8")
    result = load_service_file(path)
    assert result.services == []
    (failure,) = result.failures
    assert failure.path.endswith("kaputt.yaml")
    assert failure.reason.startswith("Syntaxfehler")
    assert failure.line == 6  # where the parser notices the unclosed list
    assert str(failure).endswith(f"kaputt.yaml:6: {failure.reason}")


def test_missing_field_is_named(tmp_path: Path):
    path = tmp_path / "ohne-titel.yaml"
    path.write_text(MISSING_TITLE, encoding="utf-8")
    (failure,) = load_service_file(path).failures
    assert failure.path.endswith("ohne-titel.yaml")
    assert "'title'" in failure.reason


def test_invalid_field_value_points_to_its_line(tmp_path: Path):
    path = tmp_path / "falsche-id.yaml"
    path.write_text(NATIVE_YAML.format(id="Falsche ID", title="Falsche ID"), encoding="utf-8")
    (failure,) = load_service_file(path).failures
    assert "'id'" in failure.reason and failure.line == 1


def test_rest_of_the_directory_still_imports(tmp_path: Path):
    (tmp_path / "kaputt.yaml").write_text(BROKEN_SYNTAX, encoding="utf-8")
    (tmp_path / "ohne-titel.yaml").write_text(MISSING_TITLE, encoding="utf-8")
    (tmp_path / "liste.yaml").write_text("- nur\n- eine Liste\n", encoding="utf-8")
    for service_id in ("hundesteuer", "wohnsitz-anmelden"):
        (tmp_path / f"{service_id}.yaml").write_text(NATIVE_YAML.format(id=service_id, title="Titel"), "utf-8")
    for result in (load_directory(tmp_path), load_path(tmp_path)):
        assert sorted(s.id for s in result.services) == ["hundesteuer", "wohnsitz-anmelden"]
        assert sorted(Path(f.path).name for f in result.failures) == [
            "kaputt.yaml",
            "liste.yaml",
            "ohne-titel.yaml",
        ]
