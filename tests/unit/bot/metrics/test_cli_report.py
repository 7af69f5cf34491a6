"""`buergerbot db upgrade / report / retention` as a user runs them (real subprocess, real Redis and SQL)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.conversation.store import ConversationStore
from bot.settings import PROJECT_ROOT
from tests.unit.bot.metrics.scenario import DAY1, DAY2, scenario_events

pytestmark = pytest.mark.slow  # the CLI as subprocesses, about 13 s per test


def _run(args: list[str], tmp_path: Path, db_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BUERGERBOT_DATA_DIR": str(tmp_path / "data"),
        "BUERGERBOT_DATABASE_URL": db_url,
        "BUERGERBOT_REDIS_URL": redis_url,
        "BUERGERBOT_MINUTES_PER_SERVICE": '{"personalausweis": 10}',
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_report_flushes_redis_and_writes_csv_and_html(
    redis_url: str, redis_client, db_url: str, tmp_path: Path
) -> None:
    assert _run(["db", "upgrade"], tmp_path, db_url, redis_url).returncode == 0
    store = ConversationStore(redis_client)
    for event in scenario_events():  # still in Redis: the report writes them first
        store.emit(event)
    period = ["--from", DAY1.isoformat(), "--to", DAY2.isoformat()]
    result = _run(
        ["report", *period, "--format", "csv", "--output", str(tmp_path / "r.csv")], tmp_path, db_url, redis_url
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader((tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert ["gesamt", f"{DAY1}..{DAY2}", "conversations", "8"] in rows
    assert ["gesamt", f"{DAY1}..{DAY2}", "minutes_saved", "20.0"] in rows
    result = _run(["report", *period, "--format", "html", "-o", str(tmp_path / "r.html")], tmp_path, db_url, redis_url)
    assert result.returncode == 0, result.stderr
    assert "Bericht für den Stadtrat" in (tmp_path / "r.html").read_text(encoding="utf-8")
    bad = _run(
        ["report", "--from", "2026-13-01", "--format", "csv", "-o", str(tmp_path / "x.csv")],
        tmp_path,
        db_url,
        redis_url,
    )
    assert bad.returncode != 0
    result = _run(["retention", "--days", "1"], tmp_path, db_url, redis_url)
    assert result.returncode == 0 and "8 zusammengefasst" in result.stderr, result.stderr
