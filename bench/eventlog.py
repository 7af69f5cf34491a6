"""Event-log figures: ingestion throughput through the real writer, and report time for 1M events.

Usage: python -m bench.eventlog [--ingest 100000] [--report-events 1000000] [--backends sqlite,postgresql]

1. Ingestion: N events are XADDed to the Redis stream `bb:events` (Redis database 14, flushed),
   then the real EventWriter drains them into a fresh SQLite file / PostgreSQL database in batches
   of BUERGERBOT_EVENTLOG_BATCH_SIZE; events/s = N / drain time (commit and XACK included).
2. Report: one million synthetic events (realistic conversations over 90 days) are bulk-loaded
   directly into the table (fine for a bench), then the full council report view is computed and
   rendered to HTML (all metrics, trend, services, content gaps), timed end to end.
PostgreSQL: 127.0.0.1:5432, user postgres, a temporary database dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
import sqlalchemy as sa

from bench.machine import machine_info, peak_rss_mb
from bench.simulate import UNCOVERED
from bot.conversation.events import Event, EventType
from bot.conversation.store import ConversationStore
from bot.eventlog.db import events, make_engine, upgrade
from bot.eventlog.writer import EventWriter, event_row
from bot.metrics.compute import Metrics, MetricsQuery
from bot.metrics.render import render_report
from bot.metrics.service import build_view
from bot.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/14"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
SERVICES = [
    "personalausweis", "reisepass", "anmeldung-wohnsitz", "kfz-zulassung", "briefwahl", "hundesteuer",
    "meldebescheinigung", "fuehrungszeugnis", "wohngeld", "sperrmuell", "geburtsurkunde", "kita-platz",
]  # fmt: skip
CHANNELS = ["web", "web", "web", "web", "telegram", "whatsapp", "matrix", "rest"]
TEAMS = ["buergerbuero", "kfz", "auslaender", "standesamt"]


def synthetic_conversation(rng: random.Random, cid: str, start: float) -> list[Event]:
    """One plausible conversation: questions and answers, sometimes feedback, handoff, staff work."""
    channel, service = rng.choice(CHANNELS), rng.choices(SERVICES, weights=range(len(SERVICES), 0, -1))[0]
    t = start
    out: list[Event] = []
    for _turn in range(rng.choice((1, 1, 2, 2, 3))):
        out.append(
            Event(conversation_id=cid, type=EventType.MESSAGE_IN, actor="citizen", ts=t, payload={"channel": channel})
        )
        t += rng.uniform(0.5, 3)
        if rng.random() < 0.15:
            q = rng.choice(UNCOVERED)
            out.append(
                Event(
                    conversation_id=cid, type=EventType.BOT_ABSTAIN, ts=t, payload={"reason": "abstain", "question": q}
                )
            )
        else:
            out.append(
                Event(
                    conversation_id=cid,
                    type=EventType.BOT_ANSWER,
                    ts=t,
                    payload={"service": service, "confidence": 0.6},
                )
            )
        t += rng.uniform(10, 90)
    if rng.random() < 0.3:
        out.append(Event(conversation_id=cid, type=EventType.FEEDBACK, actor="citizen", ts=t,
                         payload={"helpful": rng.random() < 0.8}))  # fmt: skip
    if rng.random() < 0.18:
        team = rng.choice(TEAMS)
        out.append(Event(conversation_id=cid, type=EventType.HANDOFF_REQUESTED, actor="citizen", ts=t,
                         payload={"reason": rng.choice(["requested", "requested", "repeated_failure"]),
                                  "service": service, "team": team, "channel": channel}))  # fmt: skip
        if rng.random() < 0.1:
            out.append(Event(conversation_id=cid, type=EventType.ABANDONED, actor="system", ts=t + 1800,
                             payload={"waited_s": 1800, "team": team}))  # fmt: skip
        else:
            t += rng.uniform(20, 600)
            out.append(Event(conversation_id=cid, type=EventType.HANDOFF_ACCEPTED, actor="staff:x", ts=t,
                             payload={"staff": "x", "team": team}))  # fmt: skip
            for _ in range(rng.randint(1, 3)):
                t += rng.uniform(20, 120)
                out.append(Event(conversation_id=cid, type=EventType.STAFF_MESSAGE, actor="staff:x", ts=t, payload={}))
            out.append(Event(conversation_id=cid, type=EventType.CLOSED, actor="staff:x", ts=t + 30,
                             payload={"by": "staff", "team": team}))  # fmt: skip
    return out


def synthetic_events(n: int, first_day: dt.date, days: int, seed: int = 7) -> list[Event]:
    rng = random.Random(seed)
    base = dt.datetime.combine(first_day, dt.time(7, 0)).timestamp()
    out: list[Event] = []
    i = 0
    while len(out) < n:
        start = base + rng.randrange(days) * 86400 + rng.uniform(0, 12 * 3600)
        out.extend(synthetic_conversation(rng, f"bench-{i}", start))
        i += 1
    return out[:n]


def new_backend(kind: str, tmp: Path) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.sqlite'}", None
    name = f"bb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name


def drop_backend(name: object) -> None:
    if name:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_ingest(kind: str, n: int, batch_size: int, tmp: Path) -> dict[str, object]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = ConversationStore(client)
    sample = synthetic_events(n, dt.date(2026, 11, 1), 30)
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for k, event in enumerate(sample, 1):
        pipe.xadd("bb:events", {"event": event.model_dump_json()})
        if k % 5000 == 0:
            pipe.execute()
    pipe.execute()
    xadd_s = time.perf_counter() - started
    url, name = new_backend(kind, tmp)
    engine = make_engine(url)
    upgrade(engine)
    writer = EventWriter(client, engine, batch_size=batch_size)
    started = time.perf_counter()
    written = writer.drain()
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    del store
    engine.dispose()
    drop_backend(name)
    client.flushdb()
    return {
        "backend": kind, "events": n, "written": written, "stored": stored, "batch_size": batch_size,
        "xadd_events_per_s": round(n / xadd_s), "ingest_s": round(seconds, 2),
        "events_per_s": round(n / seconds),
    }  # fmt: skip


def bench_report(kind: str, n: int, tmp: Path) -> dict[str, object]:
    first = dt.date(2026, 8, 1)
    url, name = new_backend(kind, tmp)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    chunk: list[dict[str, object]] = []
    insert = events.insert()
    sample = synthetic_events(n, first, 90)
    with engine.begin() as connection:
        for k, event in enumerate(sample):
            chunk.append(event_row(f"bench-{k}", event.model_dump_json()))
            if len(chunk) == 20_000:
                connection.execute(insert, chunk)
                chunk.clear()
        if chunk:
            connection.execute(insert, chunk)
    load_s = time.perf_counter() - started
    if kind == "postgresql":
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE bb_events"))
    metrics = Metrics(engine, "Europe/Berlin", 6.0, {"personalausweis": 8.0})
    settings = Settings(data_dir=tmp)
    started = time.perf_counter()
    view = build_view(metrics, MetricsQuery(first, first + dt.timedelta(days=89)), settings)
    html = render_report(view, dt.datetime.now())
    report_s = time.perf_counter() - started
    (tmp / f"report-{kind}.html").write_text(html, encoding="utf-8")
    if kind == "sqlite":  # keep one for looking at the weekly charts of a long period
        Path("/tmp/bench-eventlog-report.html").write_text(html, encoding="utf-8")
    engine.dispose()
    drop_backend(name)
    return {
        "backend": kind, "events": n, "bulk_load_s": round(load_s, 1), "report_s": round(report_s, 2),
        "conversations": view["summary"]["conversations"], "html_kb": round(len(html) / 1024),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=int, default=100_000, help="events for the ingestion figure")
    parser.add_argument("--report-events", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batch-size", type=int, default=Settings().eventlog_batch_size)
    args = parser.parse_args()
    print(json.dumps({"machine": machine_info(), "settings": {"batch_size": args.batch_size}}, indent=1))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in args.backends.split(","):
            if args.ingest:
                print(json.dumps({"ingest": bench_ingest(kind, args.ingest, args.batch_size, tmp)}), flush=True)
            if args.report_events:
                print(json.dumps({"report": bench_report(kind, args.report_events, tmp)}), flush=True)
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb())}))


if __name__ == "__main__":
    main()
