"""Charts as inline SVG, generated on the server.

Why server-side SVG: the dashboard runs under a Content-Security-Policy without 'unsafe-inline'
and must not load third-party code, and the council report must render identically in HTML and
PDF. SVG strings from Python need no JavaScript at all, print sharply, and every chart gets a
<title>/<desc> for screen readers (the pages also show the numbers as tables next to the charts).
Colours: dark blue and dark orange on white, both above 4.5:1 contrast.
"""

from __future__ import annotations

import itertools
import math
from html import escape

from wording import texts

BLUE = "#0b4f8a"
ORANGE = "#a34700"
GREY = "#5f6b76"
GRID = "#d5dbe1"
TEXT = "#1a1a1a"
_ids = itertools.count(1)


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", ".")
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}".replace(".", ",")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _nice_step(raw: float) -> float:
    """A readable grid step (1, 2, 2.5 or 5 times a power of ten) of at least `raw`."""
    if raw <= 0:
        return 0.25
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 2.5, 5, 10) if raw <= m * base + 1e-9)


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="chart-t{n} chart-d{n}" class="chart" font-family="sans-serif" font-size="12">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def bar_chart(items: list[tuple[str, float]], title: str, unit: str = "", width: int = 640) -> str:
    """Horizontal bars, largest first as given; label left, value right of the bar."""
    if not items:
        return empty_chart(title, width)
    row_h, label_w, value_w = 26, 210, 70
    height = row_h * len(items) + 12
    top = _nice_max(max(v for _l, v in items))
    bar_area = width - label_w - value_w
    desc = "; ".join(f"{label}: {_fmt(value)}{unit}" for label, value in items)
    head, tail = _open(width, height, title, desc)
    parts = [head]
    for i, (label, value) in enumerate(items):
        y = 6 + i * row_h
        bar_w = max(1.0, bar_area * value / top) if value else 0
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" fill="{TEXT}">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w:.1f}" height="{row_h - 8}" fill="{BLUE}"/>'
            f'<text x="{label_w + bar_w + 6:.1f}" y="{y + 16}" fill="{TEXT}">{_fmt(value)}{escape(unit)}</text>'
        )
    parts.append(tail)
    return "".join(parts)


def line_chart(
    labels: list[str], series: list[tuple[str, list[float]]], title: str, unit: str = "", width: int = 640
) -> str:
    """One to three series over periods; legend on top, y grid with four steps."""
    if not labels:
        return empty_chart(title, width)
    height, left, right, top_pad, bottom = 260, 56, 16, 34, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = 4 * _nice_step(max((max(values) for _n, values in series if values), default=0) / 4)
    colors = (BLUE, ORANGE, GREY)
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h - plot_h * v / top

    desc = " ".join(
        f"{name}: " + ", ".join(f"{lab} {_fmt(v)}{unit}" for lab, v in zip(labels, values, strict=False)) + "."
        for name, values in series
    )
    head, tail = _open(width, height, title, desc)
    parts = [head]
    for step in range(5):
        value = top * step / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="{GREY}">{_fmt(value)}</text>'
        )
    every = max(1, (n + 7) // 8)  # at most about eight axis labels
    for i, label in enumerate(labels):
        if (i % every == 0 and n - 1 - i >= every) or i == n - 1:  # the last label never collides
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="{GREY}">'
                f"{escape(_short_period(label))}</text>"
            )
    for k, (name, values) in enumerate(series):
        color = colors[k % len(colors)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dash = "" if k == 0 else ' stroke-dasharray="6 3"'
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>')
        if n <= 31:
            parts.extend(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>' for i, v in enumerate(values)
            )
        lx = left + k * 190
        parts.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="14" y2="14" stroke="{color}" stroke-width="3"{dash}/>'
            f'<text x="{lx + 28}" y="18" fill="{TEXT}">{escape(name)}</text>'
        )
    parts.append(tail)
    return "".join(parts)


def empty_chart(title: str, width: int = 640) -> str:
    head, tail = _open(width, 60, title, texts.NO_DATA)
    return head + f'<text x="12" y="34" fill="{GREY}">{escape(texts.NO_DATA)}</text>' + tail


def _short_period(label: str) -> str:
    """2026-11-02 -> 02.11.; 2026-W45 -> KW 45; 2026-11 -> 11/2026."""
    if len(label) == 10:
        return f"{label[8:10]}.{label[5:7]}."
    if "-W" in label:
        return f"KW {label.split('-W')[1]}"
    if len(label) == 7:
        return f"{label[5:7]}/{label[:4]}"
    return label
