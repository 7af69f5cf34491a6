"""DLDB exports: fields map onto our sections, HTML becomes text, broken entries are reported."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from knowledge.importers.dldb import load_dldb_file
from knowledge.models import Section, Service
from tests.unit.knowledge.importers.samples import FIXTURES

SAMPLE = FIXTURES / "dldb_services.json"


@pytest.fixture(scope="module")
def services() -> list[Service]:
    result = load_dldb_file(SAMPLE)
    assert result.failures == [] and result.skipped == []
    return result.services


def test_ids_titles_sources_and_dates(services: list[Service]):
    parken, hund = services
    assert (parken.id, hund.id) == ("dldb-326400", "dldb-327001")
    assert parken.title == "Bewohnerparkausweis beantragen"
    assert parken.source_url == "https://service.berlin.de/dienstleistung/326400/"
    assert parken.updated == date(2026, 9, 30)
    assert hund.updated == date(2026, 8, 1)
    assert parken.origin.endswith("dldb_services.json[0]")


def test_fields_map_onto_sections_as_plain_text(services: list[Service]):
    s = services[0].sections
    assert s[Section.UEBERBLICK].splitlines() == [
        "In Parkraumbewirtschaftungszonen können Bewohnerinnen und Bewohner einen Bewohnerparkausweis erhalten.",
        "Mit dem Ausweis dürfen Sie in Ihrer Zone ohne Parkschein parken.",
        "Rechtsgrundlagen:",
        "- § 45 Absatz 1b Straßenverkehrs-Ordnung (StVO)",
    ]
    assert s[Section.VORAUSSETZUNGEN].splitlines() == [
        "- Hauptwohnsitz in der Parkzone",
        "- Das Fahrzeug ist auf Sie zugelassen oder Ihnen dauerhaft zur Nutzung überlassen. "
        "Firmenwagen: Bestätigung des Arbeitgebers nötig.",
    ]
    assert s[Section.UNTERLAGEN].splitlines() == [
        "- Antragsformular",
        "- Fahrzeugschein (Zulassungsbescheinigung Teil I): im Original",
        "- Personalausweis oder Reisepass",
    ]
    assert s[Section.GEBUEHREN] == "- 10,20 Euro für ein Jahr\n- 20,40 Euro für zwei Jahre"
    assert s[Section.FRISTEN] == "Bei vollständigen Unterlagen sofort."
    assert s[Section.ZUSTAENDIGE_STELLE].splitlines() == [
        "Zuständig ist das Bezirksamt, in dessen Bezirk die Parkzone liegt.",
        "- Bezirksamt Mitte",
        "- Bürgeramt Mitte, Karl-Marx-Allee 31, 10178 Berlin (nur mit Termin)",
    ]
    assert s[Section.ONLINE_DIENST].splitlines() == [
        "Sie können den Antrag auch online stellen.",
        "Online-Dienst: https://www.berlin.de/example/online-bewohnerparken/",
        "Termin vereinbaren: https://service.berlin.de/dienstleistung/326400/terminall/",
    ]
    assert s[Section.FORMULARE] == (
        "- Antrag auf einen Bewohnerparkausweis: "
        "https://www.berlin.de/formularverzeichnis/?formular=/example/bewohnerparken.pdf"
    )
    assert services[0].summary.startswith("In Parkraumbewirtschaftungszonen können")
    text = "\n".join(s.values())
    assert "<" not in text and "\r" not in text


def test_forms_online_service_and_references_are_links(services: list[Service]):
    links = {link.url: link.title for link in services[0].links}
    assert links["https://www.berlin.de/formularverzeichnis/?formular=/example/bewohnerparken.pdf"] == (
        "Antrag auf einen Bewohnerparkausweis"
    )
    assert links["https://www.berlin.de/example/online-bewohnerparken/"] == (
        "Online-Dienst: Bewohnerparkausweis beantragen"
    )
    assert links["https://www.berlin.de/ba-mitte/"] == "Bezirksamt Mitte"
    assert "https://www.gesetze-im-internet.de/stvo_2013/__45.html" in links
    assert "https://www.berlin.de/example/parkzonen/" in links
    assert "https://service.berlin.de/standort/122314/" in links


def test_keywords_from_string_or_list_are_split_and_deduplicated(services: list[Service]):
    assert services[0].keywords == ["Anwohnerparken", "Parkvignette", "Bewohnerparken", "Parkausweis"]
    assert services[1].keywords == ["Hundesteuer", "Hund"]


def test_plain_strings_and_empty_fields(services: list[Service]):
    hund = services[1]
    assert hund.sections[Section.UEBERBLICK].splitlines() == [
        "Wer in Berlin einen Hund hält, muss ihn innerhalb eines Monats beim Finanzamt anmelden.",
        "Die Hundesteuer wird jährlich festgesetzt.",
    ]
    assert hund.sections[Section.UNTERLAGEN] == "- Nachweis über die Haftpflichtversicherung\n- Chipnummer des Hundes"
    assert hund.sections[Section.GEBUEHREN] == "gebührenfrei"
    assert set(hund.sections) == {Section.UEBERBLICK, Section.UNTERLAGEN, Section.GEBUEHREN}


@pytest.mark.parametrize("wrap", [lambda items: items, lambda items: {"services": items}])
def test_plain_list_and_services_key_are_accepted(tmp_path: Path, wrap):
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))["data"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(wrap(items)), encoding="utf-8")
    assert [s.id for s in load_dldb_file(path).services] == ["dldb-326400", "dldb-327001"]


def test_broken_entries_are_reported_with_index_and_the_rest_imports(tmp_path: Path):
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))["data"]
    broken = [
        "kein Dienst",
        {"id": "1", "leika": "1", "description": "Ohne Namen"},
        {"name": "Ohne ID", "requirements": []},
        {
            "id": "4",
            "name": "Nur ein Name",
            "requirements": [],
            "onlineprocessing": {"description": "", "link": ""},
        },
        items[1],
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"data": broken}), encoding="utf-8")
    result = load_dldb_file(path)
    assert [s.id for s in result.services] == ["dldb-327001"]
    reasons = {f.path.rsplit("[", 1)[1].rstrip("]"): f.reason for f in result.failures}
    assert set(reasons) == {"0", "1", "2"}
    assert "'name'" in reasons["1"] and "'id'" in reasons["2"]
    assert [s.path.rsplit("[", 1)[1] for s in result.skipped] == ["3]"]


def test_export_with_error_flag_or_wrong_shape_is_a_failure(tmp_path: Path):
    path = tmp_path / "export.json"
    path.write_text('{"error": true, "message": "Export nicht verfügbar"}', encoding="utf-8")
    assert "Export nicht verfügbar" in load_dldb_file(path).failures[0].reason
    path.write_text('"nur ein Text"', encoding="utf-8")
    assert "Liste von Diensten" in load_dldb_file(path).failures[0].reason
    path.write_text('{"data": [\n{"id": 1,}\n]}', encoding="utf-8")
    (failure,) = load_dldb_file(path).failures
    assert failure.reason.startswith("Syntaxfehler") and failure.line == 2
