"""The `draftsmith` command: serve, worker, run, runs, doctor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.shared.config import Settings, load_settings
from bot.shared.errors import DraftsmithError

app = typer.Typer(
    help="Draftsmith: labelled issues become tested draft pull requests.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
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
    intake_processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Processes answering webhooks on the port (SO_REUSEPORT): this one and N-1 more.",
        ),
    ] = 1,
) -> None:
    """Run the webhook server with an embedded worker (and the dashboard's own listener)."""
    from bot.runtime import Runtime
    from bot.runtime.serving import webhook_app

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
    from bot.observe.exposure import dashboard_exposure
    from webhooks.intake_processes import IntakeProcesses
    from webhooks.listeners import Listener, create_dashboard_app, serve_listeners

    exposure = dashboard_exposure(
        token=settings.dashboard_token.get_secret_value() if settings.dashboard_token else None,
        webhook_host=host,
        webhook_port=port,
        host=settings.dashboard_host,
        port=settings.dashboard_port,
    )
    if exposure.public_without_token:
        console.print(f"[yellow]warning:[/yellow] {exposure.message}")
    else:
        console.print(f"dashboard: {exposure.message}")
    web = webhook_app(runtime, embedded_worker=embedded_worker)
    shared = intake_processes > 1
    listeners = [Listener("webhooks", web, host, port, reuse_port=shared)]
    if not exposure.on_webhook_listener:
        dashboard = create_dashboard_app(runtime.store, trace_url_template=settings.trace_url)
        listeners.append(Listener("dashboard", dashboard, exposure.host, exposure.port))
    intake = IntakeProcesses(intake_processes, host, port)
    if shared:
        intake.start()
        console.print(f"intake: {intake_processes} processes share port {port}")
    try:
        started = serve_listeners(listeners)
    finally:
        intake.stop()
    if not started:
        console.print(
            "[red]error:[/red] a listener could not start (see the log above); nothing is served."
            "\n  what to do: free the port, or choose another with --port or "
            "DRAFTSMITH_DASHBOARD_PORT."
        )
        raise typer.Exit(1)


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
    """List runs, or show one run's phases, costs per agent and artifacts."""
    from bot.model.usage import format_cost as money
    from bot.observe import runview
    from bot.store.runs import Store

    settings = _settings()
    store = Store(settings.database_url)
    out = Console(soft_wrap=True)
    try:
        store.migrate()
        if run_id is None:
            table = Table("id", "repo", "issue", "status", "phase", "cost", "age", "trace")
            for r in runview.list_runs(store, status=status, repo=repo):
                table.add_row(
                    str(r.id),
                    r.repo,
                    str(r.issue or "-"),
                    r.status,
                    r.phase,
                    money(r.cost_usd),
                    r.age,
                    r.trace_id or "-",
                )
            out.print(table)
            return
        detail = runview.run_detail(store, run_id)
        r = detail.run
        out.print(
            f"run {r.id}  {r.repo}#{r.issue or '-'}  status={r.status} phase={r.phase} "
            f"revision={r.revision} branch={detail.branch or '-'} pr={r.pr_url or '-'}"
        )
        if detail.status_reason:
            out.print(f"reason: {detail.status_reason}")
        out.print(
            f"tokens={r.tokens} cost={money(r.cost_usd)} tool_calls={detail.tool_calls} "
            f"duration={detail.duration_s:.1f}s trace={r.trace_id or '-'}"
        )
        phases = Table("phase", "revision", "outcome", "seconds", "tokens", "cost")
        for p in detail.phases:
            phases.add_row(
                p.name,
                str(p.revision),
                p.outcome or "running",
                f"{p.duration_s:.2f}",
                str(p.tokens),
                money(p.cost_usd),
            )
        out.print(phases)
        agents = Table("agent", "models", "calls", "prompt tokens", "completion tokens", "cost")
        for a in detail.agents:
            agents.add_row(
                a.role,
                ", ".join(a.models),
                str(a.calls),
                str(a.prompt_tokens),
                str(a.completion_tokens),
                money(a.cost_usd),
            )
        out.print(agents)
        for artifact in detail.artifacts:
            out.print(f"artifact {artifact.name} ({artifact.media_type}, {artifact.size} chars)")
        if detail.evidence_path:
            out.print(f"evidence: {detail.evidence_path}")
    except DraftsmithError as exc:
        raise _fail(exc) from exc


@app.command()
def doctor() -> None:
    """Check configuration, database, queue, sandbox, model endpoint and GitHub credentials."""
    from bot.runtime.doctor import run_checks

    settings = _settings()
    # The report is the output: only warnings and errors are logged (to stderr) meanwhile.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    out = Console(soft_wrap=True)
    failed = 0
    for check in run_checks(settings):
        text, color = {"ok": ("ok", "green"), "warn": ("warn", "yellow")}.get(
            check.verdict, ("FAIL", "red")
        )
        out.print(f"[{color}]{text:<4}[/{color}]  {check.name}: {check.detail}")
        if check.hint and check.verdict != "ok":
            out.print(f"      what to do: {check.hint}")
        failed += check.verdict == "fail"
    raise typer.Exit(1 if failed else 0)


@app.command()
def demo(
    folder: Annotated[
        Path | None,
        typer.Option(
            help="Where the demo's repository and store go (default: a new temporary folder)."
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="Serve the dashboard with the demo's run until Ctrl-C.")
    ] = True,
    port: Annotated[int, typer.Option(help="The dashboard's port on 127.0.0.1.")] = 8001,
) -> None:
    """The whole pipeline on a bundled repository with recorded model answers: no key, no App."""
    import tempfile

    from bot.demo.run import run_demo
    from webhooks.listeners import Listener, create_dashboard_app, serve_listeners

    logging.getLogger().setLevel(logging.WARNING)
    out = Console(soft_wrap=True)  # the demo's report goes to stdout, logs to stderr
    where = folder or Path(tempfile.mkdtemp(prefix="draftsmith-demo-"))
    try:
        code, store, run_id = run_demo(where, out)
    except DraftsmithError as exc:
        raise _fail(exc) from exc
    if not serve:
        raise typer.Exit(code)
    url = f"http://127.0.0.1:{port}/runs/{run_id}"
    out.print(f"dashboard: {url} (Ctrl-C to stop)")
    dashboard = create_dashboard_app(store, trace_url_template=None)
    if not serve_listeners([Listener("dashboard", dashboard, "127.0.0.1", port)]):
        console.print(f"[red]error:[/red] port {port} is taken; what to do: pass --port")
        raise typer.Exit(1)
    raise typer.Exit(code)


@app.command()
def action() -> None:
    """Inside a GitHub Actions workflow: handle its event as the App would, then work the run
    to its end in this process (no server). Exit 0 done, 1 not converged, 2 error."""
    import os

    from bot.action.drive import action_settings, run_action, write_outputs
    from webhooks.action_event import read_event

    settings = action_settings(_settings(), os.environ)
    out = Console(soft_wrap=True)
    try:
        request = read_event(os.environ, settings.app_slug)
        outcome = run_action(settings, request, out)
    except DraftsmithError as exc:
        raise _fail(exc) from exc
    output = os.environ.get("GITHUB_OUTPUT")
    write_outputs(outcome, Path(output) if output else None)
    raise typer.Exit(outcome.code)


@app.command("run")
def run_local(
    repo: Annotated[Path, typer.Option(help="Path of a local git repository.")],
    request: Annotated[str | None, typer.Option(help="The change request text.")] = None,
    issue_file: Annotated[
        Path | None, typer.Option(help="A file whose first line is the title, the rest the body.")
    ] = None,
) -> None:
    """Run the whole pipeline on a local git repository, without GitHub."""
    from bot.runtime.local import run_local_pipeline

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
        code = run_local_pipeline(settings, repo, text, Console(soft_wrap=True))
    except DraftsmithError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code)


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    main()
