"""The event-log writer through real Redis streams into SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.conversation.store import ConversationStore, Message
from bot.eventlog.db import events, make_engine, messages
from bot.eventlog.writer import GROUP, EventWriter
from tests.unit.bot.conftest import create_pg_database, drop_pg_database, pg_url
from tests.unit.bot.metrics.scenario import scenario_events


def _counts(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        n_events = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
        distinct = connection.execute(sa.select(sa.func.count(sa.distinct(events.c.stream_id)))).scalar_one()
        n_messages = connection.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one()
    return n_events, distinct, n_messages


def _emit_all(store: ConversationStore) -> int:
    scenario = scenario_events()
    for event in scenario:
        store.emit(event)
    return len(scenario)


def test_writer_stores_events_and_redacted_transcripts(redis_client, engine) -> None:
    store = ConversationStore(redis_client)
    n = _emit_all(store)
    store.append(Message(conversation_id="c1", role="citizen", text="Ich heiße Anna Schmidt, Tel. 0171-2345678"))
    store.append(Message(conversation_id="c1", role="bot", text="Die Gebühr beträgt 37 Euro."))
    writer = EventWriter(redis_client, engine, batch_size=7)
    assert writer.drain() == n + 2
    assert _counts(engine) == (n, n, 2)
    assert writer.pending() == 0
    with engine.connect() as connection:
        texts = [r[0] for r in connection.execute(sa.select(messages.c.text).order_by(messages.c.seq))]
        handoff = connection.execute(
            sa.select(events.c.team, events.c.detail, events.c.channel).where(
                events.c.conversation_id == "c4", events.c.type == "handoff_requested"
            )
        ).one()
    assert texts == ["Ich heiße [NAME], Tel. [TELEFON]", "Die Gebühr beträgt 37 Euro."]
    assert tuple(handoff) == ("buergerbuero", "repeated_failure", "web")


def test_crash_between_commit_and_ack_does_not_duplicate(redis_client, engine) -> None:
    store = ConversationStore(redis_client)
    n = _emit_all(store)
    crashed = EventWriter(redis_client, engine, batch_size=1000, consumer="crashed")
    crashed.ensure_groups()
    entries = crashed._read(None)
    crashed.ensure_schema()
    crashed._write(entries)  # committed, but the process dies before XACK
    assert crashed.pending() == n
    successor = EventWriter(redis_client, engine, batch_size=10, claim_idle_s=0.001, consumer="successor")
    assert successor.drain() == n  # claims the dead writer's entries (XAUTOCLAIM) and writes them again
    assert successor.pending() == 0
    assert _counts(engine) == (n, n, 0)


def test_two_writers_share_the_work_without_duplicates(redis_client, engine) -> None:
    store = ConversationStore(redis_client)
    n = _emit_all(store)
    a = EventWriter(redis_client, engine, batch_size=5, consumer="a")
    b = EventWriter(redis_client, engine, batch_size=5, consumer="b")
    a.ensure_groups()
    written = 0
    for _ in range(50):
        written += a.run_once() + b.run_once()
    assert written == n
    assert a.stats.written > 0 and b.stats.written > 0
    assert _counts(engine) == (n, n, 0)


@pytest.mark.slow  # waits for the writer's retries
def test_sqlite_down_events_stay_in_redis_until_it_is_back(redis_client, tmp_path) -> None:
    directory = tmp_path / "not-yet-mounted"
    engine = make_engine(f"sqlite:///{directory / 'eventlog.sqlite'}")
    _database_down_then_back(redis_client, engine, bring_back=lambda: directory.mkdir())


@pytest.mark.slow  # waits for the writer's retries
def test_postgresql_down_events_stay_in_redis_until_it_is_back(redis_client, pg_database) -> None:
    name = f"{pg_database}_late"
    engine = make_engine(pg_url(name))  # the database does not exist yet: connections fail
    try:
        _database_down_then_back(redis_client, engine, bring_back=lambda: create_pg_database(name))
    finally:
        engine.dispose()
        drop_pg_database(name)


def _database_down_then_back(redis_client, engine: sa.Engine, bring_back) -> None:
    store = ConversationStore(redis_client)
    n = _emit_all(store)
    writer = EventWriter(redis_client, engine, batch_size=100, consumer="only")
    writer.ensure_groups()
    for _ in range(3):  # the gateway loop keeps trying with backoff; each try fails
        assert writer.step() > 0
    assert writer.stats.errors == 3
    assert writer.stats.written == 0
    assert int(redis_client.xpending("bb:events", GROUP)["pending"]) == n  # buffered in Redis
    # a citizen keeps talking while the database is down
    store.append(Message(conversation_id="c9", role="citizen", text="Noch da?"))
    bring_back()
    for _ in range(5):
        assert writer.step() == 0
    assert writer.pending() == 0
    assert _counts(engine) == (n, n, 1)
