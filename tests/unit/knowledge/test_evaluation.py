"""`buergerbot eval` scores what the product says (facts), counts equally right services (`also`),
reports the English subset and writes per-question details; `--through bot` waits out the real
gateway's rate limit and reports its errors as they are (issue 13, item 4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli_eval import BotEvalError, evaluate_through_bot
from bot.settings import PROJECT_ROOT, Settings
from knowledge.evaluation import EvalQuestion, contains_fact, evaluate, load_questions
from tests.support.app_server import served_gateway
from tests.support.stack import free_port
from wording.texts import ABSTAIN_DE


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUERGERBOT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_old_question_files_load_as_before_and_new_fields_are_read(tmp_path: Path) -> None:
    new_line = {"question": "Fee?", "service": "a", "expect": "answer", "fact": "37 Euro", "also": ["b", "c"]}
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"question": "Was kostet ein Reisepass?", "service": "reisepass", "expect": "answer"},
            {"question": "Wetter?", "service": None, "expect": "abstain"},
            {**new_line, "lang": "en"},
        ],
    )
    old, abstain, new = load_questions(path)
    assert old == EvalQuestion("Was kostet ein Reisepass?", "reisepass", "answer")
    assert (old.fact, old.also, old.lang, old.gold, old.english) == (None, (), None, ("reisepass",), False)
    assert abstain.gold == ()
    assert (new.fact, new.also, new.gold, new.english) == ("37 Euro", ("b", "c"), ("a", "b", "c"), True)


def test_a_fact_is_compared_case_insensitively_and_whitespace_normalised() -> None:
    answer = "Gebühren:\n- 37,00 Euro für Antragstellerinnen\u00a0und Antragsteller ab 24 Jahren"
    assert contains_fact(answer, "37,00 EURO für antragstellerinnen und  Antragsteller")
    assert contains_fact(answer, "Euro für\nAntragstellerinnen")
    assert contains_fact("Bürger\u00adbüro am Marien\u200bplatz 8", "Bürgerbüro am Marienplatz")
    assert not contains_fact(answer, "22,80 Euro")


@pytest.mark.slow  # the CLI as a subprocess
def test_eval_scores_answers_also_ids_english_and_writes_details(demo_settings, demo_index, tmp_path: Path) -> None:
    """Gold ids are taken from what the product picks, so this tests the scoring, not the engine's choice."""
    from knowledge.answering import Answerer

    answerer = Answerer(demo_index)
    fee_question = "Was kostet ein Personalausweis?"
    answer = answerer.answer(fee_question)
    assert not answer.abstained and answer.service_id
    picked = answer.service_id
    passport = answerer.assess("Was kostet ein Reisepass?").retrieval.hits[0].service_id
    english_top = answerer.assess("How much is a passport?").retrieval.hits[0].service_id
    # a piece of what the product said, in other case and spacing: found
    found = "  ".join(answer.text.split()[1:6]).upper()
    rows = [
        {"question": fee_question, "service": picked, "expect": "answer", "fact": found},
        {"question": fee_question, "service": picked, "expect": "answer", "fact": "Diesen Satz gibt es nicht"},
        # the gold is a near-duplicate; the service the product ranks first is listed in `also`: a hit
        {"question": "Was kostet ein Reisepass?", "service": "kein-dienst", "also": [passport], "expect": "answer"},
        {"question": "How much is a passport?", "service": english_top, "expect": "answer", "lang": "en"},
        # an abstention never counts as the fact, even when the fact happens to be in the abstention text
        {"question": "Wie wird das Wetter morgen?", "service": None, "expect": "abstain", "fact": ABSTAIN_DE[:40]},
        {"question": "Ich will mit einem Menschen reden", "service": None, "expect": "handoff"},
    ]
    questions = _write(tmp_path / "q.jsonl", rows)
    details = tmp_path / "out" / "details.jsonl"
    result = _cli(["eval", "--questions", str(questions), "--json", "--details", str(details)], demo_settings.data_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 6
    assert report["facts"] == 3 and report["fact_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    hybrid = report["systems"]["hybrid"]
    assert hybrid["hit@1"] == 1.0 and hybrid["mrr"] == 1.0  # the Reisepass line counts through `also`
    assert hybrid["abstain_recall"] == 1.0
    assert set(report["systems"]) == {"hybrid", "bm25", "dense"}
    english = report["english"]
    assert english["n"] == 1 and english["systems"]["hybrid"] == {"hit@1": 1.0, "hit@5": 1.0, "mrr": 1.0}

    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [line["question"] for line in lines] == [r["question"] for r in rows]
    first, missing, also, english_line, weather, handoff = lines
    assert first["expected"] == [picked] and first["answer_service"] == picked
    assert len(first["ranking"]) <= 5 and first["answer"] == answer.text and first["abstained"] is False
    assert first["verdict"] == {"hit@1": True, "hit@5": True, "fact_found": True, "abstain_correct": True}
    assert missing["verdict"]["fact_found"] is False
    assert also["expected"] == ["kein-dienst", passport] and also["verdict"]["hit@1"] is True
    assert english_line["lang"] == "en" and english_line["verdict"]["fact_found"] is None
    assert weather["abstained"] is True
    assert weather["verdict"] == {"hit@1": None, "hit@5": None, "fact_found": False, "abstain_correct": True}
    assert handoff["verdict"]["abstain_correct"] is None


def test_eval_output_without_details_keeps_its_figures(answerer) -> None:
    questions = [EvalQuestion("Was kostet ein Reisepass?", "reisepass", "answer")]
    result = evaluate(answerer, questions)
    assert result["systems"]["hybrid"]["hit@1"] == 1.0
    assert result["facts"] == 0 and result["english"]["n"] == 0


def test_eval_counts_how_often_an_unhedged_answer_is_about_a_right_service(answerer) -> None:
    questions = [
        EvalQuestion("Was kostet ein Reisepass?", "reisepass", "answer"),
        EvalQuestion("Was kostet ein Reisepass?", "kein-dienst", "answer"),  # a plain answer about a wrong service
        EvalQuestion("Wie wird das Wetter morgen?", None, "abstain"),  # turned away: not an answer
        EvalQuestion("Ich will mit einem Menschen reden", None, "handoff"),  # not scored
    ]
    result = evaluate(answerer, questions)
    assert (result["sure_answers"], result["sure_precision"], result["guesses"]) == (2, 0.5, 0)
    threshold = answerer.threshold
    answerer.threshold = 1.0  # nothing is sure enough: every in-scope answer is introduced as a guess
    try:
        hedged = evaluate(answerer, questions)
    finally:
        answerer.threshold = threshold
    assert (hedged["sure_answers"], hedged["sure_precision"], hedged["guesses"]) == (0, 0.0, 2)


@pytest.fixture(scope="module")
def limited_gateway(demo_settings: Settings, demo_index: object, module_redis_url: str) -> Iterator[str]:
    """The real gateway app over HTTP (knowledge-only) with its real Redis rate limiter: 3 requests per 2 s per IP."""
    settings = Settings(
        data_dir=demo_settings.data_dir,
        redis_url=module_redis_url,
        rasa_enabled=False,
        demo_accounts=False,
        port=free_port(),
        rate_limit_per_ip=3,
        rate_limit_window_s=2,
    )
    with served_gateway(settings) as url:
        yield url


@pytest.mark.slow  # waits out a real rate limit
def test_through_bot_waits_out_the_rate_limit_and_scores_every_question(limited_gateway: str, answerer) -> None:
    asked = [
        "Was kostet ein Reisepass?",
        "Was kostet ein Personalausweis?",
        "Ich habe meinen Führerschein verloren",
        "Wo melde ich meinen Wohnsitz an?",
        "Wann muss ich mich nach dem Umzug ummelden?",
    ]
    picked = [answerer.answer(q).service_id for q in asked]  # the same index in process: gold = what it answers
    assert all(picked)
    questions = [
        EvalQuestion(asked[0], "kein-dienst", "answer", also=(str(picked[0]),)),  # counts through `also`
        *(EvalQuestion(q, service, "answer") for q, service in zip(asked[1:], picked[1:], strict=True)),
        EvalQuestion("Wie wird das Wetter morgen?", None, "abstain"),
    ]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    figures = evaluate_through_bot(limited_gateway, questions, sleep=sleep)
    assert figures["rate_limit_retries"] >= 1 and waits  # 7 requests (health + 6) against 3 per 2 s
    assert all(1 <= w <= 2 for w in waits)  # exactly what Retry-After said, whole seconds within the window
    assert figures["answered_share"] == 1.0 and figures["hit@1"] == 1.0  # `also` counts for the first one
    assert figures["abstain_recall"] == 1.0


@pytest.mark.slow  # the CLI as a subprocess against a gateway
def test_through_bot_reports_the_gateways_error_as_it_is(limited_gateway: str, demo_settings, tmp_path: Path) -> None:
    time.sleep(2.1)  # a fresh rate-limit window
    with pytest.raises(BotEvalError) as caught:
        evaluate_through_bot(limited_gateway, [EvalQuestion("Pass " * 1000, "reisepass", "answer")])
    assert caught.value.status_code == 422 and "422" in str(caught.value)
    questions = _write(tmp_path / "long.jsonl", [{"question": "Pass " * 1000, "service": "reisepass"}])
    time.sleep(2.1)
    result = _cli(["eval", "--through", "bot", "--url", limited_gateway, "--questions", str(questions)], tmp_path)
    assert result.returncode == 2
    assert "422" in result.stderr and "antwortete mit einem Fehler" in result.stderr
    assert "nicht erreichbar" not in result.stderr
    nobody = f"http://127.0.0.1:{free_port()}"
    result = _cli(["eval", "--through", "bot", "--url", nobody, "--questions", str(questions)], tmp_path)
    assert result.returncode == 2 and "nicht erreichbar" in result.stderr
