"""The simulation drives the real gateway (knowledge-only mode) and the metrics see its traffic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.simulate import run_simulation
from bot.eventlog.db import events, make_engine, messages
from bot.eventlog.writer import EventWriter
from bot.metrics.compute import Metrics, MetricsQuery
from bot.settings import Settings

pytestmark = pytest.mark.slow  # a simulated day of traffic through the app


def test_simulated_citizens_flow_through_the_real_stack(
    demo_settings, demo_index, redis_url, redis_client, tmp_path: Path
):
    from bot.gateway.app import create_app

    url = f"sqlite:///{tmp_path / 'eventlog.sqlite'}"
    settings = Settings(
        data_dir=demo_settings.data_dir,
        redis_url=redis_url,
        rasa_enabled=False,
        demo_accounts=False,
        database_url=url,
        eventlog_batch_interval_s=0.2,
        rate_limit_per_ip=0,
        rate_limit_per_conversation=0,
    )
    with TestClient(create_app(settings)) as client:
        result = run_simulation("http://testserver", 12, concurrency=1, seed=3, client=client)
        assert client.get("/metrics").status_code == 200
    assert result["conversations"] == 12 and result["errors"] == 0
    engine = make_engine(url)
    EventWriter(redis_client, engine).drain()  # whatever the gateway's writer had not written at shutdown
    with engine.connect() as connection:
        types = dict(connection.execute(sa.select(events.c.type, sa.func.count()).group_by(events.c.type)).all())
        transcript = [r[0] for r in connection.execute(sa.select(messages.c.text))]
    assert types["message_in"] == result["messages"]
    assert types.get("bot_answer", 0) > 0 and types.get("bot_abstain", 0) > 0
    assert types.get("feedback", 0) == result["feedback"]
    assert types.get("handoff_requested", 0) > 0
    assert len(transcript) >= result["messages"]
    today = dt.date.today()
    metrics = Metrics(engine, settings.metrics_timezone, 6.0)
    summary = metrics.summary(metrics.table(MetricsQuery(today - dt.timedelta(days=1), today + dt.timedelta(days=1))))
    assert summary["conversations"] == 12
    assert summary["contained"] + summary["unresolved"] + summary["handoffs"] + summary["callbacks"] == 12
