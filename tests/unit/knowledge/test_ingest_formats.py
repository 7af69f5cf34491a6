"""Content in a format written by others (an Integreat export) is answered with its own link and date."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from knowledge.answering import Answerer
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ingest
from tests.conftest import make_settings

EXPORT = PROJECT_ROOT / "tests" / "fixtures" / "importers" / "musterstadt_de.json"


@pytest.mark.slow  # ingests its own index
def test_integreat_export_is_answered_with_its_link_and_date(tmp_path: Path):
    settings = make_settings(tmp_path / "data")
    report = ingest(settings, EXPORT, fmt="integreat")
    assert len(report.added) == 2
    assert len(report.skipped) == 1  # the empty page is reported, not indexed
    answerer = Answerer(KnowledgeIndex.open(settings))
    answer = answerer.answer_service(report.added[0], "Wie melde ich meinen Wohnsitz an?")
    retrieved = answerer.assess("Wie melde ich meinen Wohnsitz in Musterstadt an?")
    assert retrieved.top_service == answer.service_id
    assert answer.sources[0].url == "https://admin.integreat-app.de/musterstadt/de/ankommen/wohnsitz-anmelden/"
    assert answer.sources[0].updated is not None and answer.sources[0].updated.year == 2024
    assert "Stand: 21.05.2024" in answer.text


def test_passage_ids_are_unique_when_summary_and_overview_section_coexist():
    from knowledge.chunking import service_passages
    from knowledge.models import Section, Service

    service = Service(
        id="x-1",
        title="Beispiel",
        summary="Kurz.",
        sections={Section.UEBERBLICK: "Langer Überblick.", Section.GEBUEHREN: "- 5 Euro"},
        source_url="https://example.invalid/x",
    )
    ids = [p.id for p in service_passages(service)]
    assert len(ids) == len(set(ids)) == 3
