"""The spine end to end: a signed labelled issue over real HTTP becomes one run a worker picks up,
shown on the issue as one progress comment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from bot.run.states import Phase, Status
from bot.runtime import Runtime
from bot.shared.config import Settings
from bot.store.vocabulary import DeliveryState
from tests.e2e.conftest import WEBHOOK_SECRET, RunWatcher
from tests.helpers.draftsmith import serve_draftsmith
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.payloads import load_payload
from tests.helpers.runs import seed_state
from webhooks.signature import sign


def labeled(clone_url: str, number: int = 7) -> dict[str, Any]:
    return load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": 4242},
        repository={"full_name": "octo/widgets", "clone_url": clone_url},
        issue={"number": number, "title": "Add a widget", "body": "Please add a widget."},
    )


def deliver(client: httpx.Client, event: str, payload: dict[str, Any], delivery: str) -> int:
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body, WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )
    return response.status_code


def test_a_labelled_issue_becomes_one_run_with_one_progress_comment(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    payload = labeled(f"file://{tmp_path}/missing-repo")
    delivery = str(uuid.uuid4())
    with serve_draftsmith(settings, RunWatcher) as (runtime, watcher, client):
        assert deliver(client, "issues", payload, delivery) == 202
        assert deliver(client, "issues", payload, delivery) == 200  # GitHub redelivers
        assert watcher.settled.wait(60), "the worker never finished advancing the run"
    runs = runtime.store.list_runs()
    assert len(runs) == 1
    run = runs[0]
    assert (run.repo, run.issue_number, run.requested_by) == ("octo/widgets", 7, "Codertocat")
    assert runtime.store.phases(run.id), "no worker picked the run up"
    # The clone URL does not exist, so the run ends failed, and says why on the issue.
    assert run.status == Status.failed and "missing-repo" in (run.status_reason or "")
    bodies = fake_github.comment_bodies(7)
    assert len(bodies) == 1, bodies
    assert f"<!-- draftsmith:run:{run.id} -->" in bodies[0]
    assert "Failed" in bodies[0] and "- [ ] Plan" in bodies[0]
    assert fake_github.unexpected == []
    delivery_row = runtime.store.get_delivery(delivery)
    assert delivery_row is not None and delivery_row.outcome == DeliveryState.processed


def test_a_second_label_while_a_run_is_active_starts_nothing_and_says_so(
    settings: Settings, fake_github: FakeGitHub
) -> None:
    runtime = Runtime.from_settings(settings)
    runtime.store.migrate()
    active, _ = runtime.store.create_run(
        repo="octo/widgets", issue_number=7, clone_url="file:///x", title="t", request="r"
    )
    seed_state(runtime.store, active.id, status=Status.waiting, phase=Phase.plan_approval)
    handle_label(settings, "second", runtime)
    assert len(runtime.store.list_runs()) == 1
    bodies = fake_github.comment_bodies(7)
    assert len(bodies) == 1 and f"run `{active.id}`" in bodies[0]
    assert "already working" in bodies[0]


def test_a_label_that_is_not_the_repositorys_trigger_is_ignored(
    settings: Settings, fake_github: FakeGitHub
) -> None:
    fake_github.files[".github/draftsmith.yml"] = "trigger_label: autofix\n"
    runtime = handle_label(settings, "d")
    assert runtime.store.list_runs() == []
    delivery = runtime.store.get_delivery("d")
    assert delivery is not None and delivery.outcome == DeliveryState.ignored
    assert "autofix" in (delivery.error or "")


def test_an_invalid_repository_config_is_reported_on_the_issue(
    settings: Settings, fake_github: FakeGitHub
) -> None:
    fake_github.files[".github/draftsmith.yml"] = "trigger_label: [unclosed\n"
    runtime = handle_label(settings, "d")
    bodies = fake_github.comment_bodies(7)
    assert any("could not use `.github/draftsmith.yml`" in b for b in bodies)
    assert len(runtime.store.list_runs()) == 1  # the built-in trigger label still applies


def handle_label(settings: Settings, delivery: str, runtime: Runtime | None = None) -> Runtime:
    """A worker handles a stored `issues.labeled` delivery (as if the intake had stored it)."""
    if runtime is None:
        runtime = Runtime.from_settings(settings)
        runtime.store.migrate()
    runtime.store.record_delivery(
        delivery,
        event="issues",
        action="labeled",
        installation_id=4242,
        repo="octo/widgets",
        command=_start_command(),
        outcome=DeliveryState.queued,
    )
    runtime.handle_delivery(delivery)
    return runtime


def _start_command() -> str:
    from bot.steering.commands import dump_command
    from webhooks.routing import route

    command = route("issues", labeled("file:///nowhere"))
    return dump_command(command)  # type: ignore[arg-type]
