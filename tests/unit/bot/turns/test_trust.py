"""Answers a citizen must be able to trust (issue: context leaks, typos, "Ausweis verloren"), on the
shipped Munich catalogue, through the same decision function Rasa's action and degraded mode use."""

from __future__ import annotations

import pytest

from bot.handoff.teams import load_teams
from bot.turns.answers import reply_to

FAHRZEUG_ABMELDEN = "dldb-1064305"


@pytest.mark.parametrize("typo", ["wie melde ich mein audo ab", "wie melde ich mein auot ab"])
def test_a_typo_keeps_the_question_in_its_service_family(munich_answerer, typo: str):
    reply = reply_to(munich_answerer, typo)
    # an answer, or the question back between "Fahrzeug abmelden" and "… ohne Zulassungsbescheinigung I",
    # which both fit: either way every service offered is a vehicle service of the Kfz team
    assert reply.kind in ("answer", "clarify"), reply.text
    offered = [reply.service_id] if reply.kind == "answer" else reply.options
    assert offered and all(offered)
    for service_id in offered:
        service = munich_answerer.index.services[service_id]
        assert "Fahrzeug" in service.title, service.title  # not "Wohnsitz abmelden"
        assert load_teams().team_for(service) == "kfz"  # so a handoff reaches the right team


@pytest.mark.parametrize("unrelated", ["Welche Aktien soll ich kaufen?", "Und welche Aktien soll ich kaufen?"])
def test_an_unrelated_question_does_not_inherit_the_conversation_service(munich_answerer, unrelated: str):
    reply = reply_to(munich_answerer, unrelated, context_service=FAHRZEUG_ABMELDEN)
    assert reply.kind in ("abstain", "refuse"), reply.text
    assert reply.service_id is None


def test_a_real_follow_up_still_uses_the_conversation_service(munich_answerer):
    reply = reply_to(munich_answerer, "Und was kostet das?", context_service=FAHRZEUG_ABMELDEN)
    assert reply.kind == "answer" and reply.service_id == FAHRZEUG_ABMELDEN
    assert "Euro" in reply.text


def test_lost_id_card_gets_how_to_report_the_loss(munich_answerer):
    reply = reply_to(munich_answerer, "Ausweis verloren, was tun?")
    assert reply.kind == "answer"
    assert munich_answerer.index.services[reply.service_id].title == "Verlust oder Diebstahl Personalausweis"
    assert "116 116" in reply.text  # block the online function: the first thing to do


def test_an_english_question_reaches_the_german_service_through_the_word_table(munich_answerer):
    """ "bicycle", "found", "pick up" are no words of the German catalogue: the English-German table
    learned from OMoS-QA's parallel training pages gives BM25 and the confidence model "Fahrrad",
    "finden", "abholen" (without it the question abstained, confidence 0.01)."""
    answer = munich_answerer.answer("Someone found my bicycle? Where can I pick it up?")
    assert not answer.abstained
    assert "Fahrrad" in munich_answerer.index.services[answer.service_id].title
