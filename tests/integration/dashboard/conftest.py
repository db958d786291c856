"""A run store holding three runs as the pipeline leaves them, and the app served over it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.jobs.queue import TaskQueue, make_huey
from bot.run.states import Phase, Status
from bot.security.masking import Masker, process_masker, set_process_masker
from bot.shared.config import Settings
from bot.store.runs import Store
from bot.store.tables import PhaseRecord, Run, utcnow
from tests.helpers.runs import seed_state
from tests.helpers.server import serve
from webhooks.app import create_app
from webhooks.listeners import create_dashboard_app

TOKEN = "dash-token-5b1e8c0f7a"
WEBHOOK_SECRET = "webhook-secret-0c9d7e3a51"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_UI = "http://traces.example.test/trace/{trace_id}"
CHECK_RUN_ID = 9001
PLAN = {
    "summary": "Add a mul function next to add, with tests.",
    "files_to_create": [],
    "files_to_modify": ["calc/ops.py"],
    "dependencies": [],
    "architecture_notes": "Pure function beside add.",
    "acceptance_criteria": ["mul(2, 3) == 6", "mul(-1, 4) == -4"],
    "risk_level": "low",
    "out_of_scope": ["division"],
}
REVIEW_R0 = {
    "status": "needs_revision",
    "issues": [
        {
            "severity": "major",
            "category": "correctness",
            "file": "calc/ops.py",
            "line": 12,
            "problem": "mul ignores negative operands",
            "recommended_fix": "return a * b",
        }
    ],
    "suggestions": [],
    "score": 0.4,
}
REVIEW_R1 = {"status": "approved", "issues": [], "suggestions": ["add a docstring"], "score": 0.9}
TEST_R1 = {
    "status": "passed",
    "tests_passed": 14,
    "tests_failed": 0,
    "tests_skipped": 1,
    "coverage_percent": 91.5,
    "failure_details": "",
    "command": "python -m pytest -q",
    "duration_s": 3.2,
}
DIFF_R1 = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -10,3 +10,7 @@ def add(a, b):
     return a + b
+
+def mul(a, b):
+    return a * b
-# TODO mul
"""
# (phase, revision, start offset s, duration s, outcome, tokens, cost)
TIMELINE = [
    ("planning", 0, 0, 20, "planned", 1200, 0.0011),
    ("coding", 0, 20, 45, "coded", 3400, 0.0031),
    ("reviewing", 0, 65, 15, "needs_revision", 900, 0.0009),
    ("coding", 1, 80, 30, "coded", 2500, 0.0024),
    ("reviewing", 1, 110, 10, "approved", 800, 0.0008),
    ("testing", 1, 120, 50, "passed", 0, 0.0),
    ("deploying", 1, 170, 10, "opened", 0, 0.0),
]
MODEL_CALLS = [
    ("planner", "gpt-4o-mini", 1000, 200, 0.0011, 2.5),
    ("coder", "gpt-4.1-mini", 2400, 1000, 0.0031, 9.0),
    ("reviewer", "gpt-4o-mini", 700, 200, 0.0009, 3.0),
    ("coder", "gpt-4.1-mini", 1800, 700, 0.0024, 6.0),
    ("reviewer", "gpt-4o-mini", 600, 200, 0.0008, 2.0),
]


@dataclass
class Seeded:
    """The seeded store and the ids of its runs."""

    store: Store
    done: int
    failed: int
    running: int


def _phase(
    store: Store,
    run_id: int,
    name: str,
    rev: int,
    start_s: float,
    dur_s: float,
    outcome: str | None,
    tokens: int,
    cost: float,
) -> None:
    began = utcnow() - timedelta(hours=1) + timedelta(seconds=start_s)
    phase_id = store.start_phase(run_id, name, rev)
    if outcome is not None:
        store.finish_phase(phase_id, outcome, tokens=tokens, cost_usd=cost)
    with store.session() as s:
        s.execute(
            update(PhaseRecord)
            .where(PhaseRecord.id == phase_id)
            .values(
                started_at=began,
                finished_at=began + timedelta(seconds=dur_s) if outcome is not None else None,
            )
        )


def seed(store: Store) -> Seeded:
    """Three runs: one approved after a revision, one failed in testing, one running."""
    hour_ago = utcnow() - timedelta(hours=1)
    done, _ = store.create_run(
        repo="octo/calc",
        issue_number=7,
        clone_url="https://github.com/octo/calc.git",
        title="Add a mul function",
        request="Please add mul",
        delivery_id="72d3162e-delivery",
    )
    for name, rev, start, dur, outcome, tokens, cost in TIMELINE:
        _phase(store, done.id, name, rev, start, dur, outcome, tokens, cost)
    for role, model, prompt, compl, cost, latency in MODEL_CALLS:
        store.add_event(
            done.id,
            "model_call",
            role,
            {
                "role": role,
                "model": model,
                "prompt_tokens": prompt,
                "completion_tokens": compl,
                "total_tokens": prompt + compl,
                "cost_usd": cost,
                "latency_s": latency,
            },
        )
    store.add_usage(done.id, tokens=8800, cost_usd=0.0083, tool_calls=6)
    store.put_artifact(done.id, "plan", json.dumps(PLAN), "application/json")
    store.put_artifact(done.id, "review.r0", json.dumps(REVIEW_R0), "application/json")
    store.put_artifact(done.id, "diff.r0", "--- a/calc/ops.py\n+++ b/calc/ops.py\n+# TODO mul\n")
    store.put_artifact(done.id, "review.r1", json.dumps(REVIEW_R1), "application/json")
    store.put_artifact(done.id, "diff.r1", DIFF_R1)
    store.put_artifact(done.id, "testreport.r1", TEST_R1)
    store.put_artifact(done.id, "evidence_path", "/var/lib/draftsmith/run-1/evidence.md")
    store.put_artifact(
        done.id,
        "published",
        {
            "pr_number": 42,
            "pr_url": "https://github.com/octo/calc/pull/42",
            "pr_node_id": "PR_1",
            "check_run_id": CHECK_RUN_ID,
            "created": True,
            "reviewers_requested": [],
        },
    )
    seed_state(
        store,
        done.id,
        status=Status.approved,
        phase=Phase.done,
        revision=1,
        pr_number=42,
        branch="draftsmith/add-mul",
        trace_context=TRACEPARENT,
        finished_at=hour_ago + timedelta(seconds=180),
    )
    with store.session() as s:
        s.execute(update(Run).where(Run.id == done.id).values(created_at=hour_ago))

    failed, _ = store.create_run(
        repo="octo/web",
        issue_number=3,
        clone_url="https://github.com/octo/web.git",
        title="Fix the login redirect",
        request="r",
    )
    _phase(store, failed.id, "planning", 0, 0, 12, "planned", 500, 0.0005)
    seed_state(
        store,
        failed.id,
        status=Status.failed,
        phase=Phase.testing,
        status_reason="sandbox unavailable: bwrap missing",
    )

    running, _ = store.create_run(
        repo="octo/calc",
        issue_number=9,
        clone_url="https://github.com/octo/calc.git",
        title="Add pow",
        request="r",
    )
    _phase(store, running.id, "planning", 0, 0, 8, "planned", 300, 0.0003)
    _phase(store, running.id, "coding", 0, 8, 0, None, 0, 0.0)
    seed_state(store, running.id, status=Status.running, phase=Phase.coding)
    return Seeded(store, done.id, failed.id, running.id)


@pytest.fixture(autouse=True)
def process_masker_with_secrets() -> Iterator[Masker]:
    """The process masker as `serve` installs it: holding the bot's secrets (a token here)."""
    previous = process_masker()
    masker = Masker.from_settings(Settings(webhook_secret=WEBHOOK_SECRET, dashboard_token=TOKEN))
    set_process_masker(masker)
    try:
        yield masker
    finally:
        set_process_masker(previous)


@pytest.fixture()
def seeded(sqlite_store: Store) -> Seeded:
    """The SQLite store with the three runs."""
    return seed(sqlite_store)


def webhook_app(store: Store, tmp_path: Path, token: str | None) -> object:
    """The internet-facing app `serve` builds (with the dashboard only when a token is set)."""
    queue = TaskQueue(make_huey(f"sqlite:///{tmp_path / 'queue.db'}"))
    return create_app(
        store=store,
        queue=queue,
        webhook_secret=WEBHOOK_SECRET,
        dashboard_token=token,
        trace_url_template=TRACE_UI,
    )


@pytest.fixture()
def open_server(seeded: Seeded) -> Iterator[str]:
    """The dashboard's own listener `serve` opens on 127.0.0.1 when no token is set."""
    with serve(create_dashboard_app(seeded.store, trace_url_template=TRACE_UI)) as url:
        yield url


@pytest.fixture()
def protected_server(seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    """The real app with DRAFTSMITH_DASHBOARD_TOKEN set, served on a loopback port."""
    with serve(webhook_app(seeded.store, tmp_path, TOKEN)) as url:
        yield url
