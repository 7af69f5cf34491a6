"""`buergerbot report`: the council report as HTML, PDF (headless Chromium) or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

from bot.metrics.render import render_report

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    """Debian's chromium (never a downloaded browser)."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def write_html(view: dict[str, Any], output: Path) -> Path:
    output.write_text(render_report(view, dt.datetime.now()), encoding="utf-8")
    return output


def html_to_pdf(html: str, output: Path, chromium: str | None = None) -> list[str]:
    """Print the report with headless Chromium to A4; returns console errors (should be empty).

    Runs in its own thread: Playwright's sync API refuses to start where an asyncio loop or another
    Playwright session already runs (inside the gateway, or in a test session that drives a browser).
    """
    from concurrent.futures import ThreadPoolExecutor

    executable = chromium or find_chromium()
    if executable is None:
        raise RuntimeError("Chromium nicht gefunden (erwartet: /usr/bin/chromium, Debian-Paket 'chromium').")
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(_print_pdf, html, output, executable).result()


def _print_pdf(html: str, output: Path, executable: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            page.pdf(
                path=str(output),
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=(
                    '<div style="font-size:8px;width:100%;text-align:center;color:#4a5560">'
                    'Bürgerbot – Bericht für den Stadtrat · Seite <span class="pageNumber"></span> von '
                    '<span class="totalPages"></span></div>'
                ),
            )
        finally:
            browser.close()
    return errors


def write_pdf(view: dict[str, Any], output: Path) -> list[str]:
    return html_to_pdf(render_report(view, dt.datetime.now()), output)


def csv_text(view: dict[str, Any]) -> str:
    """One long table (section, key, metric, value): easy to open in a spreadsheet, semicolon-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["bereich", "schluessel", "kennzahl", "wert"])
    period = f"{view['period']['from']}..{view['period']['to']}"
    for metric, value in view["summary"].items():
        if isinstance(value, dict):
            for key, n in value.items():
                writer.writerow(["gesamt", period, f"{metric}:{key}", n])
        else:
            writer.writerow(["gesamt", period, metric, "" if value is None else value])
    for section, key in (("trend", "period"), ("services", "service"), ("channels", "channel"), ("teams", "team")):
        for row in view[section]:
            for metric, value in row.items():
                if metric in (key, "title") or isinstance(value, dict):
                    continue
                writer.writerow([section, row[key], metric, "" if value is None else value])
    for gap in view["gaps"]:
        writer.writerow(["inhaltsluecken", gap["label"], "fragen", gap["count"]])
    return buffer.getvalue()


def write_csv(view: dict[str, Any], output: Path) -> Path:
    output.write_text(csv_text(view), encoding="utf-8-sig")  # BOM: Excel opens umlauts correctly
    return output
