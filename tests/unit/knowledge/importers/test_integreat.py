"""Integreat page exports: pages become services, empty pages are skipped, bad items are reported."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from knowledge.importers.integreat import load_integreat_export, region_and_language
from knowledge.models import Section
from tests.unit.knowledge.importers.samples import FIXTURES

SAMPLE = FIXTURES / "musterstadt_de.json"
REAL_EXPORT = PROJECT_ROOT.parent / "shared" / "corpus" / "integreat-pages" / "lkaugsburg_de.json"


def test_sample_export_imports_pages_and_skips_the_empty_one():
    result = load_integreat_export(SAMPLE)
    assert result.failures == []
    assert [s.id for s in result.services] == [
        "integreat-musterstadt-9100002",
        "integreat-musterstadt-9100003",
    ]
    (skipped,) = result.skipped
    assert skipped.reason == "leere Seite"
    assert skipped.path.endswith("musterstadt_de.json[0]")


def test_page_fields_map_onto_the_service():
    anmelden, kurse = load_integreat_export(SAMPLE).services
    assert anmelden.title == "Wohnsitz anmelden"
    assert anmelden.source_url == "https://admin.integreat-app.de/musterstadt/de/ankommen/wohnsitz-anmelden/"
    assert anmelden.updated == date(2024, 5, 21)
    assert anmelden.language == "de"
    assert anmelden.origin.endswith("musterstadt_de.json[1]")
    assert anmelden.sections[Section.UEBERBLICK] == (
        "Wenn Du nach Musterstadt ziehst, musst Du Dich innerhalb von zwei Wochen beim Bürgerbüro anmelden."
    )
    assert anmelden.sections[Section.VORAUSSETZUNGEN].splitlines() == [
        "- Du hast eine Wohnung in Musterstadt.",
        "- Du hast eine Wohnungsgeberbestätigung von Deinem Vermieter.",
    ]
    assert "Welche Unterlagen brauchst Du?" in anmelden.sections[Section.UNTERLAGEN]  # a question is kept
    assert "Rathausplatz 1" in anmelden.sections[Section.ZUSTAENDIGE_STELLE]
    links = {link.url: link.title for link in anmelden.links}
    assert links["https://www.musterstadt.example/buergerbuero/anmeldung"] == "Mehr Informationen findest Du hier"
    assert "mailto:buergerbuero@musterstadt.example" in links

    assert kurse.title == "Deutschkurse & Integrationskurse"  # entities in titles are decoded
    assert kurse.sections[Section.UEBERBLICK].splitlines()[1] == "Integrationskurs"
    assert "neun Monate" in kurse.sections[Section.FRISTEN]
    assert "229 Euro" in kurse.sections[Section.GEBUEHREN]


def test_malformed_items_are_reported_with_their_index(tmp_path: Path):
    pages = json.loads(SAMPLE.read_text(encoding="utf-8"))
    broken = [
        pages[1],
        "keine Seite",
        {"id": 7, "title": "Ohne Adresse", "content": "<p>Text</p>"},
        {"id": 8, "url": "https://example.org/8", "title": "Falscher Inhalt", "content": {"html": "<p/>"}},
        {"url": "https://example.org/9", "title": "Ohne ID", "content": "<p>Text</p>"},
        {"id": 10, "url": "https://example.org/10", "title": "  ", "content": "<p>Ohne Titel</p>"},
        {**pages[2], "last_updated": "gestern", "modified_gmt": None},
    ]
    path = tmp_path / "kaputt_de.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    result = load_integreat_export(path)
    assert [s.id for s in result.services] == ["integreat-kaputt-9100002", "integreat-kaputt-9100003"]
    assert result.services[1].updated is None  # an unreadable date is not worth losing the page
    failures = {f.path.rsplit("[", 1)[1].rstrip("]"): f.reason for f in result.failures}
    assert set(failures) == {"1", "2", "3", "4", "5"}
    assert "kein Objekt" in failures["1"]
    assert "'url'" in failures["2"]
    assert "'content'" in failures["3"]
    assert "'id'" in failures["4"]
    assert "'title'" in failures["5"]


def test_broken_file_is_one_failure(tmp_path: Path):
    path = tmp_path / "region_de.json"
    path.write_text('[\n  {"id": 1,\n  "url": }\n]', encoding="utf-8")
    (failure,) = load_integreat_export(path).failures
    assert failure.reason.startswith("Syntaxfehler") and failure.line == 3

    path.write_text('{"pages": []}', encoding="utf-8")
    assert "Liste von Seiten" in load_integreat_export(path).failures[0].reason


def test_region_and_language_come_from_the_file_name():
    assert region_and_language(Path("rems-murr-kreis_de.json")) == ("rems-murr-kreis", "de")
    assert region_and_language(Path("lkaugsburg_en.json")) == ("lkaugsburg", "en")
    assert region_and_language(Path("München Export.json")) == ("muenchen-export", "de")


def test_real_landkreis_augsburg_export():
    if not REAL_EXPORT.is_file():
        pytest.skip(f"real corpus not available at {REAL_EXPORT} (see ../shared/corpus/README.md)")
    pages = json.loads(REAL_EXPORT.read_text(encoding="utf-8"))
    empty = sum(1 for page in pages if not page["content"].strip())
    result = load_integreat_export(REAL_EXPORT)

    assert result.failures == []
    assert len(result.services) + len(result.skipped) == len(pages)
    assert len(result.services) >= 0.9 * (len(pages) - empty)
    assert len(result.skipped) >= empty
    assert {s.reason for s in result.skipped} == {"leere Seite"}
    assert len({s.id for s in result.services}) == len(result.services)
    assert all(s.id.startswith("integreat-lkaugsburg-") for s in result.services)
    assert all(s.source_url.startswith("https://") and s.updated for s in result.services)
    text = "\n".join(t for s in result.services for t in s.sections.values())
    assert "<" not in text.replace("< ", "")  # no markup leaks into the text
    assert "&#" not in text and "\xa0" not in text


def test_an_editors_keyword_line_becomes_keywords_not_answer_text(tmp_path: Path):
    """Integreat pages end with "Stichworte: …": words to find the page by, never a sentence for a citizen."""
    page = {
        "id": 7,
        "url": "https://integreat.app/musterstadt/de/sprache/",
        "title": "Sprachkurse",
        "content": "<p>Du suchst einen Sprachkurs?</p><p>Die VHS bietet Kurse an.</p>"
        "<p>Tags: 8 bis 20 Uhr, nachts Notdienst</p>"
        "<p><em>Stichworte: Deutsch lernen, Sprachtest;  Sprachlevel, deutsch lernen</em></p>",
    }
    export = tmp_path / "musterstadt_de.json"
    export.write_text(json.dumps([page]), encoding="utf-8")
    (service,) = load_integreat_export(export).services
    assert service.keywords == ["Deutsch lernen", "Sprachtest", "Sprachlevel"]
    text = "\n".join(service.sections.values())
    assert "Stichworte" not in text and "Die VHS bietet Kurse an." in text
    assert "Tags: 8 bis 20 Uhr, nachts Notdienst" in text  # German "tags" (by day) is no keyword label
