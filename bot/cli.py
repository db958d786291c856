"""The `draftsmith` command: serve, worker, run, runs, doctor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.errors import DraftsmithError

app = typer.Typer(
    help="Draftsmith: labelled issues become tested draft pull requests.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
logger = logging.getLogger("draftsmith")


def _settings() -> Settings:
    from bot.runtime import setup_process

    try:
        settings = load_settings()
        setup_process(settings)
    except DraftsmithError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


def _fail(exc: DraftsmithError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc.message}")
    if exc.hint:
        console.print(f"  what to do: {exc.hint}")
    return typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    insecure_dev: Annotated[
        bool, typer.Option("--insecure-dev", help="Accept unsigned webhooks (development only).")
    ] = False,
    embedded_worker: Annotated[
        bool, typer.Option(help="Run consumer threads in this process.")
    ] = True,
) -> None:
    """Run the webhook server with an embedded worker."""
    import uvicorn

    from bot.runtime import Runtime
    from webhooks.app import create_app

    settings = _settings()
    if settings.webhook_secret is None and not insecure_dev:
        console.print(
            "[red]refusing to start:[/red] DRAFTSMITH_WEBHOOK_SECRET is not set, so webhooks "
            "could not be verified.\n  what to do: set it to the App's webhook secret, or pass "
            "--insecure-dev for local development only."
        )
        raise typer.Exit(2)
    if settings.webhook_secret is None:
        console.print("[yellow]warning:[/yellow] --insecure-dev: webhook signatures NOT verified")
    try:
        runtime = Runtime.from_settings(settings)
        runtime.store.migrate()
    except DraftsmithError as exc:
        raise _fail(exc) from exc
    from webhooks.dashboard import exposure_warning

    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    warning = exposure_warning(host, token)
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    web = create_app(
        dashboard_token=token,
        store=runtime.store,
        queue=runtime.queue,
        webhook_secret=secret,
        app_id=settings.github_app_id,
        max_body_bytes=settings.max_body_bytes,
        on_startup=runtime.start_embedded if embedded_worker else runtime.start_catch_up,
        on_shutdown=runtime.stop,
    )
    uvicorn.run(web, host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Consumer threads.")] = None,
) -> None:
    """Run a worker only (scale-out: many workers share one Redis and one PostgreSQL)."""
    from bot.runtime import Runtime

    settings = _settings()
    try:
        runtime = Runtime.from_settings(settings)
        runtime.store.migrate()
        runtime.run_worker(workers or settings.workers)
    except DraftsmithError as exc:
        raise _fail(exc) from exc


@app.command()
def runs(
    run_id: Annotated[int | None, typer.Argument(help="Show one run.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    repo: Annotated[str | None, typer.Option(help="Only runs of this owner/name.")] = None,
) -> None:
    """List runs, or show one run's phases, cost and artifacts."""
    from bot.store import Store, as_aware, utcnow

    settings = _settings()
    store = Store(settings.database_url)
    out = Console()
    try:
        store.migrate()
        if run_id is None:
            table = Table("id", "repo", "issue", "status", "phase", "cost", "age")
            for r in store.list_runs(status=status, repo=repo):
                created = as_aware(r.created_at) or utcnow()
                age = utcnow() - created
                table.add_row(
                    str(r.id),
                    r.repo,
                    str(r.issue_number or "-"),
                    r.status,
                    r.phase,
                    f"${r.cost_usd:.4f}",
                    f"{int(age.total_seconds() // 60)}m",
                )
            out.print(table)
            return
        run = store.get_run(run_id)
        out.print(
            f"run {run.id}  {run.repo}#{run.issue_number}  status={run.status} "
            f"phase={run.phase} branch={run.branch or '-'} pr={run.pr_number or '-'}"
        )
        if run.status_reason:
            out.print(f"reason: {run.status_reason}")
        out.print(f"tokens={run.tokens_used} cost=${run.cost_usd:.4f} tool_calls={run.tool_calls}")
        table = Table("phase", "attempt", "outcome", "seconds", "tokens", "cost")
        for p in store.phases(run_id):
            start, end = as_aware(p.started_at), as_aware(p.finished_at)
            secs = f"{(end - start).total_seconds():.2f}" if start and end else "-"
            table.add_row(
                p.name,
                str(p.attempt),
                p.outcome or "running",
                secs,
                str(p.tokens),
                f"${p.cost_usd:.4f}",
            )
        out.print(table)
        for a in store.artifacts(run_id):
            out.print(f"artifact {a.name} ({a.media_type}, {len(a.content)} chars)")
    except DraftsmithError as exc:
        raise _fail(exc) from exc


@app.command()
def doctor() -> None:
    """Check configuration, database, queue, sandbox, model endpoint and GitHub credentials."""
    from bot.doctor import run_checks

    settings = _settings()
    out = Console()
    failed = 0
    for check in run_checks(settings):
        mark = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]"}.get(
            check.verdict, "[red]FAIL[/red]"
        )
        out.print(f"{mark:>22}  {check.name}: {check.detail}")
        if check.hint and check.verdict != "ok":
            out.print(f"{'':>8}what to do: {check.hint}")
        failed += check.verdict == "fail"
    raise typer.Exit(1 if failed else 0)


@app.command("run")
def run_local(
    repo: Annotated[Path, typer.Option(help="Path of a local git repository.")],
    request: Annotated[str | None, typer.Option(help="The change request text.")] = None,
    issue_file: Annotated[
        Path | None, typer.Option(help="A file whose first line is the title, the rest the body.")
    ] = None,
) -> None:
    """Run the whole pipeline on a local git repository, without GitHub."""
    from bot.local import run_local_pipeline

    if (request is None) == (issue_file is None):
        console.print("[red]error:[/red] give exactly one of --request TEXT or --issue-file FILE")
        raise typer.Exit(2)
    settings = _settings()
    try:
        text = request if request is not None else Path(issue_file or "").read_text()
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot read {issue_file}: {exc.strerror}")
        raise typer.Exit(2) from exc
    try:
        code = run_local_pipeline(settings, repo, text, Console())
    except DraftsmithError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code)


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    main()
