"""The `buergerbot` command: ingest content, ask and evaluate, serve the gateway."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bot.settings import get_settings

app = typer.Typer(add_completion=False, help="buergerbot – Bürgerservice-Assistent (CLI).", no_args_is_help=True)
err = Console(stderr=True)


def _progress_hook(progress: Progress) -> object:
    tasks: dict[str, TaskID] = {}
    labels = {"embed": "Passagen einbetten", "calibrate": "Konfidenz kalibrieren"}

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
    questions: Annotated[Path, typer.Option("--questions", help="JSON lines with question/service/expect.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    through: Annotated[str, typer.Option("--through", help="'retrieval' (in process) or 'bot' (running stack)")] = (
        "retrieval"
    ),
    url: Annotated[str | None, typer.Option(help="Gateway URL for --through bot; default from settings.")] = None,
) -> None:
    """Compare hybrid retrieval with the bm25 and dense baselines on the same questions."""
    from knowledge.answering import Answerer
    from knowledge.evaluation import evaluate, load_questions
    from knowledge.ingest import ensure_index

    settings = get_settings()
    items = load_questions(questions)
    if through == "bot":
        import httpx

        from bot.bot_eval import evaluate_through_bot

        base = url or f"http://{settings.host}:{settings.port}"
        try:
            bot_figures = evaluate_through_bot(base, items)
        except httpx.HTTPError as exc:
            err.print(f"[red]Gateway unter {base} nicht erreichbar ({exc}).[/red] Bitte zuerst `make run` starten.")
            raise typer.Exit(2) from exc
        result = evaluate(Answerer(ensure_index(settings)), items)
        result["systems"]["bot"] = bot_figures  # type: ignore[index]
    elif through == "retrieval":
        result = evaluate(Answerer(ensure_index(settings)), items)
    else:
        raise typer.BadParameter("--through must be 'retrieval' or 'bot'")
    if as_json:
        print(json.dumps(result, indent=1))
        return
    systems: dict[str, dict[str, float]] = result["systems"]  # type: ignore[assignment]
    print(f"n={result['n']}")
    for name, figures in systems.items():
        print(f"{name:7} " + "  ".join(f"{key}={value}" for key, value in figures.items()))


@app.command("eval-omosqa")
def eval_omosqa(
    pages: Annotated[Path, typer.Option("--pages", help="pages_de.jsonl of the OMoS-QA dataset")],
    questions: Annotated[Path, typer.Option("--questions", help="dev_de.json (or another split)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    train: Annotated[bool, typer.Option("--train", help="Refit on train_*.json next to --questions.")] = False,
) -> None:
    """OMoS-QA benchmark: page retrieval and answer-sentence extraction on real municipal pages (CC BY 4.0)."""
    from knowledge.omosqa.cli import eval_omosqa_command

    eval_omosqa_command(pages, questions, as_json, train)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the gateway (HTTP API, later widget and channels)."""
    import uvicorn

    from bot.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
