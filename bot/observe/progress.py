"""The progress comment on the issue: one comment per run, edited as the run advances."""

from __future__ import annotations

import threading
import time

from bot.github.client import InstallationClient
from bot.github.markdown import inert_line
from bot.run import artifacts
from bot.run.artifacts import Artifacts
from bot.run.states import ACTIVE, DELIVERED, TERMINAL, Phase, Status
from bot.run.transitions import PHASE_ORDER
from bot.shared.errors import GitHubError
from bot.store.runs import Store
from bot.store.tables import Run

# The checklist label of each phase of `PHASE_ORDER`; a phase without a label is not listed.
LABELS: dict[Phase, str] = {
    Phase.planning: "Plan",
    Phase.coding: "Code",
    Phase.setup: "Environment",
    Phase.reviewing: "Review",
    Phase.testing: "Test",
    Phase.deploying: "Pull request",
}
PHASES: tuple[tuple[Phase, str], ...] = tuple((p, LABELS[p]) for p in PHASE_ORDER if p in LABELS)
PHASE_NAMES = tuple(name for name, _ in PHASES)
OUTCOME_TEXT: dict[Status, str] = {
    Status.approved: "Done: the draft pull request is ready for review.",
    Status.needs_approval: "Done: the draft pull request waits for a code owner's approval.",
    Status.needs_human_review: "Stopped: Draftsmith could not converge and needs a person.",
    Status.blocked_by_policy: "Blocked by policy.",
    Status.failed: "Failed on an infrastructure error.",
    Status.stopped: "Stopped on request.",
}


def marker(run_id: int) -> str:
    """The hidden marker that identifies a run's progress comment (to find it, never duplicate)."""
    return f"<!-- draftsmith:run:{run_id} -->"


def render(
    *,
    run_id: int,
    phase: str,
    status: str,
    reason: str | None = None,
    pr_url: str | None = None,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> str:
    """The Markdown body of the progress comment for a run in `phase` with `status`."""
    current = PHASE_NAMES.index(Phase(phase)) if phase in PHASE_NAMES else -1
    if phase == Phase.done or status in DELIVERED:
        current = len(PHASES)
    finished = status in TERMINAL
    lines = [
        marker(run_id),
        f"**Draftsmith** took this issue: run `{run_id}`.",
        "",
    ]
    for index, (_, label) in enumerate(PHASES):
        if index < current:
            lines.append(f"- [x] {label}")
        elif index == current and not finished and status in ACTIVE:
            lines.append(f"- [ ] {label} (in progress)")
        elif index == current and status == Status.waiting:
            lines.append(f"- [ ] {label} (waiting for approval)")
        elif index == current and status == Status.waiting_for_model:
            lines.append(f"- [ ] {label} (waiting for the model endpoint)")
        elif index == current and finished:
            lines.append(f"- [ ] {label} (stopped here)")
        else:
            lines.append(f"- [ ] {label}")
    if finished:
        lines += ["", OUTCOME_TEXT.get(Status(status), status)]
        if reason:
            lines.append(f"Reason: {inert_line(reason)}")
    if status == Status.waiting_for_model and reason:
        lines += ["", f"Paused, nothing is lost: {inert_line(reason)}."]
    if note:
        lines += ["", note]
    if pr_url:
        lines += ["", f"Pull request: {pr_url}"]
    if dashboard_url:
        lines += ["", f"Details: {dashboard_url}"]
    return "\n".join(lines) + "\n"


def post_progress(store: Store, gh: InstallationClient, run: Run, note: str | None = None) -> None:
    """Create or edit the run's one progress comment (the only writer of that comment)."""
    if run.issue_number is None:
        return
    stored = Artifacts(store, run.id)
    published = stored.load(artifacts.PUBLISHED)
    pr_url = published.pr_url if published is not None else None
    if note is None and run.status in (Status.needs_human_review, Status.failed):
        note = stored.load(artifacts.INCOMPLETE)
    body = render(
        run_id=run.id,
        phase=run.phase,
        status=run.status,
        reason=run.status_reason,
        pr_url=pr_url,
        note=note,
    )
    text = f"{body}\n\n{marker(run.id)}"
    comment_id = store.get_run(run.id).progress_comment_id
    if comment_id is not None and comment_id > 0:
        try:
            gh.update_comment(run.repo, comment_id, text)
            return
        except GitHubError as exc:
            if exc.status != 404:
                raise
            # a person deleted it: make it again, once
            if store.claim_progress_comment(run.id, CREATING, stale=comment_id):
                _create(store, gh, run, text)
                return
            comment_id = CREATING
    if comment_id is None and store.claim_progress_comment(run.id, CREATING):
        _create(store, gh, run, text)
        return
    made = _wait_for_comment(store, run.id)
    if made is not None:
        gh.update_comment(run.repo, made, text)
    elif store.claim_progress_comment(run.id, CREATING, stale=CREATING):
        # the worker that claimed the creation died: finish it (its comment, if it made one,
        # is found by the marker)
        _create(store, gh, run, text)


CREATING = -1  # `runs.progress_comment_id` while one worker creates the progress comment
CREATION_WAIT_S = 15.0


def _create(store: Store, gh: InstallationClient, run: Run, text: str) -> None:
    """Create (or find, after a killed creator) the comment and store its id; release the claim
    when GitHub fails, so the next post tries again."""
    assert run.issue_number is not None
    try:
        comment = gh.upsert_comment(run.repo, run.issue_number, marker(run.id), text)
    except BaseException:
        store.claim_progress_comment(run.id, None, stale=CREATING)
        raise
    store.update_run(run.id, progress_comment_id=comment.id)


def _wait_for_comment(store: Store, run_id: int) -> int | None:
    """The comment id another worker is creating, once it is stored (None after the wait)."""
    waited = threading.Event()
    deadline = time.monotonic() + CREATION_WAIT_S
    while time.monotonic() < deadline:
        current = store.get_run(run_id).progress_comment_id
        if current is None or current > 0:
            return current
        waited.wait(0.1)
    return None
