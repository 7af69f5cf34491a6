"""Service cards, the third retriever (knowledge/cards.py): built at ingest, kept in step with the
services, rebuilt for an index that predates them, and able to be switched off."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge.answering import Answerer
from knowledge.cards import ServiceCards, card_text
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ingest
from knowledge.models import Service
from knowledge.retrieval import retrieve
from tests.conftest import make_settings

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
    cards = ServiceCards.load(settings, ["s-hund", "s-kfz", "s-pass"])
    assert cards is not None and cards.ids == ["s-hund", "s-kfz", "s-pass"]
    assert cards.matrix.shape[0] == 3
    best, _ = cards.rank(cards.embed_query("Ich habe mir einen Dackel gekauft, was muss ich zahlen?"), 3)[0]
    assert best == "s-hund"

    _write(content, SERVICES[1:])  # the dog tax leaves the content: its card must go too
    ingest(settings, content)
    assert ServiceCards.load(settings, ["s-hund", "s-kfz", "s-pass"]) is None  # stale cards are not used
    again = ServiceCards.load(settings, ["s-kfz", "s-pass"])
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
    """"Kfz-Schein" and "Ersatz" are keywords of the lost-registration-certificate service; its text
    says "Zulassungsbescheinigung Teil I". Without cards this went to "Fischereischein beantragen"."""
    result = retrieve(munich_index, "Kfz-Schein weg, wie bekomme ich Ersatz?")
    assert result.top is not None and result.top.service_id == ZULASSUNGSBESCHEINIGUNG_I_VERLOREN
    assert result.features["card_rank"] > 0.0  # the card retriever saw it among its best


def test_the_prior_calibrator_knows_every_feature():
    """An index too small to fit its own calibrator answers with the prior: it must read every
    feature retrieval produces (the card feature once crashed it with a KeyError)."""
    from knowledge.confidence import DEFAULT, FEATURES

    assert set(FEATURES) <= set(DEFAULT.weights)
