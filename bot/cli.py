"""The `buergerbot` command: ingest content, ask and evaluate, serve the gateway."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bot.metrics.cli import register_metrics_commands
from bot.settings import get_settings

app = typer.Typer(add_completion=False, help="buergerbot – Bürgerservice-Assistent (CLI).", no_args_is_help=True)
err = Console(stderr=True)


def _progress_hook(progress: Progress) -> object:
    tasks: dict[str, TaskID] = {}
    labels = {
        "embed": "Passagen einbetten",
        "cards": "Steckbriefe der Dienstleistungen einbetten",
        "calibrate": "Konfidenz kalibrieren",
    }

    def hook(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(labels.get(stage, stage), total=max(total, 1))
        progress.update(tasks[stage], completed=done, total=max(total, 1))

    return hook


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="File or directory with content.")],
    fmt: Annotated[str, typer.Option("--format", help="auto, native, html, pdf, integreat, dldb")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import content incrementally: only new or changed services are re-embedded."""
    from knowledge.ingest import ingest as run_ingest

    if not path.exists():
        err.print(f"[red]Pfad nicht gefunden:[/red] {path}")
        raise typer.Exit(2)
    settings = get_settings()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
    ) as progress:
        report = run_ingest(settings, path, fmt=fmt, progress=_progress_hook(progress))  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        err.print(
            f"Neu: {len(report.added)}  Geändert: {len(report.changed)}  Entfernt: {len(report.removed)}  "
            f"Unverändert: {len(report.unchanged)}  Fehlgeschlagen: {len(report.failed)}  "
            f"Übersprungen: {len(report.skipped)}  ({report.seconds:.1f} s)"
        )
        for failure in report.failed:
            err.print(f"  [red]Fehler[/red] {failure}")
        for skipped in report.skipped[:20]:
            err.print(f"  [yellow]Übersprungen[/yellow] {skipped}")
    if report.failed and not (report.added or report.changed or report.unchanged):
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The citizen's question; '-' reads stdin.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer one question from the official content."""
    from knowledge.answering import Answerer
    from knowledge.ingest import ensure_index

    if question == "-":
        question = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    answer = Answerer(ensure_index(get_settings())).answer(question)
    if as_json:
        print(json.dumps(answer.to_public_json(), ensure_ascii=False, indent=1))
    else:
        print(answer.text)
        print(f"\n(Konfidenz {answer.confidence:.2f})", file=sys.stderr)


@app.command("eval")
def evaluate_cmd(
    questions: Annotated[
        Path, typer.Option("--questions", help="JSON lines: question, service, expect; optional fact, also, lang.")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    through: Annotated[str, typer.Option("--through", help="'retrieval' (in process) or 'bot' (running stack)")] = (
        "retrieval"
    ),
    url: Annotated[str | None, typer.Option(help="Gateway URL for --through bot; default from settings.")] = None,
    details: Annotated[
        Path | None, typer.Option("--details", help="Write one JSON line per question: answer, ranking, verdicts.")
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Also let the model at BUERGERBOT_LLM_URL write the answers; compare both.")
    ] = False,
) -> None:
    """Score answers and rankings: hybrid (the product) against the bm25 and dense baselines."""
    from knowledge.answering import Answerer
    from knowledge.evaluation import evaluate, load_questions, write_details
    from knowledge.ingest import ensure_index

    if through not in ("retrieval", "bot"):
        raise typer.BadParameter("--through must be 'retrieval' or 'bot'")
    settings = get_settings()
    try:
        items = load_questions(questions)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err.print(f"[red]Fragendatei {questions} nicht lesbar:[/red] {exc}")
        raise typer.Exit(2) from exc
    writer = None
    if llm:
        from knowledge.llm import AnswerWriter

        writer = AnswerWriter.from_settings(settings)
        if writer is None:
            err.print("[red]--llm braucht ein Sprachmodell:[/red] bitte BUERGERBOT_LLM_URL setzen.")
            raise typer.Exit(2)
        settings = settings.model_copy(update={"llm_url": None})  # the usual figures stay extractive
    bot_figures = None
    if through == "bot":
        import httpx

        from bot.cli_eval import BotEvalError, evaluate_through_bot

        base = url or f"http://{settings.host}:{settings.port}"
        try:
            bot_figures = evaluate_through_bot(base, items)
        except BotEvalError as exc:  # the gateway answered: say what it said
            err.print(f"[red]Gateway unter {base} antwortete mit einem Fehler:[/red] {exc}")
            raise typer.Exit(2) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing answered at that address
            err.print(
                f"[red]Gateway unter {base} nicht erreichbar ({type(exc).__name__}: {exc}).[/red] "
                "Bitte zuerst `make run` starten."
            )
            raise typer.Exit(2) from exc
        except httpx.TransportError as exc:  # connected, then no (complete) answer: a slow or crashing gateway
            err.print(f"[red]Gateway unter {base}: Verbindung abgebrochen ({type(exc).__name__}: {exc}).[/red]")
            raise typer.Exit(2) from exc
    records: list[dict[str, object]] | None = [] if details else None
    answerer = Answerer(ensure_index(settings))
    result = evaluate(answerer, items, details=records)
    if bot_figures is not None:
        result["systems"]["bot"] = bot_figures
    if writer is not None:
        from knowledge.llm_eval import compare_writer

        result["llm"] = compare_writer(answerer, writer, items)
    if details and records is not None:
        write_details(details, records)
    if as_json:
        print(json.dumps(result, indent=1))
        return
    systems: dict[str, dict[str, float]] = result["systems"]
    print(f"n={result['n']}  fact_accuracy={result['fact_accuracy']} ({result['facts']} questions with a fact)")
    print(
        f"answers without a hedge: {result['sure_answers']}, right service {result['sure_precision']}; "
        f"guesses (said to be unsure): {result['guesses']}"
    )
    for name, figures in systems.items():
        print(f"{name:7} " + "  ".join(f"{key}={value}" for key, value in figures.items()))
    english = result["english"]
    if english["n"]:
        print(f"English: n={english['n']}  fact_accuracy={english['fact_accuracy']} ({english['facts']} with a fact)")
        for name, figures in english["systems"].items():
            print(f"{name:7} " + "  ".join(f"{key}={value}" for key, value in figures.items()))
    if "llm" in result:
        comparison = result["llm"]
        print(
            f"LLM: n={comparison['n']}  changed={comparison['llm_changed']}  fact_lost={comparison['fact_lost']}"
            f"  fact_gained={comparison['fact_gained']}  writer={comparison['writer']}"
        )
        for name, figures in comparison["systems"].items():
            print(f"{name:10} " + "  ".join(f"{key}={value}" for key, value in figures.items()))


@app.command("eval-omosqa")
def eval_omosqa(
    pages: Annotated[Path, typer.Option("--pages", help="pages_de.jsonl of the OMoS-QA dataset")],
    questions: Annotated[Path, typer.Option("--questions", help="dev_de.json (or another split)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    pooled: Annotated[bool, typer.Option("--pooled/--no-pooled", help="Also one index of all cities.")] = True,
    line_weights: Annotated[
        Path | None, typer.Option("--line-weights", help="Answer-line weights to evaluate instead of the shipped ones.")
    ] = None,
) -> None:
    """OMoS-QA through the product: Integreat import, one index per city, questions to the answerer (CC BY 4.0)."""
    from knowledge.omosqa.cli import eval_omosqa_command

    eval_omosqa_command(pages, questions, as_json, get_settings(), pooled, line_weights)


@app.command("train-extractor")
def train_extractor(
    corpus: Annotated[Path, typer.Option("--corpus", help="OMoS-QA folder: pages_de.jsonl and train_*.json")],
    out: Annotated[Path | None, typer.Option("--out", help="Default: knowledge/data/line_scorer.json")] = None,
    hand_set: Annotated[
        bool, typer.Option("--hand-set", help="Only choose the hand-set weights' two thresholds; write nothing")
    ] = False,
) -> None:
    """Fit the answer-line weights on OMoS-QA's train split (never dev) through the product's own index."""
    from knowledge.extraction import LEARNED_FILE
    from knowledge.omosqa.cli import train_extractor_command

    train_extractor_command(corpus, get_settings(), out or LEARNED_FILE, hand_set)


@app.command()
def apikey(
    name: Annotated[str, typer.Argument(help="Partner name: 1-32 of a-z, 0-9, '_' and '-'.")],
) -> None:
    """Create an API key for the partner REST channel; only its SHA-256 hash goes into the configuration."""
    import hashlib
    import re
    import secrets

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
        err.print("[red]Ungültiger Name:[/red] 1 bis 32 Zeichen aus a-z, 0-9, '_' und '-'.")
        raise typer.Exit(2)
    key = "bbp_" + secrets.token_urlsafe(32)
    keys = {**get_settings().partner_api_keys, name: hashlib.sha256(key.encode()).hexdigest()}
    err.print(f"Neuer API-Schlüssel für {name} (wird nur jetzt angezeigt; sicher an den Partner übergeben):")
    print(key)
    err.print("Diese Zeile in die Umgebung des Gateways übernehmen (enthält auch die bisherigen Schlüssel):")
    print(f"BUERGERBOT_PARTNER_API_KEYS='{json.dumps(keys, separators=(',', ':'))}'")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the gateway (HTTP API, later widget and channels)."""
    import uvicorn

    from bot.gateway.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info")


user_app = typer.Typer(help="Konten für die Mitarbeiter-Konsole verwalten.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _accounts():
    from bot.gateway.embedded_redis import ensure_redis, redis_client
    from connectors.console.auth import Accounts

    settings = get_settings()
    return Accounts(redis_client(ensure_redis(settings)), settings)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin")] = "agent",
    display_name: Annotated[str, typer.Option("--display-name", help="Shown to citizens, e.g. 'Frau Berger'.")] = "",
    teams: Annotated[str, typer.Option(help="Comma-separated team ids (see the teams file).")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a console account; the password is asked for (never a default) and stored as an argon2 hash."""
    from connectors.console.auth import AuthError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Passwort", hide_input=True, confirmation_prompt=True)
    team_ids = [t.strip() for t in teams.split(",") if t.strip()]
    try:
        account = _accounts().create(username, password, role, display_name or username, team_ids)
    except (AuthError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    err.print(f"Konto {account.username} ({account.role}) angelegt.")


@user_app.command("list")
def user_list() -> None:
    """List console accounts (never their password hashes)."""
    for account in _accounts().all():
        typer.echo(f"{account.username}\t{account.role}\t{account.display_name}\t{','.join(account.teams)}")


@user_app.command("remove")
def user_remove(username: Annotated[str, typer.Argument()]) -> None:
    """Delete a console account (its open sessions end with their next request)."""
    _accounts().delete(username)
    err.print(f"Konto {username} gelöscht.")


register_metrics_commands(app)  # db upgrade, retention, report, simulate


def main() -> None:
    app()


if __name__ == "__main__":
    main()
