"""The `buergerbot` command as a user runs it (real subprocess, real index in a temp data dir)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # the CLI as subprocesses, each opening an index


def _run(args: list[str], data_dir: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUERGERBOT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=600, **kwargs,
    )  # fmt: skip


def test_ask_json(demo_settings, demo_index):
    result = _run(["ask", "--json", "Was kostet ein Personalausweis?"], demo_settings.data_dir)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"answer", "service_id", "sections", "sources", "confidence", "abstained"}
    assert payload["service_id"] == "personalausweis"
    assert payload["sections"] == ["gebuehren"]


def test_eval_json_compares_systems(demo_settings, demo_index, tmp_path: Path):
    questions = tmp_path / "q.jsonl"
    rows = [
        {"question": "Was kostet ein Reisepass?", "service": "reisepass", "expect": "answer"},
        {"question": "Ich habe meinen Führerschein verloren", "service": "fuehrerschein-ersatz", "expect": "answer"},
        {"question": "Wie wird das Wetter morgen?", "service": None, "expect": "abstain"},
        {"question": "Ich will mit einem Menschen reden", "service": None, "expect": "handoff"},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = _run(["eval", "--questions", str(questions), "--json"], demo_settings.data_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 4
    assert set(report["systems"]) == {"hybrid", "bm25", "dense"}
    hybrid = report["systems"]["hybrid"]
    for key in ("hit@1", "hit@5", "mrr", "abstain_precision", "abstain_recall", "p50_ms", "p95_ms"):
        assert key in hybrid
    assert hybrid["hit@1"] == 1.0
    assert hybrid["abstain_recall"] == 1.0


def test_ingest_reports_failures_with_path(tmp_path: Path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    result = _run(["ingest", str(content), "--json"], tmp_path / "data")
    report = json.loads(result.stdout)
    assert report["failed"][0]["path"].endswith("broken.yaml")
    assert report["failed"][0]["line"] is not None
    assert result.returncode == 1  # nothing could be ingested
