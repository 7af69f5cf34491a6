"""Out-of-scope questions get an honest abstention, not a random service; in-scope questions are still answered.

Regression: "Welche Aktien soll ich kaufen?" was answered with the lost-and-found service, because
its only word the content knows ("kaufen") occurs there ("Kaufbeleg") and the confidence model
trusted that lexical match. The scope check (knowledge/confidence.py) compares the question with
the content and with known out-of-scope questions. Apart from the reported sentence, none of the
questions below is in knowledge/data/out_of_scope.txt, so they test generalisation, not recall.
"""

from __future__ import annotations

import pytest

from bot.turns.answers import reply_to, service_payload
from knowledge.answering import MAX_ANSWER_CHARS, Answerer
from knowledge.calibration import NOVELTY, SCOPE_FEATURES, Calibrator
from knowledge.confidence import synthetic_questions
from knowledge.out_of_scope import out_of_scope_questions
from knowledge.retrieval import retrieve
from wording.texts import UNSURE_LEAD_DE, UNSURE_LEAD_EN

INVESTMENT_AND_PURCHASE_ADVICE = [
    "Welche Aktien soll ich kaufen?",  # the reported question (also a calibration example)
    "Lohnt es sich, jetzt Bitcoin zu kaufen?",
    "In welchen ETF soll ich mein Geld anlegen?",
    "Soll ich mein Erspartes in Gold investieren?",
    "Welche Kryptowährung soll ich kaufen?",
    "Soll ich Aktien von Siemens verkaufen?",
    "Welche Fonds kann ich kaufen?",
    "Wie lege ich mein Geld am besten an?",
    "Welches Smartphone soll ich kaufen?",
    "Which stocks should I buy?",
    "Which shares should I sell?",
    "Should I invest in crypto right now?",
    "Is it a good time to buy gold?",
    "What is the best savings account?",
]

IN_SCOPE = [  # several use the same words as the questions above ("kaufen", "Kaufbeleg", "Geld")
    ("Ich habe ein gebrauchtes Auto gekauft, wie melde ich es an?", "kfz-zulassung"),
    ("Wo kann ich meinen Kaufbeleg für eine Fundsache vorlegen?", "fundsachen"),
    ("Ich habe meinen Geldbeutel in der U-Bahn verloren, wo kann ich nachfragen?", "fundsachen"),
    ("Was kostet ein Personalausweis?", "personalausweis"),
    ("Habe ich Anspruch auf Wohngeld?", "wohngeld"),
    ("Wann hat der Wertstoffhof geöffnet?", "wertstoffhof"),  # phrased like "Welche Museen haben … geöffnet?"
    ("How much does a passport cost?", "reisepass"),
    ("Where can I apply for a residence permit?", "aufenthaltstitel"),
]


def test_the_new_questions_are_not_calibration_examples():
    known = {q.casefold() for q in out_of_scope_questions()}
    assert [q for q in INVESTMENT_AND_PURCHASE_ADVICE[1:] if q.casefold() in known] == []


@pytest.mark.parametrize("question", INVESTMENT_AND_PURCHASE_ADVICE)
def test_investment_and_purchase_advice_is_not_answered_with_a_service(answerer, question):
    answer = answerer.answer(question)
    assert answer.abstained, f"answered with {answer.service_id} ({answer.confidence:.3f})"
    assert answer.service_id is None and answer.sources == []
    assert answer.reason == "out_of_scope"
    reply = reply_to(answerer, question)  # the dialogue and degraded mode: no service buttons either
    assert reply.kind == "abstain" and reply.buttons == []


@pytest.mark.parametrize(("question", "service"), IN_SCOPE)
def test_in_scope_questions_are_still_answered(answerer, question, service):
    answer = answerer.answer(question)
    assert not answer.abstained, f"abstained ({answer.reason}, {answer.confidence:.3f})"
    assert answer.service_id == service


def test_scope_model_is_fitted_on_the_content_and_survives_save_and_load(answerer, tmp_path):
    calibrator = answerer.index.calibrator
    assert calibrator.scope_floor is not None and calibrator.scope_weights, "fit() must fit the scope model"
    assert set(calibrator.scope_weights) == set(SCOPE_FEATURES)
    path = tmp_path / "calibration.json"
    calibrator.save(path)
    loaded = Calibrator.load(path, calibrator.retrieval)
    assert loaded is not None and loaded.scope_floor == pytest.approx(calibrator.scope_floor)
    assert loaded.scope_weights == pytest.approx(calibrator.scope_weights)


@pytest.mark.slow  # answers every question of the content
def test_scope_bar_keeps_almost_all_of_the_contents_own_questions(answerer):
    """The bar is set so that at most SCOPE_PERCENTILE % of the synthetic in-scope questions fall below it."""
    index = answerer.index
    kept = 0
    pairs = synthetic_questions(index)[:120]
    for question, _service in pairs:
        features = retrieve(index, question).features
        kept += not index.calibrator.off_topic(features, confidence=0.0)
    assert kept / len(pairs) >= 0.9


def test_scope_check_spares_confident_answers_and_needs_the_feature():
    calibrator = Calibrator(weights={}, bias=0.0, scope_weights={NOVELTY: 1.0}, scope_bias=0.0, scope_floor=-0.2)
    far = {NOVELTY: -0.5}
    assert calibrator.off_topic(far, confidence=0.3)
    assert not calibrator.off_topic(far, confidence=0.95)  # names a service: answered anyway
    assert not calibrator.off_topic({NOVELTY: -0.1}, confidence=0.3)
    assert not calibrator.off_topic({}, confidence=0.3)  # BM25-only retrieval has no novelty
    assert not Calibrator(weights={}, bias=0.0).off_topic(far, confidence=0.3)  # no scope model fitted: check off


def test_in_scope_questions_below_the_threshold_get_the_likeliest_service_as_a_guess(answerer):
    """Low confidence but in scope: the best service, said to be a guess, with the runners-up and a human."""
    unsure = Answerer(answerer.index)
    unsure.threshold = 1.01  # every confidence is below it
    answer = unsure.answer("Was kostet ein Personalausweis?")
    assert not answer.abstained and answer.reason == "unsure"
    assert answer.service_id == "personalausweis" and answer.sources
    assert answer.text.startswith(UNSURE_LEAD_DE)
    # the runner-up is named, or quoted with its own lines (test_extraction: the runner-up's quote)
    runner_up = unsure.index.services[answer.alternatives[0]].title
    assert "Vielleicht meinen Sie auch" in answer.text and runner_up in answer.text and "Mitarbeiter" in answer.text
    reply = reply_to(unsure, "Was kostet ein Personalausweis?")  # the dialogue: the runners-up as buttons
    assert reply.kind == "answer" and reply.answer is not None and reply.answer.reason == "unsure"
    assert [b.payload for b in reply.buttons] == [service_payload(s) for s in answer.alternatives[:2]]
    assert reply.guess and reply.topic is None  # a guess does not become the conversation's service
    assert reply.service_id == "personalausweis"  # but it is shown with its service and sources
    off_topic = unsure.answer("Welche Aktien soll ich kaufen?")  # the scope check still turns this away
    assert off_topic.abstained and off_topic.reason == "out_of_scope"


def test_an_unsure_english_answer_is_in_english(answerer):
    unsure = Answerer(answerer.index)
    unsure.threshold = 1.01
    answer = unsure.answer("How much does a passport cost?")
    assert answer.reason == "unsure" and answer.text.startswith(UNSURE_LEAD_EN)


@pytest.mark.parametrize(
    "question",
    [
        "Wie lange gilt der internationale Führerschein?",
        "Brauche ich für die Reise mit meinem Hund ein Gesundheitszeugnis?",
        "Was kostet ein Personalausweis für Erwachsene?",
        "Wann hat das Fundbüro geöffnet?",
        # the best line is one 430-character bullet: the runners-up are then left to the buttons
        "Kann ich mir als Beamter meine Rentenbeiträge erstatten lassen?",
    ],
)
def test_a_guess_on_the_real_catalogue_stays_as_short_as_a_plain_answer(munich_answerer, question: str):
    """The hedge, the runners-up and the offer of a human take room: the quote gets shorter instead."""
    unsure = Answerer(munich_answerer.index)
    unsure.threshold = 1.01  # every confidence is below it: each question becomes a guess
    answer = unsure.answer(question)
    assert answer.reason == "unsure" and answer.text.startswith(UNSURE_LEAD_DE)
    assert len(answer.text) <= MAX_ANSWER_CHARS, answer.text
    assert "Quelle: " in answer.text
