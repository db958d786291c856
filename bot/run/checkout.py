"""A run's working copy and configuration: clone (or restore), repository config, issue text."""

from __future__ import annotations

from dataclasses import asdict

from bot.policy.decide import RepoConfig, parse_repo_config
from bot.repo.workspace import Workspace
from bot.run import artifacts, resume
from bot.run.artifacts import Artifacts
from bot.run.context import Services
from bot.run.ports import RunStore
from bot.security.hidden import strip_hidden
from bot.security.screening import screen
from bot.shared.contracts import IssueText
from bot.shared.errors import PolicyError, WorkspaceError
from bot.store.tables import Run
from bot.store.vocabulary import EventKind

CONFIG_PATH = ".github/draftsmith.yml"


def open_workspace(services: Services, run: Run) -> Workspace:
    """The run's clone, re-validated against the store on every pick-up (bot/run/resume.py)."""
    workspace, _ = resume.open_workspace(
        services.store, run, services.run_dir(run), lambda: _credentials(services, run)
    )
    return workspace


def _credentials(services: Services, run: Run) -> dict[str, str]:
    """git's environment carrying the installation token for https remotes of GitHub runs."""
    gh = services.github(run)
    if gh is None:
        return {}
    return gh.git_credentials(run.clone_url)


def repo_config(store: RunStore, run: Run, workspace: Workspace) -> RepoConfig | None:
    """`.github/draftsmith.yml` as of the base commit (the default branch), never the PR's."""
    try:
        text = workspace.git("show", f"{run.base_sha}:{CONFIG_PATH}")
    except WorkspaceError:
        return None
    try:
        return parse_repo_config(text)
    except PolicyError as exc:
        store.add_event(run.id, EventKind.config_error, exc.message)
        return None


def issue_text(store: RunStore, run: Run) -> IssueText:
    """The issue with hidden text stripped and flags raised (stored once, then reused)."""
    stored = Artifacts(store, run.id)
    issue = stored.load(artifacts.ISSUE)
    if issue is not None:
        return issue
    title, body = strip_hidden(run.title), strip_hidden(run.request)
    source = f"issue #{run.issue_number}" if run.issue_number else "request"
    flags = screen(title.text + "\n" + body.text, source=f"{source} text")
    issue = IssueText(
        title=title.text,
        body=body.text,
        stripped=[asdict(r) for r in title.removed + body.removed],
        flags=[asdict(f) for f in flags],
    )
    stored.save(artifacts.ISSUE, issue)
    return issue
