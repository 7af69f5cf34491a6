"""Workload metrics computed from the SQL event log only.

Method (also in README and in the council report):
- Every conversation is attributed to the local day of its first event and to its channel, its
  last known service and its last known team. All figures are sums of additive per-conversation
  counters keyed by (day, channel, service, team); retention stores exactly these counters for
  expired days (`bb_daily_aggregates`), so old periods stay reportable without any transcript.
- contained = no handoff request, no callback request, at least one bot answer, and the last
  feedback (if any) was not "not helpful". Conversations that are neither contained nor handed
  over are "unresolved" (the bot only abstained or was told it did not help).
- minutes saved = contained conversations x minutes per contact of their service
  (settings.minutes_per_service, default settings.minutes_per_contact).
- queue waiting time = first handoff_accepted - first handoff_requested; staff first-response
  time = first staff_message after the first request - that request; handling time = sum of the
  spans handoff_accepted -> transferred/handed_back/closed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.eventlog.db import daily_aggregates, events
from bot.handoff.service import HandoffReason

UNKNOWN = "-"  # stored key for a missing dimension value
CONVERSATION_SLACK_S = 86_400.0  # conversations are read with one day of context on each side
Key = tuple[str, str, str, str]  # day, channel, service, team


@dataclass
class ConversationFacts:
    """What happened in one conversation, reduced to the counters metrics need."""

    conversation_id: str
    start_ts: float
    channel: str | None = None
    service: str | None = None
    team: str | None = None
    citizen_messages: int = 0
    staff_messages: int = 0
    bot_answers: int = 0
    bot_abstains: int = 0
    bot_clarifies: int = 0
    handoff: bool = False
    handoff_reason: str | None = None
    offered: bool = False
    callback: bool = False
    abandoned: bool = False
    helpful: int = 0
    not_helpful: int = 0
    last_feedback: bool | None = None
    requested_ts: float | None = None
    wait_s: float | None = None
    first_response_s: float | None = None
    handling_s: float = 0.0
    handled: bool = False
    _handling_since: float | None = None
    event_counts: Counter[str] = field(default_factory=Counter)

    def add(
        self, kind: str, ts: float, channel: str | None, service: str | None, team: str | None, detail: str | None
    ) -> None:
        """Fold one event (in time order) into the facts."""
        self.event_counts[kind] += 1
        if kind == "message_in":
            self.citizen_messages += 1
            self.channel = self.channel or channel
        elif kind == "bot_answer":
            self.bot_answers += 1
            self.service = service or self.service
        elif kind == "bot_abstain":
            self.bot_abstains += 1
        elif kind == "bot_clarify":
            self.bot_clarifies += 1
        elif kind == "handoff_offered":
            self.offered = True
        elif kind == "handoff_requested":
            if not self.handoff:
                # old event logs may hold an earlier spelling: count it under the enum's name
                self.handoff_reason = HandoffReason.parse(detail).value
                self.requested_ts = ts
            self.handoff = True
            self.service = service or self.service
            self.channel = self.channel or channel
        elif kind == "handoff_accepted":
            if self.wait_s is None and self.requested_ts is not None:
                self.wait_s = max(0.0, ts - self.requested_ts)
            self._handling_since = ts
            self.handled = True
        elif kind == "staff_message":
            self.staff_messages += 1
            if self.first_response_s is None and self.requested_ts is not None:
                self.first_response_s = max(0.0, ts - self.requested_ts)
        elif kind in ("transferred", "handed_back", "closed"):
            if self._handling_since is not None:
                self.handling_s += max(0.0, ts - self._handling_since)
                self._handling_since = None
        elif kind == "callback_requested":
            self.callback = True
        elif kind == "feedback":
            if detail == "helpful":
                self.helpful += 1
                self.last_feedback = True
            elif detail == "not_helpful":
                self.not_helpful += 1
                self.last_feedback = False
        elif kind == "abandoned":
            self.abandoned = True
        self.team = team or self.team

    @property
    def contained(self) -> bool:
        return not self.handoff and not self.callback and self.bot_answers > 0 and self.last_feedback is not False

    @property
    def unresolved(self) -> bool:
        return not self.handoff and not self.callback and not self.contained

    def counters(self) -> Counter[str]:
        """Additive counters of this conversation (what retention keeps)."""
        c: Counter[str] = Counter(
            conversations=1,
            citizen_messages=self.citizen_messages,
            staff_messages=self.staff_messages,
            bot_answers=self.bot_answers,
            bot_abstains=self.bot_abstains,
            bot_clarifies=self.bot_clarifies,
            contained=int(self.contained),
            unresolved=int(self.unresolved),
            handoffs=int(self.handoff),
            handoffs_offered=int(self.offered),
            callbacks=int(self.callback),
            abandoned=int(self.abandoned),
            abstained_conversations=int(self.bot_abstains > 0),
            feedback_helpful=self.helpful,
            feedback_not_helpful=self.not_helpful,
        )
        if self.handoff:
            c[f"handoff_reason:{self.handoff_reason}"] += 1
        if self.wait_s is not None:
            c["wait_s_sum"] += self.wait_s  # type: ignore[assignment]  # float sums: typeshed types Counter values as int
            c["wait_n"] += 1
        if self.first_response_s is not None:
            c["first_response_s_sum"] += self.first_response_s  # type: ignore[assignment]  # float sum
            c["first_response_n"] += 1
        if self.handled and self._handling_since is None:  # only finished handling counts
            c["handling_s_sum"] += self.handling_s  # type: ignore[assignment]  # float sum
            c["handling_n"] += 1
        for kind, n in self.event_counts.items():
            c[f"events:{kind}"] += n
        return +c  # drop zeros


class CounterTable:
    """Counters by (day, channel, service, team); the single structure every view is computed from."""

    def __init__(self) -> None:
        self.rows: dict[Key, Counter[str]] = defaultdict(Counter)

    def add(self, key: Key, counters: Counter[str] | dict[str, float]) -> None:
        self.rows[key].update(counters)

    def filtered(self, channel: str | None = None, service: str | None = None, team: str | None = None) -> CounterTable:
        out = CounterTable()
        for key, counters in self.rows.items():
            if (channel and key[1] != channel) or (service and key[2] != service) or (team and key[3] != team):
                continue
            out.add(key, counters)
        return out

    def total(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counters in self.rows.values():
            total.update(counters)
        return total

    def by(self, dimension: str) -> dict[str, Counter[str]]:
        index = {"day": 0, "channel": 1, "service": 2, "team": 3}[dimension]
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for key, counters in self.rows.items():
            out[key[index]].update(counters)
        return dict(out)

    def by_period(self, bucket: str) -> dict[str, Counter[str]]:
        """Counters per day, ISO week (2026-W47) or month (2026-11)."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for key, counters in self.rows.items():
            out[period_label(key[0], bucket)].update(counters)
        return dict(sorted(out.items()))


def period_label(day: str, bucket: str) -> str:
    if bucket == "day":
        return day
    if bucket == "month":
        return day[:7]
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def local_day(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).date().isoformat()


def day_start(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(), tz).timestamp()


def facts_from_rows(rows: Iterable[Any]) -> Iterator[ConversationFacts]:
    """Fold time-ordered event rows (conversation_id, type, ts, channel, service, team, detail)."""
    building: dict[str, ConversationFacts] = {}
    for conversation_id, kind, ts, channel, service, team, detail in rows:
        facts = building.get(conversation_id)
        if facts is None:
            facts = building[conversation_id] = ConversationFacts(conversation_id, ts)
        facts.add(kind, ts, channel, service, team, detail)
    yield from building.values()


def key_of(facts: ConversationFacts, tz: ZoneInfo) -> Key:
    return (local_day(facts.start_ts, tz), facts.channel or UNKNOWN, facts.service or UNKNOWN, facts.team or UNKNOWN)


_EVENT_COLUMNS = (
    events.c.conversation_id, events.c.type, events.c.ts, events.c.channel, events.c.service, events.c.team,
    events.c.detail,
)  # fmt: skip


def live_counters(engine: Engine, start_ts: float, end_ts: float, tz: ZoneInfo) -> CounterTable:
    """Counters of conversations whose first stored event lies in [start_ts, end_ts)."""
    table = CounterTable()
    query = (
        sa.select(*_EVENT_COLUMNS)
        .where(events.c.ts >= start_ts - CONVERSATION_SLACK_S, events.c.ts < end_ts + CONVERSATION_SLACK_S)
        .order_by(events.c.ts, events.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=20_000).execute(query)
        for facts in facts_from_rows(rows):
            if start_ts <= facts.start_ts < end_ts:
                table.add(key_of(facts, tz), facts.counters())
    return table


def stored_aggregates(engine: Engine, first_day: str, last_day: str) -> CounterTable:
    table = CounterTable()
    a = daily_aggregates.c
    query = sa.select(a.day, a.channel, a.service, a.team, a.metric, a.value).where(
        a.day >= first_day, a.day <= last_day
    )
    with engine.connect() as connection:
        for day, channel, service, team, metric, value in connection.execute(query):
            table.add((day, channel, service, team), {metric: value})
    return table


def counters_for_period(engine: Engine, first: dt.date, last: dt.date, timezone: str) -> CounterTable:
    """All counters for local days first..last (inclusive): retained aggregates plus live events."""
    tz = ZoneInfo(timezone)
    table = stored_aggregates(engine, first.isoformat(), last.isoformat())
    live = live_counters(engine, day_start(first, tz), day_start(last + dt.timedelta(days=1), tz), tz)
    for key, counters in live.rows.items():
        table.add(key, counters)
    return table


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def mean(total: float, n: float) -> float | None:
    return round(total / n, 1) if n else None


def minutes_saved(table: CounterTable, default_minutes: float, per_service: dict[str, float]) -> float:
    return round(
        sum(c["contained"] * per_service.get(service, default_minutes) for service, c in table.by("service").items()),
        1,
    )


def summarize(c: Counter[str], saved_minutes: float | None = None) -> dict[str, Any]:
    """Headline figures from additive counters; rates are None when their denominator is zero."""
    bot_replies = c["bot_answers"] + c["bot_abstains"] + c["bot_clarifies"]
    feedback = c["feedback_helpful"] + c["feedback_not_helpful"]
    reasons: Counter[str] = Counter()
    for key, value in sorted(c.items()):
        if key.startswith("handoff_reason:"):  # daily aggregates stored before the enum may use an old spelling
            reasons[HandoffReason.parse(key.split(":", 1)[1]).value] += int(value)
    out: dict[str, Any] = {
        "conversations": int(c["conversations"]),
        "citizen_messages": int(c["citizen_messages"]),
        "staff_messages": int(c["staff_messages"]),
        "bot_replies": int(bot_replies),
        "contained": int(c["contained"]),
        "containment_rate": ratio(c["contained"], c["conversations"]),
        "unresolved": int(c["unresolved"]),
        "handoffs": int(c["handoffs"]),
        "handoff_rate": ratio(c["handoffs"], c["conversations"]),
        "handoff_reasons": dict(sorted(reasons.items())),
        "handoffs_offered": int(c["handoffs_offered"]),
        "callbacks": int(c["callbacks"]),
        "abandoned": int(c["abandoned"]),
        "abandonment_rate": ratio(c["abandoned"], c["handoffs"]),
        "abstentions": int(c["bot_abstains"]),
        "abstention_rate": ratio(c["bot_abstains"], bot_replies),
        "feedback_helpful": int(c["feedback_helpful"]),
        "feedback_not_helpful": int(c["feedback_not_helpful"]),
        "helpful_rate": ratio(c["feedback_helpful"], feedback),
        "queue_wait_s_mean": mean(c["wait_s_sum"], c["wait_n"]),
        "first_response_s_mean": mean(c["first_response_s_sum"], c["first_response_n"]),
        "handling_s_mean": mean(c["handling_s_sum"], c["handling_n"]),
    }
    if saved_minutes is not None:
        out["minutes_saved"] = saved_minutes
        out["hours_saved"] = round(saved_minutes / 60, 1)
    return out


@dataclass
class MetricsQuery:
    first: dt.date
    last: dt.date
    channel: str | None = None
    service: str | None = None
    team: str | None = None


def default_period(timezone: str, days: int = 30, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or dt.datetime.now(ZoneInfo(timezone)).date()
    return today - dt.timedelta(days=days - 1), today


class Metrics:
    """Facade used by the API, the dashboard, the report and Prometheus."""

    def __init__(
        self,
        engine: Engine,
        timezone: str,
        minutes_per_contact: float,
        minutes_per_service: dict[str, float] | None = None,
    ) -> None:
        self.engine = engine
        self.timezone = timezone
        self.minutes_per_contact = minutes_per_contact
        self.minutes_per_service = minutes_per_service or {}

    def table(self, query: MetricsQuery) -> CounterTable:
        table = counters_for_period(self.engine, query.first, query.last, self.timezone)
        return table.filtered(query.channel, query.service, query.team)

    def minutes(self, table: CounterTable) -> float:
        return minutes_saved(table, self.minutes_per_contact, self.minutes_per_service)

    def summary(self, table: CounterTable) -> dict[str, Any]:
        return summarize(table.total(), self.minutes(table))

    def trend(self, table: CounterTable, bucket: str) -> list[dict[str, Any]]:
        out = []
        for label, counters in table.by_period(bucket).items():
            sub = CounterTable()
            sub.rows = {k: v for k, v in table.rows.items() if period_label(k[0], bucket) == label}
            out.append({"period": label, **summarize(counters, self.minutes(sub))})
        return out

    def breakdown(self, table: CounterTable, dimension: str) -> list[dict[str, Any]]:
        """Per channel/service/team, largest first; services carry their minutes per contact."""
        out = []
        for value, counters in table.by(dimension).items():
            row: dict[str, Any] = {dimension: value, **summarize(counters)}
            if dimension == "service":
                per_contact = self.minutes_per_service.get(value, self.minutes_per_contact)
                row["minutes_per_contact"] = per_contact
                row["minutes_saved"] = round(counters["contained"] * per_contact, 1)
            out.append(row)
        return sorted(out, key=lambda r: (-r["conversations"], str(r[dimension])))
