"""HTTP side of the metrics: JSON API and dashboard for supervisors, and `/metrics` for Prometheus.

`build_metrics_router(require_supervisor)` takes the console's auth dependency as a parameter, so
this module does not depend on how staff log in; the console mounts the router for supervisors.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics.compute import Metrics, MetricsQuery, default_period, summarize
from bot.metrics.render import STATIC, parse_date, render_dashboard
from bot.metrics.report import csv_text
from bot.metrics.service import build_view, metrics_from_settings, service_titles, team_names
from bot.settings import Settings
from wording import texts

log = logging.getLogger(__name__)

MAX_DAYS = 3 * 366

PROMETHEUS_CACHE_S = 60.0


def get_metrics(request: Request) -> Metrics:
    """The app's Metrics (built once from its settings; tests may put their own on app.state)."""
    state = request.app.state
    if getattr(state, "metrics", None) is None:
        state.metrics = metrics_from_settings(state.settings)
    return state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
From = Annotated[
    str | None, Query(alias="from", max_length=20, description="Erster Tag (TT.MM.JJJJ oder JJJJ-MM-TT), inklusive.")
]
To = Annotated[
    str | None, Query(alias="to", max_length=20, description="Letzter Tag (TT.MM.JJJJ oder JJJJ-MM-TT), inklusive.")
]


def _day(text: str | None, label: str) -> dt.date | None:
    """German (what the dashboard's fields show) or ISO dates; anything else is a 422 in German."""
    if not text or not text.strip():
        return None
    try:
        return parse_date(text)
    except ValueError:
        raise HTTPException(422, texts.invalid_date(label)) from None


def _query(
    metrics: Metrics,
    first_text: str | None,
    last_text: str | None,
    channel: str | None,
    service: str | None,
    team: str | None,
) -> MetricsQuery:
    default_first, default_last = default_period(metrics.timezone)
    first = _day(first_text, texts.DATE_FROM) or default_first
    last = _day(last_text, texts.DATE_TO) or default_last
    if last < first or (last - first).days > MAX_DAYS:
        raise HTTPException(422, texts.INVALID_PERIOD)
    return MetricsQuery(first, last, channel or None, service or None, team or None)


def build_metrics_router(
    require_supervisor: Callable[..., Any],
    prefix: str = "/metrics",
    api_prefix: str = "/api/metrics",
    console_url: str | None = None,
) -> APIRouter:
    """JSON API under `api_prefix` and the dashboard under `prefix`, all behind `require_supervisor`.

    The gateway mounts both below /console, where the console's session cookie is scoped;
    `console_url` is where the dashboard's "back" link leads.
    """
    router = APIRouter(
        dependencies=[Depends(require_supervisor)],
        tags=["metrics"],
        responses={401: {"description": "Nicht angemeldet"}, 403: {"description": "Keine Berechtigung"}},
    )

    @router.get(f"{api_prefix}/summary")
    async def summary(
        request: Request, metrics: MetricsDep, first: From = None, last: To = None,
        channel: str | None = None, service: str | None = None, team: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        query = _query(metrics, first, last, channel, service, team)
        return await run_in_threadpool(build_view, metrics, query, request.app.state.settings, False)

    @router.get(f"{api_prefix}/gaps")
    async def gaps(request: Request, metrics: MetricsDep, first: From = None, last: To = None) -> list[dict[str, Any]]:
        query = _query(metrics, first, last, None, None, None)
        view = await run_in_threadpool(build_view, metrics, query, request.app.state.settings, True)
        return view["gaps"]

    @router.get(f"{prefix}/dashboard", response_class=HTMLResponse)
    async def dashboard(
        request: Request, metrics: MetricsDep, first: From = None, last: To = None,
        channel: str | None = None, service: str | None = None, team: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        settings: Settings = request.app.state.settings
        error, typed, status = None, {}, 200
        try:
            query = _query(metrics, first, last, channel, service, team)
        except HTTPException as exc:  # a typo in a date field: say so on the page, show the default period
            error, typed, status = str(exc.detail), {"from": first or "", "to": last or ""}, 422
            query = _query(metrics, None, None, channel, service, team)
        view = await run_in_threadpool(build_view, metrics, query, settings, True)
        everything = await run_in_threadpool(metrics.table, MetricsQuery(query.first, query.last))
        titles = service_titles(settings)
        names = team_names(settings)
        options = {
            "channels": sorted(everything.by("channel")),
            "services": sorted(((s, titles.get(s, s)) for s in everything.by("service")), key=lambda x: x[1]),
            "teams": sorted(((t, names.get(t, t)) for t in everything.by("team") if t != "-"), key=lambda x: x[1]),
        }
        page = render_dashboard(view, options, prefix, console_url, error, typed)
        return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})

    @router.get(f"{prefix}/export.csv")
    async def export_csv(request: Request, metrics: MetricsDep, first: From = None, last: To = None) -> Response:
        query = _query(metrics, first, last, None, None, None)
        view = await run_in_threadpool(build_view, metrics, query, request.app.state.settings, True)
        name = f"buergerbot-kennzahlen-{query.first}-{query.last}.csv"
        return PlainTextResponse(
            "\ufeff" + csv_text(view),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(f"{prefix}/static/metrics.css")
    def stylesheet() -> FileResponse:
        return FileResponse(STATIC / "metrics.css", media_type="text/css")

    return router


class EventLogCollector(Collector):
    """Business figures from the SQL event log, all-time, recomputed at most once a minute.

    Counters follow Prometheus conventions (`_total`, base units, seconds); rates are left to
    PromQL (e.g. contained / conversations). A slow recomputation never blocks a scrape for long:
    after the first one, stale values are served while a background thread refreshes them.
    """

    def __init__(self, metrics: Metrics, cache_s: float = PROMETHEUS_CACHE_S) -> None:
        self.metrics = metrics
        self.cache_s = cache_s
        self._families: list[Any] = []
        self._computed = 0.0
        self._lock = threading.Lock()
        self._refreshing = False

    def describe(self) -> list[Any]:
        return []  # computed lazily; describing would query the database at registration

    def _compute(self) -> list[Any]:
        tz_today = default_period(self.metrics.timezone, days=1)[1]
        table = self.metrics.table(MetricsQuery(dt.date(2000, 1, 1), tz_today))
        per_contact = self.metrics.minutes_per_service
        conversations = CounterMetricFamily(
            "buergerbot_conversations", "Conversations by channel and service.", labels=["channel", "service"]
        )
        contained = CounterMetricFamily(
            "buergerbot_conversations_contained", "Conversations resolved without staff.", labels=["channel", "service"]
        )
        saved = CounterMetricFamily(
            "buergerbot_staff_minutes_saved", "Estimated staff minutes saved (contained x minutes per contact).",
            labels=["service"],
        )  # fmt: skip
        by_channel_service: dict[tuple[str, str], Any] = {}
        for (_day, channel, service, _team), counters in table.rows.items():
            total = by_channel_service.setdefault((channel, service), {"conversations": 0, "contained": 0})
            total["conversations"] += counters["conversations"]
            total["contained"] += counters["contained"]
        for (channel, service), total in sorted(by_channel_service.items()):
            conversations.add_metric([channel, service], total["conversations"])
            contained.add_metric([channel, service], total["contained"])
        for service, counters in sorted(table.by("service").items()):
            saved.add_metric(
                [service], counters["contained"] * per_contact.get(service, self.metrics.minutes_per_contact)
            )
        c = table.total()
        handoffs = CounterMetricFamily(
            "buergerbot_handoffs", "Conversations handed to staff, by reason.", labels=["reason"]
        )
        for reason, value in summarize(c)["handoff_reasons"].items():  # HandoffReason values, old spellings merged
            handoffs.add_metric([reason], value)
        replies = CounterMetricFamily("buergerbot_bot_replies", "Bot replies by kind.", labels=["kind"])
        for kind in ("answers", "abstains", "clarifies"):
            replies.add_metric([kind.rstrip("s").replace("clarifie", "clarify")], c[f"bot_{kind}"])
        feedback = CounterMetricFamily("buergerbot_feedback", "Citizen feedback on answers.", labels=["helpful"])
        feedback.add_metric(["true"], c["feedback_helpful"])
        feedback.add_metric(["false"], c["feedback_not_helpful"])
        families: list[Any] = [conversations, contained, saved, handoffs, replies, feedback]
        for name, doc, key in (
            ("buergerbot_conversations_abandoned", "Citizens who left the staff queue.", "abandoned"),
            ("buergerbot_callbacks_requested", "Call-back or e-mail requests.", "callbacks"),
            ("buergerbot_citizen_messages", "Messages written by citizens.", "citizen_messages"),
            ("buergerbot_staff_messages", "Messages written by staff.", "staff_messages"),
        ):
            family = CounterMetricFamily(name, doc)
            family.add_metric([], c[key])
            families.append(family)
        for name, doc, key in (
            ("buergerbot_queue_wait_seconds", "Wait from handoff request to acceptance.", "wait"),
            ("buergerbot_staff_first_response_seconds", "From handoff request to first staff reply.", "first_response"),
            ("buergerbot_staff_handling_seconds", "Time staff held a conversation.", "handling"),
        ):
            families.append(SummaryMetricFamily(name, doc, count_value=c[f"{key}_n"], sum_value=c[f"{key}_s_sum"]))
        refreshed = GaugeMetricFamily(
            "buergerbot_metrics_refresh_timestamp_seconds", "When these event-log figures were computed."
        )
        refreshed.add_metric([], time.time())
        families.append(refreshed)
        return families

    def _refresh(self) -> None:
        """Recompute; with the database down keep what we have (the writer's own metrics still get served).

        A scrape must not fail while the event log is unreachable: that is exactly when monitoring
        needs `buergerbot_eventlog_write_errors_total` and the pending-entries gauge.
        """
        try:
            families = self._compute()
            with self._lock:
                self._families, self._computed = families, time.time()
        except SQLAlchemyError as exc:
            log.warning("metrics: event log unreachable, event-log figures not refreshed: %s", exc)
        finally:
            self._refreshing = False

    def collect(self) -> Iterator[Any]:
        if not self._families:
            self._refresh()
        elif time.time() - self._computed > self.cache_s and not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._refresh, name="metrics-refresh", daemon=True).start()
        with self._lock:
            yield from self._families


def build_prometheus_router() -> APIRouter:
    """`GET /metrics` in the Prometheus text format: process/writer metrics plus event-log figures."""
    router = APIRouter(tags=["metrics"])

    @router.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        state = request.app.state
        if getattr(state, "prometheus_registry", None) is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(EventLogCollector(get_metrics(request)))
            state.prometheus_registry = registry
        body = generate_latest(REGISTRY) + await run_in_threadpool(generate_latest, state.prometheus_registry)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return router
