"""The `draftsmith` command as a user runs it: a real subprocess, real exit codes and output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from bot.run.states import Status
from bot.store.runs import Store
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.runs import seed_state


def draftsmith(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    result = draftsmith(
        "serve",
        "--port",
        "0",
        env={
            "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        },
    )
    assert result.returncode == 2
    assert "DRAFTSMITH_WEBHOOK_SECRET is not set" in result.stderr
    assert "--insecure-dev" in result.stderr


def test_a_placeholder_secret_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    result = draftsmith("serve", env={"DRAFTSMITH_WEBHOOK_SECRET": "changeme"})
    assert result.returncode == 2
    assert "DRAFTSMITH_WEBHOOK_SECRET" in result.stderr and "placeholder" in result.stderr


def test_run_without_a_model_says_which_variables_to_set(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    result = draftsmith(
        "run",
        "--repo",
        str(repo),
        "--request",
        "Add subtract",
        env={
            "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        },
    )
    assert result.returncode == 2
    assert "DRAFTSMITH_MODEL" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_on_a_directory_that_is_not_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    result = draftsmith(
        "run",
        "--repo",
        str(tmp_path),
        "--request",
        "x",
        env={
            "DRAFTSMITH_MODEL": "m",
            "OPENAI_API_KEY": "sk-test-000000000000000000",
        },
    )
    assert result.returncode == 2
    assert "is not a git repository" in result.stderr


def test_runs_lists_and_shows_runs_from_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url)
    store.migrate()
    run, _ = store.create_run(
        repo="octo/widgets",
        issue_number=7,
        clone_url="file:///x",
        title="Add a widget",
        request="r",
    )
    phase = store.start_phase(run.id, "planning", 0)
    store.finish_phase(phase, "done", tokens=321, cost_usd=0.0123)
    seed_state(store, run.id, status=Status.failed, status_reason="clone failed")
    listing = draftsmith("runs", env={"DRAFTSMITH_DATABASE_URL": url})
    assert listing.returncode == 0, listing.stderr
    assert "octo/widgets" in listing.stdout and "failed" in listing.stdout
    shown = draftsmith("runs", str(run.id), env={"DRAFTSMITH_DATABASE_URL": url})
    assert shown.returncode == 0, shown.stderr
    assert "reason: clone failed" in shown.stdout
    assert "planning" in shown.stdout and "321" in shown.stdout
    missing = draftsmith("runs", "999", env={"DRAFTSMITH_DATABASE_URL": url})
    assert missing.returncode == 2 and "no run 999" in missing.stderr


def test_doctor_gives_a_verdict_per_dependency(tmp_path: Path) -> None:
    result = draftsmith(
        "doctor",
        env={
            "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}",
            "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
            "DRAFTSMITH_DASHBOARD_HOST": "0.0.0.0",
        },
        timeout=120,
    )
    assert result.returncode == 1  # no model and no App configured here
    lines = result.stdout
    for name in (
        "settings",
        "dashboard",
        "database",
        "queue",
        "sandbox",
        "model",
        "prices",
        "github",
    ):
        assert f"{name}:" in lines
    assert "warn  dashboard: the dashboard and /metrics are public on 0.0.0.0:8001" in lines
    assert "database: sqlite" in lines
    assert "sandbox: bwrap" in lines
    assert "what to do: set DRAFTSMITH_MODEL" in lines
    # the report alone: no log lines on stdout, and nothing below a warning on stderr
    assert not [line for line in lines.splitlines() if line.lstrip().startswith("{")]
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [r for r in logged if r["level"] not in ("warning", "error", "critical")] == []


def test_doctor_warns_when_the_model_has_no_price(tmp_path: Path) -> None:
    env = {
        "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_MODEL": "my-local-model",
    }
    unpriced = draftsmith("doctor", env=env, timeout=120).stdout
    assert "prices: no price for my-local-model" in unpriced
    assert "DRAFTSMITH_MODEL_PRICES" in unpriced
    prices = '{"my-local-model": {"input": 0.5, "output": 1.5}}'
    priced = draftsmith("doctor", env={**env, "DRAFTSMITH_MODEL_PRICES": prices}, timeout=120)
    assert "prices: " in priced.stdout and "no price" not in priced.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_keeps_the_dashboard_off_the_webhook_listener_without_a_token(
    tmp_path: Path,
) -> None:
    webhooks_port, dashboard_port = _free_port(), _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OPENAI_"))}
    env = {
        **clean,
        "DRAFTSMITH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_DASHBOARD_PORT": str(dashboard_port),
    }
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--insecure-dev",
        "--host",
        "127.0.0.1",
        "--port",
        str(webhooks_port),
    ]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        said: list[str] = []
        for line in server.stderr:
            said.append(line)
            if sum("Uvicorn running on" in seen for seen in said) == 2:
                break
        output = "".join(said)
        assert f"served only on http://127.0.0.1:{dashboard_port} (this machine)" in output
        public, private = f"http://127.0.0.1:{webhooks_port}", f"http://127.0.0.1:{dashboard_port}"
        assert httpx.get(f"{public}/healthz").status_code == 200
        for path in ("/runs", "/metrics", "/runs/1"):
            assert httpx.get(f"{public}{path}").status_code == 404
        assert httpx.get(f"{private}/runs").status_code == 200
        assert "draftsmith_runs" in httpx.get(f"{private}/metrics").text
        assert httpx.post(f"{private}/webhooks/github").status_code == 404
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
