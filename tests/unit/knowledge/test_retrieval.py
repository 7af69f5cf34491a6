"""Retrieval weighs the first services by how well a line of their own text answers the question,
and tells the members of a family of near-duplicates apart by the words of their names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.retrieval import (
    EVIDENCE_BOOST,
    EVIDENCE_CANDIDATES,
    SIBLING_PENALTY,
    ServiceHit,
    analyze_query,
    compound_synonyms,
    retrieve,
    weigh_siblings,
)


def test_answer_evidence_reorders_only_the_first_services(demo_index) -> None:
    question = "Was kostet ein Reisepass?"
    plain = retrieve(demo_index, question)
    assert len(plain.hits) > EVIDENCE_CANDIDATES
    first, second = plain.hits[0], plain.hits[1]
    asked: list[list[str]] = []

    def evidence(q: str, ids: list[str], terms: list[str], vector: np.ndarray | None) -> dict[str, float]:
        asked.append(ids)
        assert q == question and terms and vector is not None
        # enough for the runner-up to overtake, and a service further down that must not be consulted
        lift = (first.score / second.score - 1.0) / EVIDENCE_BOOST + 1.0
        return {second.service_id: lift, plain.hits[-1].service_id: 100.0}

    boosted = retrieve(demo_index, question, evidence=evidence)
    assert asked == [[h.service_id for h in plain.hits[:EVIDENCE_CANDIDATES]]]
    assert boosted.hits[0].service_id == second.service_id
    assert boosted.hits[-1].service_id == plain.hits[-1].service_id  # beyond the candidates: untouched
    # features describe the ranking the citizen gets
    assert boosted.features["margin"] != plain.features["margin"]


@pytest.mark.slow  # ingests its own index
def test_the_sibling_whose_text_answers_scores_higher(tmp_path) -> None:
    """Two services of one family share their words; one sentence tells them apart."""
    from knowledge.answering import Answerer
    from knowledge.ingest import ingest, load_index
    from tests.conftest import make_settings

    services = [
        {
            "id": "fundsachen",
            "title": "Fundsache abholen",
            "source_url": "https://example.org/fundsachen",
            "summary": "Sie haben etwas verloren und das Fundbüro hat Sie benachrichtigt? Holen Sie Ihre Fundsache ab.",
            "sections": {"ablauf": "Vereinbaren Sie online einen Termin im Fundbüro.\nBringen Sie Ihren Ausweis mit."},
        },
        {
            "id": "fundraeder",
            "title": "Gefundene Fahrräder besichtigen",
            "source_url": "https://example.org/fundraeder",
            "summary": "Im Fundbüro können Sie gefundene Fahrräder besichtigen und Ihr Rad abholen.",
            "sections": {
                "ablauf": "Die Fahrräder im Fundbüro können Sie dienstags von 9 bis 12 Uhr ansehen.\n"
                "Bringen Sie einen Nachweis mit."
            },
        },
    ]
    content = tmp_path / "content"
    content.mkdir()
    for service in services:
        path = content / f"{service['id']}.json"
        path.write_text(json.dumps(service, ensure_ascii=False), encoding="utf-8")
    settings = make_settings(tmp_path / "data", content_dir=content)
    ingest(settings, content)
    answerer = Answerer(load_index(settings))
    question = "An welchem Tag kann ich im Fundbüro nach meinem Fahrrad schauen?"
    result = retrieve(answerer.index, question)
    scores = answerer.lines.best_scores(question, ["fundsachen", "fundraeder"], result.query_terms, result.query_vector)
    assert scores["fundraeder"] > scores["fundsachen"]
    assert answerer.assess(question).retrieval.hits[0].service_id == "fundraeder"


def _hits(*scored: tuple[str, float]) -> list[ServiceHit]:
    return [ServiceHit(service_id, score) for service_id, score in scored]


def test_a_sibling_whose_distinctive_name_words_the_question_lacks_steps_back() -> None:
    names = {
        "perso": {"personalausweis"},
        "verlust": {"verlust", "diebstahl", "personalausweis"},
        "abholung": {"abholung", "abholen", "personalausweis", "reisepass"},
        "hund": {"hund", "steuer"},
    }
    hits = _hits(("verlust", 1.0), ("perso", 0.9), ("abholung", 0.8), ("hund", 0.7))
    weigh_siblings(names, hits, ["perso", "personalausweis", "kosten"])
    scores = {hit.service_id: hit.score for hit in hits}
    assert scores["verlust"] == pytest.approx(1.0 - SIBLING_PENALTY)
    assert scores["abholung"] == pytest.approx(0.8 * (1.0 - SIBLING_PENALTY))
    assert scores["perso"] == 0.9  # no word sets it apart: the plain member
    assert scores["hund"] == 0.7  # no sibling among the candidates: nothing to tell apart

    # the question names the distinction: that member keeps its score
    hits = _hits(("verlust", 1.0), ("perso", 0.9))
    weigh_siblings(names, hits, ["personalausweis", "diebstahl"])
    assert [hit.score for hit in hits] == [1.0, 0.9]


def test_the_member_the_question_names_comes_first_on_munich(munich_index) -> None:
    """On the real catalogue: "anmelden" is the Wohnsitzanmeldung, not "Wohnsitz abmelden".

    Both names share "Wohnsitz"; the question uses the Anmeldung's telling word and none of the
    Abmeldung's. Without the family step the Abmeldung came first here.
    """
    ranking = [hit.service_id for hit in retrieve(munich_index, "Wohnsitz anmelden Unterlagen").hits]
    titles = [munich_index.services[service_id].title for service_id in ranking]
    assert titles[0] == "Wohnsitzanmeldung", titles[:4]


def test_only_catalogue_entries_form_families() -> None:
    """Web pages are named by topic ("Sozialwohnungen"); a catalogue entry by object and variant."""
    from knowledge.models import Section, Service

    page = Service(id="p", title="Sozialwohnungen", source_url="https://example.org/p", summary="Wer bekommt …")
    assert page.is_web_page
    page = page.model_copy(update={"sections": {Section.UEBERBLICK: "Wer bekommt eine Sozialwohnung?"}})
    assert page.is_web_page
    entry = page.model_copy(update={"sections": {Section.GEBUEHREN: "37 Euro"}})
    assert not entry.is_web_page


def test_a_compound_with_a_colloquial_part_also_searches_the_content_s_compound() -> None:
    """ "kfz" means Fahrzeug (synonym table): "Kfz-Schein" is the content's "Fahrzeugschein"."""
    vocabulary = {"fahrzeugschein", "zweitreisepass", "fahrzeug"}
    assert compound_synonyms(["kfzschein"], vocabulary) == ["fahrzeugschein"]
    assert compound_synonyms(["zweitpass"], vocabulary) == ["zweitreisepass"]
    # a compound the content does not use is not invented, nor is a word alone rewritten
    assert compound_synonyms(["kfzsteuer", "kfz", "auto"], vocabulary) == []


def test_the_compound_reaches_the_service_that_spells_it_officially_on_munich(munich_index) -> None:
    """On the real catalogue the Kfz-Schein is the "Fahrzeugschein" of the address change in the papers.

    BM25 is where the compound counts (the vectors read "Kfz-Schein" as it is): without it, the
    Fischereischein and the Personenbeförderungsschein came first on the shared word "Schein".
    """
    question = "Adresse im Kfz-Schein ändern"
    assert "fahrzeugschein" in analyze_query(munich_index, question).terms
    ranking = [hit.service_id for hit in retrieve(munich_index, question, system="bm25").hits]
    assert munich_index.services[ranking[0]].title == "Änderung der Adresse in Fahrzeugpapieren"
