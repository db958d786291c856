"""Reading a workflow's event for `draftsmith action`: what GitHub sets, and each way it can be
wrong, with an error that says what to do and a non-zero exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.steering.commands import CommentCommand, StartRun
from tests.helpers.payloads import load_payload
from webhooks.action_event import EventError, read_event


def labelled() -> dict[str, Any]:
    payload = load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        repository={"full_name": "octo/widgets"},
        issue={"number": 7, "title": "Add subtract", "body": "Please."},
    )
    payload.pop("installation", None)  # a workflow's event names no installation
    return payload


def env_for(tmp_path: Path, event: str = "issues", body: str | None = None) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(labelled()) if body is None else body)
    return {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "octo/widgets",
        "GITHUB_RUN_ID": "42",
    }


def test_a_labelled_issue_becomes_a_start_run_acting_for_the_repository(tmp_path: Path) -> None:
    request = read_event(env_for(tmp_path), "draftsmith")
    command = request.command
    assert isinstance(command, StartRun) and command.issue_number == 7
    repository_id = labelled()["repository"]["id"]
    assert command.repo.installation_id == repository_id  # rate limits count per repository
    assert request.delivery_id == f"actions-{repository_id}-42"
    assert request.event == "issues.labeled" and request.draftsmith_pr is None


def test_a_comment_on_a_draftsmith_pr_is_known_as_such_from_its_body(tmp_path: Path) -> None:
    payload = load_payload(
        "issue_comment.created",
        repository={"full_name": "octo/widgets"},
        issue={
            "number": 101,
            "body": "Closes #7\n\nDraftsmith run `3`, revision 0, branch draftsmith/7-x.",
            "pull_request": {"url": "https://api.github.com/repos/octo/widgets/pulls/101"},
        },
        comment={"body": "/draftsmith revise more tests"},
    )
    request = read_event(env_for(tmp_path, "issue_comment", json.dumps(payload)), "draftsmith")
    assert isinstance(request.command, CommentCommand)
    assert request.command.argument == "more tests" and request.draftsmith_pr == 101


def test_an_event_it_does_not_act_on_is_ignored_with_the_reason(tmp_path: Path) -> None:
    payload = {**labelled(), "action": "opened"}
    request = read_event(env_for(tmp_path, body=json.dumps(payload)), "draftsmith")
    assert request.command is None and "issues.opened is not handled" in request.ignored


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"GITHUB_EVENT_PATH": ""}, "GITHUB_EVENT_PATH is not set", id="no-path"),
        pytest.param({"GITHUB_EVENT_NAME": ""}, "GITHUB_EVENT_NAME is not set", id="no-name"),
        pytest.param(
            {"GITHUB_EVENT_NAME": "push"}, "event 'push' is not one Draftsmith acts on", id="push"
        ),
        pytest.param({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "cannot read", id="gone"),
        pytest.param(
            {"GITHUB_REPOSITORY": "octo/other"}, "the workflow runs in 'octo/other'", id="repo"
        ),
    ],
)
def test_a_missing_or_wrong_variable_is_a_clear_error(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(EventError) as raised:
        read_event({**env_for(tmp_path), **change}, "draftsmith")
    assert message in raised.value.message and raised.value.hint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param('{"action": "labeled", ', "is not JSON", id="truncated"),
        pytest.param("[1, 2]", "is not an event payload", id="not-an-object"),
        pytest.param('{"action": "labeled"}', "the workflow runs in", id="no-repository"),
    ],
)
def test_a_malformed_event_file_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(EventError) as raised:
        read_event(env_for(tmp_path, body=body), "draftsmith")
    assert message in raised.value.message


def test_a_labelled_payload_without_its_issue_names_the_missing_field(tmp_path: Path) -> None:
    payload = labelled()
    del payload["issue"]
    with pytest.raises(EventError) as raised:
        read_event(env_for(tmp_path, body=json.dumps(payload)), "draftsmith")
    assert "lacks a field GitHub always sends" in raised.value.message


@pytest.mark.parametrize(
    ("change", "body", "message"),
    [
        pytest.param({"GITHUB_EVENT_PATH": ""}, None, "GITHUB_EVENT_PATH is not set", id="no-path"),
        pytest.param({"GITHUB_EVENT_NAME": "push"}, None, "not one Draftsmith acts on", id="push"),
        pytest.param({}, "{not json", "is not JSON", id="malformed"),
    ],
)
def test_the_command_exits_2_with_the_error_and_what_to_do(
    tmp_path: Path, change: dict[str, str], body: str | None, message: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OPENAI_"))}
    env = {**clean, **env_for(tmp_path, body=body), **change, "RUNNER_TEMP": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "action"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "what to do:" in result.stderr
