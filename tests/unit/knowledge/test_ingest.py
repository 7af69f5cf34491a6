"""Incremental ingestion against a real Chroma store and the real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ensure_index, ingest
from tests.conftest import make_settings

pytestmark = pytest.mark.slow  # ingests from scratch

DEMO = PROJECT_ROOT / "tests" / "fixtures" / "demo_content"


def _copy_services(target: Path, ids: list[str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for service_id in ids:
        shutil.copy(DEMO / f"{service_id}.yaml", target / f"{service_id}.yaml")


def test_incremental_add_change_remove(tmp_path: Path):
    content = tmp_path / "content"
    _copy_services(content, ["personalausweis", "reisepass", "hundesteuer"])
    settings = make_settings(tmp_path / "data")

    first = ingest(settings, content)
    assert sorted(first.added) == ["hundesteuer", "personalausweis", "reisepass"]
    assert first.passages_embedded > 0

    again = ingest(settings, content)
    assert again.added == again.changed == again.removed == []
    assert sorted(again.unchanged) == ["hundesteuer", "personalausweis", "reisepass"]
    assert again.passages_embedded == 0

    data = yaml.safe_load((content / "hundesteuer.yaml").read_text())
    data["summary"] = data["summary"] + " Geänderter Satz für den Test."
    (content / "hundesteuer.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    (content / "reisepass.yaml").unlink()
    third = ingest(settings, content)
    assert third.changed == ["hundesteuer"]
    assert third.removed == ["reisepass"]

    index = KnowledgeIndex.open(settings)
    assert set(index.services) == {"personalausweis", "hundesteuer"}
    assert all(p.service_id != "reisepass" for p in index.passages.values())
    assert index.vectors.count() == len(index.passages)


def test_malformed_file_is_reported_and_rest_ingests(tmp_path: Path):
    content = tmp_path / "content"
    _copy_services(content, ["personalausweis"])
    (content / "kaputt.yaml").write_text("id: kaputt\ntitle: Kaputt\nsections: [unclosed\n", encoding="utf-8")
    (content / "ohne-quelle.yaml").write_text("id: ohne-quelle\ntitle: Ohne Quelle\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data")
    report = ingest(settings, content)
    assert report.added == ["personalausweis"]
    by_path = {Path(f.path).name: f for f in report.failed}
    assert by_path["kaputt.yaml"].line is not None
    assert "source_url" in by_path["ohne-quelle.yaml"].reason


def test_corrupted_index_is_rebuilt_from_content(tmp_path: Path):
    settings = make_settings(tmp_path / "data", content_dir=tmp_path / "content")
    _copy_services(tmp_path / "content", ["personalausweis", "reisepass"])
    ingest(settings, settings.content_dir)
    KnowledgeIndex.state_path(settings).write_text("{ not json", encoding="utf-8")
    index = ensure_index(settings)
    assert set(index.services) == {"personalausweis", "reisepass"}


def test_an_index_of_an_older_analyser_is_reanalysed_not_lost(tmp_path: Path):
    """After an upgrade that changes the German analysis, the saved state is re-analysed in place:
    the services of every content folder stay, and ingesting one folder again does not crash on the
    passages of another (it used to start from an empty state beside the old vector store)."""
    import json

    from knowledge.index import STATE_VERSION
    from knowledge.retrieval import retrieve

    first, second = tmp_path / "a", tmp_path / "b"
    _copy_services(first, ["personalausweis", "reisepass"])
    _copy_services(second, ["hundesteuer"])
    settings = make_settings(tmp_path / "data")
    ingest(settings, first)
    ingest(settings, second)
    path = KnowledgeIndex.state_path(settings)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = 1  # as written before the -ung verbs were indexed
    data["passage_terms"] = {pid: [] for pid in data["passage_terms"]}  # the old analysis, here: none
    path.write_text(json.dumps(data), encoding="utf-8")

    report = ingest(settings, first)
    assert sorted(report.unchanged) == ["personalausweis", "reisepass"] and not report.removed
    index = KnowledgeIndex.open(settings)
    assert sorted(index.services) == ["hundesteuer", "personalausweis", "reisepass"]
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == STATE_VERSION
    assert all(terms for terms in json.loads(path.read_text(encoding="utf-8"))["passage_terms"].values())
    hit = retrieve(index, "Hundesteuer anmelden").top
    assert hit is not None and hit.service_id == "hundesteuer"
