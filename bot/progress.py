"""The progress comment on the issue: one comment per run, edited as the run advances."""

from __future__ import annotations

from bot.contracts import TERMINAL_STATUSES

# (pipeline phase, checklist label), in order.
PHASES: tuple[tuple[str, str], ...] = (
    ("planning", "Plan"),
    ("coding", "Code"),
    ("reviewing", "Review"),
    ("testing", "Test"),
    ("deploying", "Pull request"),
)
PHASE_NAMES = tuple(name for name, _ in PHASES)
OUTCOME_TEXT = {
    "approved": "Done: the draft pull request is ready for review.",
    "needs_approval": "Done: the draft pull request waits for a code owner's approval.",
    "needs_human_review": "Stopped: Draftsmith could not converge and needs a person.",
    "blocked_by_policy": "Blocked by policy.",
    "failed": "Failed on an infrastructure error.",
    "stopped": "Stopped on request.",
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
) -> str:
    """The Markdown body of the progress comment for a run in `phase` with `status`."""
    current = PHASE_NAMES.index(phase) if phase in PHASE_NAMES else -1
    if phase == "done" or status == "approved" or status == "needs_approval":
        current = len(PHASES)
    finished = status in TERMINAL_STATUSES
    lines = [
        marker(run_id),
        f"**Draftsmith** took this issue: run `{run_id}`.",
        "",
    ]
    for index, (_, label) in enumerate(PHASES):
        if index < current:
            lines.append(f"- [x] {label}")
        elif index == current and not finished and status in ("running", "queued"):
            lines.append(f"- [ ] {label} (in progress)")
        elif index == current and status == "waiting":
            lines.append(f"- [ ] {label} (waiting for approval)")
        elif index == current and finished:
            lines.append(f"- [ ] {label} (stopped here)")
        else:
            lines.append(f"- [ ] {label}")
    if finished:
        lines += ["", OUTCOME_TEXT.get(status, status)]
        if reason:
            lines.append(f"Reason: {reason}")
    if pr_url:
        lines += ["", f"Pull request: {pr_url}"]
    if dashboard_url:
        lines += ["", f"Details: {dashboard_url}"]
    return "\n".join(lines) + "\n"
