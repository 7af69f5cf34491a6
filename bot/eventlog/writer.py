"""The event-log writer: moves events and redacted transcripts from Redis streams into SQL.

Why a separate writer instead of writing in the request: a citizen's answer must never wait for
(or fail because of) the database. The router only XADDs to Redis; this writer reads the streams
`bb:events` and `bb:messages` through a consumer group, writes a batch in one transaction and
XACKs only after the commit. Consequences:
- database down: nothing is acknowledged, entries stay pending in Redis and are retried with
  backoff until the database is back (Redis is the buffer);
- crash between commit and ack: the entry is delivered again, and the insert is ignored because
  `stream_id` (events) and the message id (transcripts) are unique, so nothing is duplicated;
- several gateway processes: each runs a writer with its own consumer name in the same group, so
  they share the work; pending entries of a writer that died are claimed (XAUTOCLAIM) after
  `eventlog_claim_idle_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.conversation.store import EVENT_STREAM, TRANSCRIPT_STREAM
from bot.eventlog.db import engine_for, ensure_sqlite_dir, events, messages, upgrade
from bot.settings import Settings

log = logging.getLogger(__name__)

MESSAGE_STREAM = TRANSCRIPT_STREAM
GROUP = "eventlog"
MAX_BACKOFF_S = 30.0
_DETAIL_KEYS = {"handoff_requested": "reason", "bot_abstain": "reason", "handoff_offered": "reason", "closed": "by"}

WRITTEN = Counter("buergerbot_eventlog_written", "Stream entries written to the SQL event log.", ["stream"])
WRITE_ERRORS = Counter("buergerbot_eventlog_write_errors", "Failed event-log batches (retried later).")
BATCH_SECONDS = Histogram(
    "buergerbot_eventlog_batch_duration_seconds",
    "Time to write and acknowledge one batch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PENDING = Gauge("buergerbot_eventlog_pending_entries", "Entries read but not yet acknowledged (this writer).")


def event_row(stream_id: str, raw: str) -> dict[str, Any]:
    """A row for bb_events from an Event JSON; payload labels copied to columns for cheap grouping."""
    data = json.loads(raw)
    payload = data.get("payload") or {}
    kind = str(data.get("type", ""))
    detail = payload.get(_DETAIL_KEYS.get(kind, ""))
    if kind == "feedback" and "helpful" in payload:
        detail = "helpful" if payload["helpful"] else "not_helpful"
    team = payload.get("team") or payload.get("to_team")
    return {
        "stream_id": f"e:{stream_id}",
        "conversation_id": str(data["conversation_id"])[:100],
        "type": kind[:32],
        "actor": str(data.get("actor", "bot"))[:100],
        "ts": float(data.get("ts") or time.time()),
        "channel": _short(payload.get("channel"), 32),
        "service": _short(payload.get("service"), 100),
        "team": _short(team, 100),
        "detail": _short(detail, 64),
        "payload": payload,
    }


def message_row(raw: str) -> dict[str, Any]:
    data = json.loads(raw)
    return {
        "id": str(data["id"])[:64],
        "conversation_id": str(data["conversation_id"])[:100],
        "role": str(data.get("role", ""))[:16],
        "text": str(data.get("text", "")),
        "seq": int(data.get("seq") or 0),
        "ts": float(data.get("ts") or time.time()),
        "data": data.get("data") or {},
    }


def _short(value: object, length: int) -> str | None:
    return None if value is None else str(value)[:length]


def _insert_ignoring_duplicates(engine: Engine, table: sa.Table) -> sa.Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return table.insert().prefix_with("IGNORE")  # MySQL/MariaDB


@dataclass
class WriterStats:
    written: int = 0
    batches: int = 0
    errors: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.time)


class EventWriter:
    """Consumes `bb:events` and `bb:messages` into SQL in batches; see the module docstring."""

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        batch_size: int = 500,
        interval_s: float = 1.0,
        claim_idle_s: float = 60.0,
        consumer: str | None = None,
        retention: Callable[[], object] | None = None,
        retention_interval_s: float = 3600.0,
    ) -> None:
        self.redis = client
        self.engine = engine
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.claim_idle_s = claim_idle_s
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stats = WriterStats()
        self._schema_ready = False
        self._backoff_s = 0.0
        self._streams = (EVENT_STREAM, MESSAGE_STREAM)
        self.retention = retention
        self.retention_interval_s = retention_interval_s
        self._last_retention = 0.0

    # -- Redis side -------------------------------------------------------------------------------
    def ensure_groups(self) -> None:
        """Create the consumer group at the start of each stream (history included), once."""
        for stream in self._streams:
            try:
                self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _read(self, block_ms: int | None) -> list[tuple[str, str, dict[Any, Any]]]:
        """Own pending entries first (a failed batch is retried), then stale ones of dead writers, then new."""
        entries: list[tuple[str, str, dict[Any, Any]]] = []
        for stream in self._streams:
            reply = self.redis.xreadgroup(GROUP, self.consumer, {stream: "0"}, count=self.batch_size)
            entries.extend(_flatten(reply))
        if entries:
            return entries
        for stream in self._streams:
            claimed = self.redis.xautoclaim(
                stream, GROUP, self.consumer, min_idle_time=int(self.claim_idle_s * 1000), count=self.batch_size
            )
            entries.extend((stream, _s(i), f) for i, f in claimed[1] if f)
        if entries:
            return entries
        reply = self.redis.xreadgroup(
            GROUP, self.consumer, dict.fromkeys(self._streams, ">"), count=self.batch_size, block=block_ms
        )
        return _flatten(reply)

    # -- SQL side ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        # no mkdir here: a missing SQLite directory is "database down" (created by the gateway at start)
        if not self._schema_ready:
            upgrade(self.engine)
            self._schema_ready = True

    def _write(self, entries: list[tuple[str, str, dict[Any, Any]]]) -> None:
        event_rows: list[dict[str, Any]] = []
        message_rows: list[dict[str, Any]] = []
        for stream, entry_id, fields in entries:
            try:
                if stream == EVENT_STREAM:
                    event_rows.append(event_row(entry_id, _field(fields, "event")))
                else:
                    message_rows.append(message_row(_field(fields, "message")))
            except (KeyError, ValueError, TypeError) as exc:  # a malformed entry must not block the stream
                log.error("event log: dropping malformed entry %s %s: %s", stream, entry_id, exc)
        with self.engine.begin() as connection:
            if event_rows:
                connection.execute(_insert_ignoring_duplicates(self.engine, events), event_rows)
            if message_rows:
                connection.execute(_insert_ignoring_duplicates(self.engine, messages), message_rows)

    def _ack(self, entries: list[tuple[str, str, dict[Any, Any]]]) -> None:
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id, _fields in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        pipe = self.redis.pipeline()
        for stream, ids in by_stream.items():
            pipe.xack(stream, GROUP, *ids)
        pipe.execute()

    # -- loop -------------------------------------------------------------------------------------
    def run_once(self, block_ms: int | None = None) -> int:
        """Read one batch, write it, acknowledge it; returns entries written. Raises on database errors
        (the entries then stay pending and are read again by the next call)."""
        entries = self._read(block_ms)
        PENDING.set(len(entries))
        if not entries:
            return 0
        started = time.perf_counter()
        try:
            self.ensure_schema()
            self._write(entries)
        except SQLAlchemyError as exc:
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            WRITE_ERRORS.inc()
            raise
        self._ack(entries)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        PENDING.set(0)
        for stream in self._streams:
            WRITTEN.labels(stream=stream).inc(sum(1 for s, _i, _f in entries if s == stream))
        self.stats.written += len(entries)
        self.stats.batches += 1
        return len(entries)

    def drain(self, max_batches: int = 1_000_000) -> int:
        """Write everything currently in the streams (CLI, tests, bench); stops when a read is empty."""
        self.ensure_groups()
        total = 0
        for _ in range(max_batches):
            written = self.run_once(block_ms=None)
            if not written:
                break
            total += written
        return total

    def step(self) -> float:
        """One loop iteration for the background task: returns how long to sleep before the next."""
        try:
            written = self.run_once(block_ms=int(min(self.interval_s, 2.0) * 1000))  # below socket timeouts
        except SQLAlchemyError as exc:
            self._backoff_s = min(MAX_BACKOFF_S, max(0.5, self._backoff_s * 2))
            log.warning(
                "event log: database unavailable, entries stay in Redis, retry in %.1fs: %s",
                self._backoff_s,
                self.stats.last_error or exc,
            )
            return self._backoff_s
        except redis.RedisError as exc:
            self._backoff_s = min(MAX_BACKOFF_S, max(0.5, self._backoff_s * 2))
            log.warning("event log: Redis error, retry in %.1fs: %s", self._backoff_s, exc)
            if "NOGROUP" in str(exc) or "no longer exists" in str(exc):
                self._ensure_groups_quietly()  # Redis was restarted or flushed: start over on the new streams
            return self._backoff_s
        self._backoff_s = 0.0
        if not written:
            self._maybe_run_retention()
        return 0.0  # under load keep going at once; when idle the blocking read already waited

    def _maybe_run_retention(self) -> None:
        """Retention runs in the writer when idle, at most once per interval (default hourly)."""
        if self.retention is None or time.time() - self._last_retention < self.retention_interval_s:
            return
        self._last_retention = time.time()
        try:
            result = self.retention()
            log.info("event log retention: %s", result)
        except SQLAlchemyError as exc:
            log.warning("event log retention failed, next try in %.0fs: %s", self.retention_interval_s, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Background task of the gateway: loop in a worker thread until `stop` is set."""
        await asyncio.to_thread(self._ensure_groups_quietly)
        while not stop.is_set():
            pause = await asyncio.to_thread(self.step)
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)

    def _ensure_groups_quietly(self) -> None:
        try:
            self.ensure_groups()
        except redis.RedisError as exc:
            log.warning("event log: could not create consumer groups yet: %s", exc)

    def pending(self) -> int:
        """Entries delivered to any writer of the group but not yet acknowledged (all streams)."""
        total = 0
        for stream in self._streams:
            with contextlib.suppress(redis.ResponseError):
                total += int(self.redis.xpending(stream, GROUP)["pending"])
        return total


def _field(fields: dict[Any, Any], name: str) -> str:
    """Clients with and without decode_responses share the streams: accept bytes and str keys."""
    value = fields[name] if name in fields else fields[name.encode()]
    return _s(value)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _flatten(reply: Any) -> list[tuple[str, str, dict[Any, Any]]]:
    """XREADGROUP replies as (stream, id, fields); deleted entries (empty fields) are skipped but
    still returned with empty fields so they get acknowledged."""
    out: list[tuple[str, str, dict[Any, Any]]] = []
    for stream, items in reply or []:
        for entry_id, fields in items:
            out.append((_s(stream), _s(entry_id), fields or {}))
    return out


def writer_from_settings(
    settings: Settings, client: redis.Redis, retention: Callable[[Engine], object] | None = None
) -> EventWriter:
    """The gateway's writer; `retention` (the metrics' hourly run, given by the caller) gets the writer's engine.

    Retention aggregates with the metrics' counters before it deletes, so it lives in `bot.metrics`,
    which reads this package's tables: the caller passes it in, and this package never imports metrics.
    """
    ensure_sqlite_dir(settings.eventlog_url)
    engine = engine_for(settings.eventlog_url)
    return EventWriter(
        client,
        engine,
        batch_size=settings.eventlog_batch_size,
        interval_s=settings.eventlog_batch_interval_s,
        claim_idle_s=settings.eventlog_claim_idle_s,
        retention=(lambda: retention(engine)) if retention is not None else None,
    )


class RunningWriter:
    """The writer task of one gateway process; `stop()` lets the current batch finish first."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="eventlog-writer")

    async def _run(self) -> None:
        try:
            await asyncio.to_thread(self.writer.ensure_schema)  # migrations on gateway start
        except SQLAlchemyError as exc:  # database down: the writer retries when events arrive
            log.warning("event log: database not reachable at start, events wait in Redis: %s", exc)
        await self.writer.run(self._stop)

    async def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, timeout=timeout_s)
        except TimeoutError:
            self._task.cancel()


async def start_event_writer(
    settings: Settings, client: redis.Redis, retention: Callable[[Engine], object] | None = None
) -> RunningWriter | None:
    """Start the event-log writer in the gateway (None when BUERGERBOT_EVENTLOG_ENABLED=false)."""
    if not settings.eventlog_enabled:
        return None
    return RunningWriter(writer_from_settings(settings, client, retention))
