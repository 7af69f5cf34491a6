"""JSON API, dashboard, Prometheus exposition and the council report, on the known scenario."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.conversation.store import ConversationStore
from bot.eventlog.writer import EventWriter
from bot.metrics.api import build_metrics_router, build_prometheus_router
from bot.metrics.compute import Metrics, MetricsQuery
from bot.metrics.render import render_report
from bot.metrics.report import csv_text, find_chromium, html_to_pdf
from bot.metrics.service import build_view
from bot.settings import Settings
from tests.unit.bot.metrics.scenario import DAY1, DAY2, scenario_events

PERIOD = {"from": DAY1.isoformat(), "to": DAY2.isoformat()}


def require_supervisor(x_role: str | None = Header(default=None)) -> str:
    """Stand-in for the console's supervisor login: a real dependency, just simpler."""
    if x_role != "supervisor":
        raise HTTPException(403, "Nur für Leitungen")
    return x_role


@pytest.fixture
def metrics(redis_client, engine) -> Metrics:
    store = ConversationStore(redis_client)
    for event in scenario_events():
        store.emit(event)
    EventWriter(redis_client, engine).drain()
    return Metrics(engine, "Europe/Berlin", 6.0, {"personalausweis": 10.0})


@pytest.fixture
def client(metrics: Metrics, tmp_path: Path) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path, minutes_per_service={"personalausweis": 10.0})
    app.state.metrics = metrics
    app.include_router(build_metrics_router(require_supervisor))
    app.include_router(build_prometheus_router())
    return TestClient(app)


def test_api_requires_the_supervisor_dependency(client: TestClient) -> None:
    assert client.get("/api/metrics/summary", params=PERIOD).status_code == 403
    assert client.get("/metrics/dashboard", params=PERIOD).status_code == 403


def test_summary_api(client: TestClient) -> None:
    body = client.get("/api/metrics/summary", params=PERIOD, headers={"X-Role": "supervisor"}).json()
    assert body["summary"]["conversations"] == 8
    assert body["summary"]["minutes_saved"] == 20.0
    assert [row["period"] for row in body["trend"]] == ["2026-11-02", "2026-11-03"]
    web = client.get("/api/metrics/summary", params={**PERIOD, "channel": "telegram"}, headers={"X-Role": "supervisor"})
    assert web.json()["summary"]["handoffs"] == 1
    bad = client.get("/api/metrics/summary", params={"from": "2026-11-05", "to": "2026-11-01"},
                     headers={"X-Role": "supervisor"})  # fmt: skip
    assert bad.status_code == 422


def test_dashboard_is_german_accessible_and_free_of_inline_code(client: TestClient) -> None:
    response = client.get("/metrics/dashboard", params=PERIOD, headers={"X-Role": "supervisor"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="de">' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html  # CSP without unsafe-inline
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no third-party requests
    assert html.count("<svg") >= 4 and html.count("<table") >= 4  # every chart has a table beside it
    assert "Personalausweis" in html and "25,0 %" in html  # titles from the content, German number format
    css = client.get("/metrics/static/metrics.css", headers={"X-Role": "supervisor"})
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    export = client.get("/metrics/export.csv", params=PERIOD, headers={"X-Role": "supervisor"})
    assert export.status_code == 200 and "minutes_saved" in export.text


def test_prometheus_exposition(client: TestClient) -> None:
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert sum(v for (n, _l), v in samples.items() if n == "buergerbot_conversations_total") == 8
    web_pa = (("channel", "web"), ("service", "personalausweis"))
    assert samples[("buergerbot_conversations_contained_total", web_pa)] == 2
    assert samples[("buergerbot_staff_minutes_saved_total", (("service", "personalausweis"),))] == 20
    assert samples[("buergerbot_handoffs_total", (("reason", "requested"),))] == 2
    assert samples[("buergerbot_queue_wait_seconds_sum", ())] == 80
    assert samples[("buergerbot_queue_wait_seconds_count", ())] == 2
    assert samples[("buergerbot_feedback_total", (("helpful", "false"),))] == 1
    assert "buergerbot_eventlog_written_total" in text


def test_prometheus_scrape_works_while_the_event_log_is_unreachable(tmp_path: Path) -> None:
    """The writer's health (write errors, pending entries) matters most exactly when the database is down."""
    from bot.eventlog.db import make_engine

    unreachable = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'eventlog.sqlite'}")  # cannot be opened
    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path)
    app.state.metrics = Metrics(unreachable, "Europe/Berlin", 6.0)
    app.include_router(build_prometheus_router())
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert "buergerbot_eventlog_write_errors_total" in response.text
    assert "buergerbot_conversations_total" not in response.text  # no figures rather than wrong ones


def test_report_html_and_csv(metrics: Metrics, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    view = build_view(metrics, MetricsQuery(DAY1, DAY2), settings)
    import datetime as dt

    html = render_report(view, dt.datetime(2026, 11, 20, 10, 0))
    assert '<html lang="de">' in html and "Methode und Einschränkungen" in html
    assert "Wo der Bot die Mitarbeitenden am meisten entlastet" in html
    assert "Hund" in html  # the content-gap group
    assert re.search(r"rund 0 Arbeitsstunden", html)  # 20 minutes
    rows = list(csv.reader(io.StringIO(csv_text(view)), delimiter=";"))
    assert ["gesamt", "2026-11-02..2026-11-03", "contained", "2"] in rows
    assert ["services", "personalausweis", "minutes_saved", "20.0"] in rows


@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium not installed (/usr/bin/chromium)")
@pytest.mark.slow  # real Chromium
def test_report_renders_to_pdf_in_headless_chromium(metrics: Metrics, tmp_path: Path) -> None:
    import datetime as dt

    view = build_view(metrics, MetricsQuery(DAY1, DAY2), Settings(data_dir=tmp_path))
    output = tmp_path / "bericht.pdf"
    errors = html_to_pdf(render_report(view, dt.datetime(2026, 11, 20)), output)
    assert errors == []
    assert output.read_bytes().startswith(b"%PDF") and output.stat().st_size > 10_000


# --- issue 16, item 11: what a supervisor reads on the dashboard ------------------------------------


def _dashboard(client: TestClient, **params: str) -> tuple[int, str]:
    response = client.get("/metrics/dashboard", params=params or PERIOD, headers={"X-Role": "supervisor"})
    return response.status_code, response.text


def test_dashboard_names_teams_and_keeps_each_chart_on_its_own(client: TestClient) -> None:
    _status, html = _dashboard(client)
    assert "Kfz-Zulassung und Führerschein" in html and "Bürgerbüro" in html  # names from the teams file
    assert ">kfz<" not in html and ">buergerbuero<" not in html  # never the raw ids in cells or options
    assert 'value="kfz"' in html  # the filter still sends the id
    figures = re.findall(r'<figure class="chart-figure"><figcaption>(.*?)</figcaption>(.*?)</figure>', html, re.S)
    captions = [caption for caption, _svg in figures]
    assert any(c.startswith("Gründe für Übergaben") for c in captions)
    assert any(c.startswith("Unterhaltungen nach Kanal") for c in captions)
    assert all(svg.count("<svg") == 1 for _caption, svg in figures)  # one chart per caption, never two stacked
    reasons = next(svg for caption, svg in figures if caption.startswith("Gründe"))
    assert "Telegram" not in reasons and "Website" not in reasons  # channels are not handoff reasons


def test_dashboard_dates_are_german_and_typos_are_explained(client: TestClient) -> None:
    _status, html = _dashboard(client)
    assert 'type="date"' not in html  # the browser would show its own locale's format
    assert 'value="02.11.2026"' in html and 'value="03.11.2026"' in html and "TT.MM.JJJJ" in html
    status, typed = _dashboard(client, **{"from": "2.11.2026", "to": "03.11.2026"})
    assert status == 200 and 'value="02.11.2026"' in typed and "25,0 %" in typed  # the same figures as ISO dates
    status, wrong = _dashboard(client, **{"from": "31.02.2026", "to": "03.11.2026"})
    assert status == 422 and 'role="alert"' in wrong and "TT.MM.JJJJ" in wrong and 'value="31.02.2026"' in wrong
    api = client.get("/api/metrics/summary", params={"from": "gestern"}, headers={"X-Role": "supervisor"})
    assert api.status_code == 422 and "TT.MM.JJJJ" in api.json()["detail"]
    german = client.get("/api/metrics/summary", params={"from": "02.11.2026", "to": "03.11.2026"},
                        headers={"X-Role": "supervisor"})  # fmt: skip
    assert german.json()["summary"]["conversations"] == 8


def test_dashboard_links_back_to_the_console(metrics: Metrics, tmp_path: Path) -> None:
    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path)
    app.state.metrics = metrics
    app.include_router(build_metrics_router(require_supervisor, console_url="/console"))
    html = TestClient(app).get("/metrics/dashboard", params=PERIOD, headers={"X-Role": "supervisor"}).text
    assert re.search(r'<a class="back" href="/console">[^<]*Mitarbeiterkonsole</a>', html)
