"""`eval --llm`: extractive and LLM-written answers to the same questions, side by side (fake model process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from knowledge.evaluation import EvalQuestion
from knowledge.llm import AnswerWriter
from knowledge.llm_eval import compare_writer
from tests.support.fake_llm import FakeLlm

QUESTION = "Was kostet ein Reisepass?"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLlm]:
    with FakeLlm() as server:
        yield server


def test_comparison_shows_a_fact_the_model_dropped(answerer, demo_settings, llm: FakeLlm):
    extractive = answerer.answer(QUESTION)
    fee = re.search(r"\d+,\d\d Euro", extractive.text)
    assert fee, extractive.text
    questions = [
        EvalQuestion(QUESTION, "reisepass", "answer", fact=fee.group(0)),
        EvalQuestion("Wie wird das Wetter morgen?", None, "abstain"),
        EvalQuestion("Ich will mit einem Menschen reden", None, "handoff"),
    ]
    llm.behave(reply="Einen Reisepass beantragen Sie persönlich.")  # true, grounded, but without the fee
    writer = AnswerWriter(demo_settings.model_copy(update={"llm_url": llm.url}))
    report = compare_writer(answerer, writer, questions)
    assert (report["n"], report["facts"]) == (2, 1)
    assert report["systems"]["extractive"]["fact_accuracy"] == 1.0
    assert report["systems"]["llm"]["fact_accuracy"] == 0.0
    assert (report["llm_changed"], report["fact_lost"], report["fact_gained"]) == (1, 1, 0)
    assert report["writer"] == {"written": 1}, "the abstention never reached the model"
    assert report["systems"]["llm"]["median_chars"] < report["systems"]["extractive"]["median_chars"]
    assert len(llm.requests) == 1


def _eval_cli(data_dir: Path, questions: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", "--questions", str(questions), "--json", "--llm"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "BUERGERBOT_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow  # the CLI as a subprocess
def test_eval_llm_prints_both_columns(answerer, demo_settings, demo_index, llm: FakeLlm, tmp_path: Path):
    fee = re.search(r"\d+,\d\d Euro", answerer.answer(QUESTION).text)
    assert fee
    questions = tmp_path / "q.jsonl"
    rows = [
        {"question": QUESTION, "service": "reisepass", "expect": "answer", "fact": fee.group(0)},
        {"question": "Wie wird das Wetter morgen?", "service": None, "expect": "abstain"},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    llm.behave(reply=f"Ein Reisepass kostet {fee.group(0)}.")
    result = _eval_cli(demo_settings.data_dir, questions, BUERGERBOT_LLM_URL=llm.url)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["systems"]["hybrid"]["hit@1"] == 1.0, "the usual figures stay"
    comparison = report["llm"]
    assert comparison["writer"] == {"written": 1} and comparison["llm_changed"] == 1
    assert comparison["systems"]["extractive"]["fact_accuracy"] == comparison["systems"]["llm"]["fact_accuracy"] == 1.0
    assert report["fact_accuracy"] == 1.0 and len(llm.requests) == 1, "the usual figures are the extractive ones"


@pytest.mark.slow  # the CLI as a subprocess
def test_eval_llm_without_an_endpoint_says_what_is_missing(demo_settings, demo_index, tmp_path: Path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": QUESTION, "service": "reisepass"}), encoding="utf-8")
    result = _eval_cli(demo_settings.data_dir, questions, BUERGERBOT_LLM_URL="")
    assert result.returncode == 2 and "BUERGERBOT_LLM_URL" in result.stderr
