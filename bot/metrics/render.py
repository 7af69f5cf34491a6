"""HTML for the dashboard and the council report (Jinja2 templates, German number formats)."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.metrics import charts
from bot.metrics.service import reason_name
from wording import texts

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def pct(value: float | None) -> str:
    return "–" if value is None else f"{num(value * 100, 1)} %"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def date_de(value: str | dt.date) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day}. {texts.MONTHS_DE[day.month - 1]} {day.year}"


def date_input(value: str | dt.date) -> str:
    """2026-11-02 -> 02.11.2026: how German staff type and read a date (not the browser's locale)."""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d.%m.%Y")


def parse_date(text: str) -> dt.date:
    """A date as typed in German (02.11.2026, 2.11.26) or ISO (2026-11-02, as links and the API use)."""
    text = text.strip()
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})", text)
    if german:
        day, month, year = (int(part) for part in german.groups())
        return dt.date(year + 2000 if year < 100 else year, month, day)
    return dt.date.fromisoformat(text)


def period_de(label: str) -> str:
    if len(label) == 10:
        return dt.date.fromisoformat(label).strftime("%d.%m.%Y")
    if "-W" in label:
        year, week = label.split("-W")
        return f"KW {int(week)}/{year}"
    return f"{texts.MONTHS_DE[int(label[5:7]) - 1]} {label[:4]}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(num=num, pct=pct, duration=duration, date_de=date_de, period_de=period_de, date_input=date_input)
    env.globals.update(channel_name=lambda c: texts.METRICS_CHANNEL_NAMES.get(c, c), reason_name=reason_name)
    return env


def _figure(svg: str, caption: str) -> Markup:
    """A chart with a visible caption: stacked SVGs without one read as a single chart mixing topics."""
    return Markup('<figure class="chart-figure"><figcaption>{}</figcaption>{}</figure>').format(caption, Markup(svg))


def view_charts(view: dict[str, Any], top_services: int = 10) -> dict[str, Markup]:
    """The charts of a view, each a <figure> with its caption (SVG built by bot.metrics.charts, labels escaped)."""
    return {name: _figure(svg, _CAPTIONS[name]) for name, svg in _chart_svgs(view, top_services).items()}


_CAPTIONS = texts.CHART_CAPTIONS
_TITLES = texts.CHART_TITLES
_SERIES = texts.CHART_SERIES


def _chart_svgs(view: dict[str, Any], top_services: int) -> dict[str, str]:
    trend = view["trend"]
    labels = [row["period"] for row in trend]
    services = [row for row in view["services"] if row["service"] != "-"][:top_services]
    return {
        "trend": (
            charts.line_chart(
                labels,
                [
                    (_SERIES["conversations"], [row["conversations"] for row in trend]),
                    (_SERIES["contained"], [row["contained"] for row in trend]),
                    (_SERIES["handoffs"], [row["handoffs"] for row in trend]),
                ],
                _TITLES["trend"],
            )
        ),
        "saved": (
            charts.line_chart(
                labels,
                [(_SERIES["hours_saved"], [round(row["minutes_saved"] / 60, 1) for row in trend])],
                _TITLES["saved"],
                unit=" h",
            )
        ),
        "services": (
            charts.bar_chart(
                [(row["title"], round(row["minutes_saved"] / 60, 1)) for row in services],
                _TITLES["services"],
                unit=" h",
            )
        ),
        "demand": (charts.bar_chart([(row["title"], row["conversations"]) for row in services], _TITLES["demand"])),
        "reasons": (
            charts.bar_chart(
                [
                    (reason_name(r), n)
                    for r, n in sorted(view["summary"]["handoff_reasons"].items(), key=lambda kv: -kv[1])
                ],
                _TITLES["reasons"],
            )
        ),
        "channels": (
            charts.bar_chart(
                [
                    (texts.METRICS_CHANNEL_NAMES.get(row["channel"], row["channel"]), row["conversations"])
                    for row in view["channels"]
                ],
                _TITLES["channels"],
            )
        ),
    }


def render_dashboard(
    view: dict[str, Any],
    options: dict[str, Any],
    base: str,
    console_url: str | None = None,
    error: str | None = None,
    typed: dict[str, str] | None = None,
) -> str:
    """The dashboard page; `typed` keeps what the supervisor entered when a date could not be read."""
    return (
        environment()
        .get_template("dashboard.html")
        .render(
            view=view, charts=view_charts(view), options=options, base=base, console_url=console_url,
            error=error, typed=typed or {},
        )
    )  # fmt: skip


def render_report(view: dict[str, Any], generated: dt.datetime) -> str:
    css = (STATIC / "metrics.css").read_text(encoding="utf-8")
    return (
        environment()
        .get_template("report.html")
        .render(view=view, charts=view_charts(view), css=Markup(css), generated=generated)
    )
