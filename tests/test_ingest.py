"""Incremental ingestion against a real Chroma store and the real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ensure_index, ingest
from tests.conftest import make_settings

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
