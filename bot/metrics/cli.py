"""CLI commands of the event log and metrics: `db upgrade`, `retention`, `report`, `simulate`.

Kept here and registered into `bot.cli` with one call, so the shared CLI module stays small.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.settings import get_settings

err = Console(stderr=True)
db_app = typer.Typer(help="Datenbank des Ereignisprotokolls verwalten.", no_args_is_help=True)


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"Datum im Format JJJJ-MM-TT erwartet, nicht {value!r}") from exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (the gateway also does this on start)."""
    from bot.eventlog.db import current_revision, engine_for, ensure_sqlite_dir, upgrade

    settings = get_settings()
    ensure_sqlite_dir(settings.eventlog_url)
    engine = engine_for(settings.eventlog_url)
    upgrade(engine)
    err.print(f"Schema auf Stand {current_revision(engine)} ({engine.url.render_as_string(hide_password=True)})")


def retention(
    days: Annotated[int | None, typer.Option(help="Override BUERGERBOT_RETENTION_DAYS.")] = None,
) -> None:
    """Delete transcripts and raw events older than N days; anonymous daily figures are kept."""
    from bot.eventlog.db import engine_for, ensure_sqlite_dir, upgrade
    from bot.metrics.retention import run_retention

    settings = get_settings()
    ensure_sqlite_dir(settings.eventlog_url)
    engine = engine_for(settings.eventlog_url)
    upgrade(engine)
    result = run_retention(engine, days or settings.retention_days, settings.metrics_timezone)
    err.print(
        f"Vor dem {result.cutoff_day} begonnene Unterhaltungen: {result.conversations} zusammengefasst; "
        f"gelöscht: {result.events_deleted} Ereignisse, {result.messages_deleted} Nachrichten."
    )


def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="Target file.")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or csv")] = "html",
    first: Annotated[str | None, typer.Option("--from", help="First day YYYY-MM-DD (default: 30 days ago).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day YYYY-MM-DD (default: today).")] = None,
    flush: Annotated[bool, typer.Option(help="First write events still waiting in Redis.")] = True,
) -> None:
    """Write the German report for the city council (headline figures, trends, services, content gaps)."""
    from bot.eventlog.db import engine_for, ensure_sqlite_dir, upgrade
    from bot.metrics.compute import MetricsQuery, default_period
    from bot.metrics.report import write_csv, write_html, write_pdf
    from bot.metrics.service import build_view, metrics_from_settings

    if fmt not in ("html", "pdf", "csv"):
        raise typer.BadParameter("--format muss html, pdf oder csv sein")
    settings = get_settings()
    ensure_sqlite_dir(settings.eventlog_url)
    upgrade(engine_for(settings.eventlog_url))
    if flush:
        _flush_redis(settings)
    metrics = metrics_from_settings(settings)
    default_first, default_last = default_period(settings.metrics_timezone)
    query = MetricsQuery(_date(first) or default_first, _date(last) or default_last)
    if query.last < query.first:
        raise typer.BadParameter("--from liegt nach --to")
    started = time.perf_counter()
    view = build_view(metrics, query, settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        write_html(view, output)
    elif fmt == "csv":
        write_csv(view, output)
    else:
        errors = write_pdf(view, output)
        for message in errors:
            err.print(f"[yellow]Browser-Meldung:[/yellow] {message}")
    seconds = time.perf_counter() - started
    s = view["summary"]
    err.print(
        f"Bericht {query.first} bis {query.last}: {s['conversations']} Unterhaltungen, "
        f"{s['hours_saved']} h geschätzt eingespart → {output} ({seconds:.1f} s)"
    )


def _flush_redis(settings: object) -> None:
    """Write what the gateway's writer has not written yet (e.g. right after a simulation)."""
    import redis

    from bot.eventlog.writer import writer_from_settings
    from bot.metrics.retention import retention_for

    url = getattr(settings, "redis_url", None)
    if not url:
        return  # embedded Redis only lives while the gateway runs; its writer flushes itself
    try:
        writer_from_settings(settings, redis.Redis.from_url(url), retention_for(settings)).drain()  # type: ignore[arg-type]
    except redis.RedisError as exc:
        err.print(f"[yellow]Redis nicht erreichbar, Bericht ohne noch nicht geschriebene Ereignisse:[/yellow] {exc}")


def simulate(
    url: Annotated[str | None, typer.Option(help="Gateway URL; default http://host:port from settings.")] = None,
    conversations: Annotated[int, typer.Option(help="Number of simulated citizens.")] = 50,
    concurrency: Annotated[int, typer.Option(help="Citizens talking at the same time.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same citizens).")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    staff_user: Annotated[str | None, typer.Option(help="Console account that works the queue meanwhile.")] = None,
    staff_password_file: Annotated[Path | None, typer.Option(help="File holding that account's password.")] = None,
) -> None:
    """Drive the running gateway with realistic citizen traffic through its public REST API.

    The traffic generator is a development tool in `bench/` (not installed with the product), so this
    command needs a source checkout.
    """
    import httpx

    try:
        from bench.simulate import run_simulation
    except ImportError as exc:
        raise typer.BadParameter("simulate braucht einen Quellcode-Checkout (bench/ ist nicht installiert)") from exc

    settings = get_settings()
    base = url or f"http://{settings.host}:{settings.port}"
    try:
        staff = None
        if staff_user:
            if staff_password_file is None:
                err.print("[red]--staff-password-file fehlt.[/red]")
                raise typer.Exit(2)
            staff = (staff_user, staff_password_file.read_text(encoding="utf-8").strip())
        result = run_simulation(
            base, conversations, concurrency=concurrency, seed=seed, content_dir=settings.content_dir, staff=staff
        )
    except httpx.HTTPError as exc:
        err.print(f"[red]Gateway unter {base} nicht erreichbar ({exc}).[/red] Bitte zuerst `buergerbot serve` starten.")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        err.print(
            f"{result['conversations']} Unterhaltungen, {result['messages']} Nachrichten, "
            f"{result['handoff_requests']} Bitten um Mitarbeitende, {result['feedback']} Bewertungen, "
            f"{result['errors']} Fehler ({result['seconds']:.1f} s)"
        )
        if staff:
            err.print(
                f"Mitarbeitende: {result.get('staff_taken', 0)} übernommen, {result.get('staff_handed_back', 0)} "
                f"zurückgegeben, {result.get('staff_closed', 0)} beendet, {result.get('staff_errors', 0)} Fehler"
            )


def register_metrics_commands(app: typer.Typer) -> None:
    """Add the commands to the main `buergerbot` CLI."""
    app.add_typer(db_app, name="db")
    app.command("retention")(retention)
    app.command("report")(report)
    app.command("simulate")(simulate)
