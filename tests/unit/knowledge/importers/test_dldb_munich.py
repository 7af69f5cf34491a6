"""Munich's real DLDB export (shipped as default content): offices, links, skips, the `public` flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importers import load_path
from knowledge.importers.dldb import load_dldb_file
from knowledge.models import Section, Service
from tests.conftest import MUNICH_CONTENT

EXPORT = MUNICH_CONTENT / "muenchen"


@pytest.fixture(scope="module")
def munich() -> dict[str, Service]:
    result = load_path(EXPORT)
    assert result.failures == []
    return {s.id: s for s in result.services}


def test_no_placeholder_survives_in_any_link(munich: dict[str, Service]):
    for service in munich.values():
        assert "{" not in service.source_url
        assert all("{" not in link.url for link in service.links), service.id
        assert "{" not in "\n".join(service.sections.values())


def test_offices_with_address_and_contact_replace_the_bare_authority(munich: dict[str, Service]):
    kfz = munich["dldb-1064271"]  # Verlust oder Diebstahl der Kennzeichenschilder
    where = kfz.sections[Section.ZUSTAENDIGE_STELLE]
    assert "Stadtverwaltung München" not in where
    assert "Eichstätter Straße" in where and "München" in where
    ausweis = munich["dldb-1063441"]
    assert "Bürgerbüro Ruppertstraße" in ausweis.sections[Section.ZUSTAENDIGE_STELLE]
    assert "089 233-96000" in ausweis.sections[Section.ZUSTAENDIGE_STELLE]


def test_booking_links_only_where_the_service_is_bookable_at_that_office(munich: dict[str, Service]):
    links = [link.url for link in munich["dldb-1063441"].links if link.title.startswith("Termin: ")]
    assert links, "Personalausweis is booked at Bürgerbüros"
    for url in links:
        assert "terminvereinbarung.html?exclusiveLocation=1#/services/1063441/locations/" in url
    assert munich["dldb-1063441"].source_url.endswith("terminvereinbarung.html#/services/1063441")


def test_public_false_keeps_the_service_but_offers_no_online_booking(munich: dict[str, Service]):
    raw = {str(x["id"]): x for x in json.loads((EXPORT / "services_de.json").read_text())["data"]}
    hidden = [sid for sid, x in raw.items() if x["public"] is False and f"dldb-{sid}" in munich]
    assert len(hidden) > 20  # Wohnsitz abmelden, Sterbeurkunde, … stay answerable
    for sid in hidden:
        service = munich[f"dldb-{sid}"]
        assert "Termin vereinbaren" not in service.sections.get(Section.ONLINE_DIENST, "")
        assert not [link for link in service.links if "#/services/" in link.url]


def test_internal_and_empty_entries_are_skipped_with_their_reason():
    result = load_path(EXPORT)
    reasons = {s.path.rsplit("[", 1)[-1].rstrip("]"): s.reason for s in result.skipped if "[" in s.path}
    names = " ".join(reasons.values())
    for internal in ("Shortlane 15 min", "Testleistung", "SB Personalausweis"):
        assert f"„{internal}“ ohne Text" in names
    assert "Fake Dienstleistung" in names and "interner Hinweis" in names
    assert "Waffen- bzw. Munitionsabgabe" in names
    ids = {s.id for s in result.services}
    assert "dldb-1064275" in ids  # only fees as text ("Zulassungsbescheinigung Teil I: 12 Euro"): kept
    assert any("DLDB-Standorte, gelesen zusammen mit" in s.reason for s in result.skipped)


def test_locations_file_alone_is_reported_not_silently_ignored(tmp_path: Path):
    (tmp_path / "locations_de.json").write_bytes((EXPORT / "locations_de.json").read_bytes())
    result = load_path(tmp_path)
    assert result.services == []
    assert "Standortdatei ohne Dienste" in result.failures[0].reason


def test_services_pointing_to_missing_locations_and_broken_locations(tmp_path: Path):
    services = {
        "data": [
            {"id": "1", "name": "Dienst A", "description": "<p>Text A.</p>", "leika": "1",
             "locations": [{"location": "999"}], "meta": {"url": "https://x.example/t.html/#/services/{serviceId}"}},
            {"id": "1", "name": "Dienst A doppelt", "description": "<p>Text.</p>", "leika": "1"},
        ]
    }  # fmt: skip
    locations = {
        "data": [
            {"id": "5", "name": "Amt", "address": {}, "services": [{"service": "1"}]},
            {"address": {}, "services": []},
        ]
    }
    (tmp_path / "s.json").write_text(json.dumps(services))
    (tmp_path / "l.json").write_text(json.dumps(locations))
    result = load_dldb_file(tmp_path / "s.json")
    assert [s.title for s in result.services] == ["Dienst A", "Dienst A doppelt"]  # duplicates: reported by ingest
    assert "- Amt" in result.services[0].sections[Section.ZUSTAENDIGE_STELLE]
    assert any("Standort ohne id" in f.reason for f in result.failures)
    assert result.services[0].source_url == "https://x.example/t.html#/services/1"


def test_truncated_locations_file_is_reported_and_services_still_import(tmp_path: Path):
    (tmp_path / "services.json").write_bytes((EXPORT / "services_de.json").read_bytes())
    (tmp_path / "locations.json").write_text('{"data": [{"id": "1", "address": {}, "services": [')
    result = load_path(tmp_path)
    assert len(result.services) > 200
    assert any("locations.json" in f.path and "Syntaxfehler" in f.reason for f in result.failures)
