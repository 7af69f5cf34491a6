"""Simulated citizens and a simulated staff desk against a real gateway process: staff figures appear."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.simulate import run_simulation
from bot.eventlog.db import events, make_engine
from bot.metrics.compute import Metrics, MetricsQuery
from bot.settings import PROJECT_ROOT
from tests.support.stack import Stack

pytestmark = pytest.mark.slow  # a gateway process and a simulated staff desk

PASSWORD = "simulierte-mitarbeiterin"


def test_staff_desk_works_the_queue_through_the_console_api(
    tmp_path: Path, monkeypatch, redis_url: str, demo_index_dir: Path
):
    from tests.conftest import make_settings, seed_index

    data = tmp_path / "data"
    make_settings(data)
    seed_index(demo_index_dir, data)  # the session's demo index: the gateway need not build one
    database = f"sqlite:///{tmp_path / 'events.sqlite'}"
    for name, value in {"BUERGERBOT_DATABASE_URL": database, "BUERGERBOT_RATE_LIMIT_PER_IP": "0",
                        "BUERGERBOT_RATE_LIMIT_PER_CONVERSATION": "0"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "user", "add", "desk", "--display-name", "Frau Simulation",
         "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, capture_output=True,
        env={**os.environ, "BUERGERBOT_REDIS_URL": redis_url, "BUERGERBOT_DATA_DIR": str(data)},
    )  # fmt: skip
    stack = Stack(data_dir=data, redis_url=redis_url, rasa=False).start()
    try:
        result = run_simulation(stack.url, 30, concurrency=3, seed=5, staff=("desk", PASSWORD))
    finally:
        stack.stop()  # the writer flushes to SQL on shutdown
    assert result["errors"] == 0 and result["staff_errors"] == 0
    assert result["staff_taken"] >= 1 and result["staff_taken"] == result["staff_staff_messages"]
    engine = make_engine(database)
    with engine.connect() as connection:
        types = dict(connection.execute(sa.select(events.c.type, sa.func.count()).group_by(events.c.type)).all())
    assert types["handoff_accepted"] == result["staff_taken"]
    assert types["staff_message"] == result["staff_staff_messages"]
    assert types.get("closed", 0) == result["staff_closed"]
    assert types.get("handed_back", 0) == result["staff_handed_back"]
    today = dt.date.today()
    metrics = Metrics(engine, "Europe/Berlin", 6.0)
    summary = metrics.summary(metrics.table(MetricsQuery(today - dt.timedelta(days=1), today + dt.timedelta(days=1))))
    assert summary["conversations"] == 30
    assert summary["handoffs"] >= result["staff_taken"] - result["staff_transferred"]
