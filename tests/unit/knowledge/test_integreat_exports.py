"""Other real exports keep working: each Integreat export in ../shared/corpus ingests on its own (one
index per region, as a region runs its own bot) and answers from its own pages, link and date."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from knowledge.answering import Answerer
from knowledge.extraction import service_lines
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ingest
from tests.conftest import make_settings

pytestmark = pytest.mark.slow  # ingests large real exports

PAGES = PROJECT_ROOT.parent / "shared" / "corpus" / "integreat-pages"
CASES = {
    "lkaugsburg_de.json": [
        ("Was ist das Chancen-Aufenthaltsrecht?", "Chancen-Aufenthaltsrecht"),
        ("Wie stelle ich einen Antrag auf Asyl?", "Antrag auf Asyl"),
    ],
    "rems-murr-kreis_de.json": [
        ("Wo ist das Rathaus in Backnang?", "Rathaus in Backnang"),
        ("Was bedeutet Religionsfreiheit?", "Religionsfreiheit"),
    ],
}


@pytest.mark.parametrize("export", sorted(CASES))
def test_integreat_export_ingests_and_answers_from_its_pages(tmp_path: Path, export: str):
    source = PAGES / export
    if not source.exists():
        pytest.skip(f"Integreat exports not found at {PAGES} (they live in ../shared/corpus, not in the repo)")
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(source, content / export)
    settings = make_settings(tmp_path / "data", content_dir=content)
    report = ingest(settings, content)
    assert report.failed == [] and len(report.added) > 100
    answerer = Answerer(KnowledgeIndex.open(settings))
    for question, title in CASES[export]:
        answer = answerer.answer(question)
        assert not answer.abstained, question
        service = answerer.index.services[answer.service_id]
        assert service.title == title
        assert answer.sources[0].url == service.source_url and service.source_url.startswith("https://")
        assert answer.sources[0].updated is not None
        # quotes the page itself: whole lines or, from a long paragraph, its sentences
        assert any(line.text in answer.text for line in service_lines(service))
