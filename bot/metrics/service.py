"""Builds the figures every view shows (dashboard, JSON API, council report) in one place.

One function means the dashboard and the report can never disagree about a number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import asdict
from typing import Any

from bot.eventlog.db import engine_for
from bot.handoff.service import HandoffReason
from bot.handoff.teams import load_teams
from bot.metrics.compute import UNKNOWN, Metrics, MetricsQuery
from bot.metrics.gaps import content_gaps
from bot.settings import Settings
from wording import texts

# Every handoff reason needs its German label (`wording.texts.HANDOFF_REASON_NAMES`; a missing one fails here,
# at import, and tests/unit/bot/metrics/test_handoff_reasons.py checks it):
# the council report must never show a raw key.
REASON_NAMES: dict[HandoffReason, str] = {reason: texts.HANDOFF_REASON_NAMES[reason.value] for reason in HandoffReason}


def reason_name(reason: str) -> str:
    """The German label of a stored reason (older spellings included), for the dashboard and the report."""
    return REASON_NAMES[HandoffReason.parse(reason)]


def metrics_from_settings(settings: Settings) -> Metrics:
    return Metrics(
        engine_for(settings.eventlog_url),
        settings.metrics_timezone,
        settings.minutes_per_contact,
        settings.minutes_per_service,
    )


def service_titles(settings: Settings) -> dict[str, str]:
    """Service id -> German title: from the built index, else read from the configured content.

    Any content format (Munich's DLDB export, YAML, HTML …); ids stay readable if neither is there.
    """
    from knowledge.importers import load_path
    from knowledge.index import IndexState, IndexUnavailableError, KnowledgeIndex

    titles: dict[str, str] = {"-": texts.NO_SERVICE_LABEL}
    try:
        services = IndexState.load(KnowledgeIndex.state_path(settings)).services
    except IndexUnavailableError:
        services = {}
    if not services and settings.content_dir.exists():
        services = {service.id: service for service in load_path(settings.content_dir).services}
    titles.update({sid: service.title for sid, service in services.items()})
    return titles


def team_names(settings: Settings) -> dict[str, str]:
    """Team id -> the name staff know ("Bürgerbüro"), from the teams file the console uses."""
    names = {UNKNOWN: texts.NO_TEAM_LABEL}
    with contextlib.suppress(ValueError):  # an unreadable teams file must not take the figures down
        names.update({team.id: team.name for team in load_teams(settings.teams_file).teams})
    return names


def bucket_for(first: dt.date, last: dt.date) -> str:
    days = (last - first).days + 1
    return "day" if days <= 45 else "week" if days <= 200 else "month"


def build_view(metrics: Metrics, query: MetricsQuery, settings: Settings, gaps: bool = True) -> dict[str, Any]:
    """Everything a page shows for a period and filters, as plain JSON-able data."""
    table = metrics.table(query)
    bucket = bucket_for(query.first, query.last)
    titles = service_titles(settings)
    services = metrics.breakdown(table, "service")
    for row in services:
        row["title"] = titles.get(row["service"], row["service"])
    services.sort(key=lambda row: row["service"] == UNKNOWN)  # "no service recognised" last (stable sort)
    names = team_names(settings)
    teams = metrics.breakdown(table, "team")
    for row in teams:
        row["team_name"] = names.get(row["team"], row["team"])
    return {
        "period": {"from": query.first.isoformat(), "to": query.last.isoformat(), "bucket": bucket},
        "filters": {"channel": query.channel, "service": query.service, "team": query.team},
        "summary": metrics.summary(table),
        "trend": metrics.trend(table, bucket),
        "channels": metrics.breakdown(table, "channel"),
        "services": services,
        "teams": teams,
        "gaps": [asdict(g) for g in content_gaps(metrics.engine, query.first, query.last, metrics.timezone)]
        if gaps
        else [],
        "settings": {
            "minutes_per_contact": metrics.minutes_per_contact,
            "minutes_per_service": metrics.minutes_per_service,
            "timezone": metrics.timezone,
            "retention_days": settings.retention_days,
        },
    }
