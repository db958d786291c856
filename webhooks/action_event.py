"""The intake of `draftsmith action`: the event file a GitHub Actions workflow was started by.

A workflow gets no webhook: GitHub writes the event's payload (the same shape as the webhook's)
to `GITHUB_EVENT_PATH` and names it in `GITHUB_EVENT_NAME`. This module reads both, checks them
as the webhook intake checks a delivery (`webhooks/payload.py`) and routes the payload with the
same `route` (`webhooks/routing.py`), so the action does what the App does for that event.
No signature to verify: the runner wrote the file. Pure apart from reading the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.action.drive import ActionRequest
from bot.shared.errors import ConfigError
from bot.steering.commands import Command, InstallationChanged
from webhooks.payload import PayloadError, parse_payload
from webhooks.routing import Ignored, MalformedPayload, Pong, route

ACTION_EVENTS = {
    "issues": "labeled",
    "issue_comment": "created",
    "pull_request_review": "submitted",
    "pull_request_review_comment": "created",
}
"""The events `draftsmith action` acts on, with the activity type that matters (the example
workflow's `on:` lists exactly these)."""

WORKFLOW_HINT = (
    "run it from a workflow triggered by "
    + ", ".join(f"{event} ({kind})" for event, kind in ACTION_EVENTS.items())
    + "; see the README's 'Run it from GitHub Actions'"
)
DRAFTSMITH_RUN = re.compile(r"Draftsmith run `\d+`")


class EventError(ConfigError):
    """The workflow's event cannot be read: not set, not a file, not JSON, not handled."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise EventError(
            f"{name} is not set: `draftsmith action` reads the event of a GitHub Actions "
            "workflow run",
            f"{WORKFLOW_HINT} (GitHub sets {name} on its runners)",
        )
    return value


def read_payload(path: str) -> dict[str, Any]:
    """The event file's JSON object; EventError naming the file and the fault otherwise."""
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise EventError(
            f"cannot read GITHUB_EVENT_PATH={path}: {exc.strerror or exc}",
            "run `draftsmith action` as a step of the workflow, where GitHub writes that file",
        ) from exc
    try:
        json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventError(
            f"GITHUB_EVENT_PATH={path} is not JSON ({exc})",
            "the file must be the event payload GitHub wrote, unchanged",
        ) from exc
    try:
        return parse_payload(body)
    except PayloadError as exc:
        raise EventError(
            f"GITHUB_EVENT_PATH={path} is not an event payload: {exc}",
            "the file must be the event payload GitHub wrote, unchanged",
        ) from exc


def _on_draftsmith_pr(event: str, payload: dict[str, Any]) -> int | None:
    """The PR number when the event is on a pull request Draftsmith opened (its branch or its
    body says so), read from the payload alone; else None."""
    if event == "issue_comment":
        issue = payload.get("issue") or {}
        body = str(issue.get("body") or "")
        if issue.get("pull_request") and DRAFTSMITH_RUN.search(body):
            return int(issue["number"])
        return None
    pr = payload.get("pull_request") or {}
    branch = str((pr.get("head") or {}).get("ref") or "")
    if pr and (branch.startswith("draftsmith/") or DRAFTSMITH_RUN.search(str(pr.get("body")))):
        return int(pr["number"])
    return None


def _as_repository(command: Command, repository_id: int) -> Command:
    """The command acting for the repository: a workflow's payload names no installation, and
    in Action mode the repository is the unit rate limits and concurrency count by."""
    if isinstance(command, InstallationChanged):
        return command
    repo = command.repo.model_copy(update={"installation_id": repository_id})
    return command.model_copy(update={"repo": repo})


def read_event(env: Mapping[str, str], mention_login: str | None) -> ActionRequest:
    """The workflow's event as a request for `bot.action.drive`; EventError when it cannot be
    read or is not one Draftsmith acts on."""
    name = _required(env, "GITHUB_EVENT_NAME")
    if name not in ACTION_EVENTS:
        raise EventError(f"event {name!r} is not one Draftsmith acts on", WORKFLOW_HINT)
    repository = _required(env, "GITHUB_REPOSITORY")
    payload = read_payload(_required(env, "GITHUB_EVENT_PATH"))
    named = str((payload.get("repository") or {}).get("full_name") or "")
    if named != repository:
        raise EventError(
            f"the event file is about {named or 'no repository'!r}, the workflow runs in "
            f"{repository!r}",
            "pass the event file GitHub wrote for this workflow run",
        )
    try:
        routed = route(name, payload, mention_login=mention_login)
        repository_id = int(payload["repository"]["id"])
        draftsmith_pr = _on_draftsmith_pr(name, payload)
    except (MalformedPayload, KeyError, TypeError, ValueError) as exc:
        raise EventError(
            f"the {name} event file lacks a field GitHub always sends: {exc}",
            "the file must be the event payload GitHub wrote, unchanged",
        ) from exc
    run_id = env.get("GITHUB_RUN_ID", "").strip() or "local"
    action = payload.get("action")
    return ActionRequest(
        event=f"{name}.{action}" if action else name,
        repo=repository,
        sender=str((payload.get("sender") or {}).get("login") or ""),
        delivery_id=f"actions-{repository_id}-{run_id}",
        command=None
        if isinstance(routed, Ignored | Pong)
        else _as_repository(routed, repository_id),
        ignored=routed.reason if isinstance(routed, Ignored) else "",
        draftsmith_pr=draftsmith_pr,
    )
