"""Model outages never lose a run, and concurrency caps queue runs: through the webhook server,
the worker, a scripted model that rate-limits and fails, the bwrap sandbox, a real git remote
and GitHub's API at the HTTP boundary."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.run.states import TERMINAL, Status
from bot.run.waiting import RESUMED_EVENT, WAIT_EVENT
from bot.runtime import Runtime
from bot.shared.config import Settings
from bot.store.tables import as_aware
from tests.e2e.conftest import WEBHOOK_SECRET
from tests.helpers.draftsmith import serve_draftsmith
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.payloads import load_payload
from tests.helpers.scripted_model import Failure, ScriptedModel, serve_model
from tests.helpers.scripts import happy_path
from webhooks.signature import sign


@pytest.fixture
def outage_settings(settings: Settings) -> Settings:
    """No in-call retries (each failure makes the run wait), short backoff, scripted model."""
    settings.model = "scripted-model"
    settings.model_max_retries = 0
    settings.model_wait_backoff_s = 0.2
    settings.model_wait_limit_s = 600
    settings.queue_recheck_s = 0.2
    return settings


def labeled(remote: str, number: int = 7) -> dict[str, Any]:
    return load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": 4242},
        repository={"full_name": "octo/widgets", "clone_url": remote, "default_branch": "main"},
        issue={"number": number, "title": f"Add subtract {number}", "body": "Please add it."},
        sender={"login": "carol", "id": 3, "type": "User"},
    )


class Watcher:
    """Signals when a run first waits for the model and when it ends, without polling."""

    def __init__(self, runtime: Runtime) -> None:
        self.waiting = threading.Event()
        self.ended = threading.Event()
        self.ended_runs: set[int] = set()
        self._changed = threading.Condition()
        advance, resume = runtime.advance, runtime.resume

        def watched_advance(run_id: int) -> None:
            advance(run_id)
            run = runtime.store.get_run(run_id)
            if run.status == Status.waiting_for_model:
                self.waiting.set()
            if run.status in TERMINAL:
                with self._changed:
                    self.ended_runs.add(run_id)
                    self.ended.set()
                    self._changed.notify_all()

        runtime.queue.bind(runtime.handle_delivery, watched_advance, resume)

    def wait_ended(self, count: int, timeout: float) -> bool:
        """Whether `count` runs ended within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.ended_runs) >= count, timeout)


@contextmanager
def draftsmith(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, model_url: str, *, webhooks: bool = True
) -> Iterator[tuple[Runtime, Watcher, httpx.Client | None]]:
    """A Draftsmith process: webhook server with embedded worker (or a worker only)."""
    monkeypatch.setenv("OPENAI_BASE_URL", model_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
    if webhooks:
        with serve_draftsmith(settings, Watcher) as (runtime, watcher, client):
            yield runtime, watcher, client
        return
    runtime = Runtime.from_settings(settings)
    runtime.store.migrate()
    watcher = Watcher(runtime)
    runtime.start_embedded()
    try:
        yield runtime, watcher, None
    finally:
        runtime.stop()


def deliver(client: httpx.Client, event: str, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, WEBHOOK_SECRET),
    }
    return client.post("/webhooks/github", content=body, headers=headers).status_code


def outage_script() -> dict[str, list[Any]]:
    """429 with Retry-After, then 503 twice, then the happy path."""
    script = happy_path()
    script["planner"] = [Failure(429, "1"), Failure(503), Failure(503), *script["planner"]]
    return script


def progress_bodies(fake_github: FakeGitHub) -> list[str]:
    """Every body Draftsmith sent for a comment, in order."""
    bodies = []
    for request in fake_github.requests:
        if "/comments" in request.url.path and request.method in ("POST", "PATCH"):
            bodies.append(str(json.loads(request.content).get("body", "")))
    return bodies


def assert_converged_after_three_waits(
    runtime: Runtime, fake_github: FakeGitHub, retry_after: float
) -> None:
    [run] = runtime.store.list_runs()
    assert run.status == Status.approved, run.status_reason
    assert len(fake_github.pulls) == 1
    waits = runtime.store.events(run.id, WAIT_EVENT)
    resumes = runtime.store.events(run.id, RESUMED_EVENT)
    assert [w.data["cause"] for w in waits] == [
        "rate limited (429)",
        "server error (503)",
        "server error (503)",
    ]
    assert [w.data["number"] for w in waits] == [1, 2, 3]
    assert waits[0].data["retry_after_s"] == retry_after
    assert len(resumes) == 3 and resumes[0].data["waited_s"] >= retry_after  # honoured
    assert any("waiting for the model endpoint" in b for b in progress_bodies(fake_github))


def test_a_rate_limited_then_failing_model_makes_the_run_wait_and_converge_with_one_pr(
    outage_settings: Settings,
    fake_github: FakeGitHub,
    remote: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ScriptedModel(outage_script())
    with (
        serve_model(model) as model_url,
        draftsmith(outage_settings, monkeypatch, model_url) as (runtime, watcher, client),
    ):
        assert client is not None and deliver(client, "issues", labeled(remote)) == 202
        assert watcher.ended.wait(180), "the run did not end"
        assert model.failures == [("planner", 429), ("planner", 503), ("planner", 503)]
        assert_converged_after_three_waits(runtime, fake_github, 1.0)
    assert fake_github.unexpected == []


def test_a_worker_restarted_while_the_run_waits_resumes_it_from_the_store(
    outage_settings: Settings,
    fake_github: FakeGitHub,
    remote: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = outage_script()
    script["planner"][0] = Failure(429, "2")
    model = ScriptedModel(script)
    with serve_model(model) as model_url:
        with draftsmith(outage_settings, monkeypatch, model_url) as (runtime, watcher, client):
            assert client is not None and deliver(client, "issues", labeled(remote)) == 202
            assert watcher.waiting.wait(120), "the run did not wait for the model"
        # The worker stopped while the run waited. The new one gets an empty queue (the
        # scheduled resume is lost with the old one): only the run store knows the run waits.
        [run] = runtime.store.list_runs()
        assert run.status == Status.waiting_for_model and model.failures == [("planner", 429)]
        restarted = outage_settings.model_copy(
            update={"queue_url": f"sqlite:///{tmp_path / 'fresh-queue.db'}"}
        )
        with draftsmith(restarted, monkeypatch, model_url, webhooks=False) as (again, w2, _):
            assert w2.ended.wait(180), "the restarted worker did not finish the run"
            assert_converged_after_three_waits(again, fake_github, 2.0)
    assert fake_github.unexpected == []


def test_a_model_down_past_the_wait_limit_ends_the_run_for_a_person_with_the_reason(
    outage_settings: Settings,
    fake_github: FakeGitHub,
    remote: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outage_settings.model_wait_limit_s = 1
    model = ScriptedModel({"planner": [Failure(503)] * 20})
    with (
        serve_model(model) as model_url,
        draftsmith(outage_settings, monkeypatch, model_url) as (runtime, watcher, client),
    ):
        assert client is not None and deliver(client, "issues", labeled(remote)) == 202
        assert watcher.ended.wait(120), "the run did not end"
        [run] = runtime.store.list_runs()
    assert run.status == Status.needs_human_review
    assert run.status_reason is not None
    assert "the model endpoint has been unavailable for" in run.status_reason
    assert "server error (503)" in run.status_reason
    assert fake_github.pulls == {}


def test_concurrency_caps_queue_runs_instead_of_starting_them_all(
    outage_settings: Settings,
    fake_github: FakeGitHub,
    remote: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outage_settings.max_concurrent_runs = 1
    script = happy_path()
    for role in script:
        script[role] = script[role] * 2
    model = ScriptedModel(script)
    with (
        serve_model(model) as model_url,
        draftsmith(outage_settings, monkeypatch, model_url) as (runtime, watcher, client),
    ):
        assert client is not None
        assert deliver(client, "issues", labeled(remote, 7)) == 202
        assert deliver(client, "issues", labeled(remote, 8)) == 202
        assert watcher.wait_ended(2, 300), "the runs did not end"
        runs = runtime.store.list_runs()
        assert [r.status for r in runs] == [Status.approved, Status.approved]
        spans = sorted(
            (
                min(as_aware(p.started_at) for p in runtime.store.phases(r.id)),
                max(as_aware(p.finished_at) for p in runtime.store.phases(r.id)),
            )
            for r in runs
        )
        assert spans[1][0] >= spans[0][1]  # the second started after the first had finished
    assert len(fake_github.pulls) == 2
