"""Retention: delete transcripts and raw events after N days, keeping anonymous daily aggregates.

Order matters and is atomic: in one transaction the counters of every expired conversation are
added to `bb_daily_aggregates` (by day, channel, service, team; no ids, no text), then its events
and messages are deleted. A crash either keeps everything or has moved everything, so figures for
old periods neither vanish nor count twice. Content-gap questions are deleted with the events:
the gap report only covers the retention window.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.eventlog.db import daily_aggregates, events, messages
from bot.metrics.compute import _EVENT_COLUMNS, CounterTable, day_start, facts_from_rows, key_of
from bot.settings import Settings

CHUNK = 500
RETENTION_LOCK_ID = 0x6262_7265  # "bbre": one retention run at a time across gateway processes


@dataclass
class RetentionResult:
    cutoff_day: str
    conversations: int
    events_deleted: int
    messages_deleted: int


def _add_aggregates(connection: Connection, table: CounterTable) -> None:
    """Add to existing counters (a late event of an old day must not overwrite what is there)."""
    a = daily_aggregates.c
    for (day, channel, service, team), counters in table.rows.items():
        for metric, value in counters.items():
            same_key = (a.day == day, a.channel == channel, a.service == service, a.team == team)
            where = sa.and_(*same_key, a.metric == metric)
            updated = connection.execute(sa.update(daily_aggregates).where(where).values(value=a.value + value))
            if updated.rowcount == 0:
                connection.execute(
                    sa.insert(daily_aggregates).values(
                        day=day, channel=channel, service=service, team=team, metric=metric, value=float(value)
                    )
                )


def run_retention(engine: Engine, retention_days: int, timezone: str, now: float | None = None) -> RetentionResult:
    """Aggregate, then delete, every conversation that started before local midnight N days ago.

    On PostgreSQL a session advisory lock keeps two processes from aggregating the same
    conversation twice; SQLite serialises writers itself (a stale snapshot fails instead).
    """
    if engine.dialect.name != "postgresql":
        return _run(engine, retention_days, timezone, now)
    with engine.connect() as lock:
        if not lock.execute(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": RETENTION_LOCK_ID}).scalar():
            return RetentionResult("", 0, 0, 0)  # another process is on it
        try:
            return _run(engine, retention_days, timezone, now)
        finally:
            lock.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": RETENTION_LOCK_ID})
            lock.commit()


def _run(engine: Engine, retention_days: int, timezone: str, now: float | None) -> RetentionResult:
    tz = ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(now or time.time(), tz).date()
    cutoff_day = today - dt.timedelta(days=retention_days)
    cutoff_ts = day_start(cutoff_day, tz)
    with engine.connect() as connection:
        expired = [
            row[0]
            for row in connection.execute(
                sa.select(events.c.conversation_id)
                .group_by(events.c.conversation_id)
                .having(sa.func.min(events.c.ts) < cutoff_ts)
            )
        ]
    events_deleted = messages_deleted = 0
    for start in range(0, len(expired), CHUNK):
        chunk = expired[start : start + CHUNK]
        with engine.begin() as connection:
            rows = connection.execute(
                sa.select(*_EVENT_COLUMNS).where(events.c.conversation_id.in_(chunk)).order_by(events.c.ts, events.c.id)
            )
            table = CounterTable()
            for facts in facts_from_rows(rows):
                table.add(key_of(facts, tz), facts.counters())
            _add_aggregates(connection, table)
            events_deleted += connection.execute(sa.delete(events).where(events.c.conversation_id.in_(chunk))).rowcount
            messages_deleted += connection.execute(
                sa.delete(messages).where(messages.c.conversation_id.in_(chunk))
            ).rowcount
    with engine.begin() as connection:  # transcripts of conversations without events (or very long ones)
        messages_deleted += connection.execute(sa.delete(messages).where(messages.c.ts < cutoff_ts)).rowcount
    return RetentionResult(cutoff_day.isoformat(), len(expired), events_deleted, messages_deleted)


def retention_for(settings: Settings) -> Callable[[Engine], object]:
    """The hourly retention run the event-log writer calls with its engine (configured days and time zone)."""
    return lambda engine: run_retention(engine, settings.retention_days, settings.metrics_timezone)
