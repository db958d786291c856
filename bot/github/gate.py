"""Acting on the policy gate on GitHub: release on a code owner's approval; CI repair context.

Deciding who may release is `bot.policy.decide.Authorisation`; this module gathers the facts it
needs
(team memberships) and performs the release: check run -> success, `needs-approval` label
removed, the pull request marked ready for review.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.github.checks import FailingCheck
from bot.github.client import InstallationClient
from bot.github.models import can_maintain
from bot.github.publish import CHECK_NAME, NEEDS_APPROVAL_LABEL
from bot.policy.decide import Authorisation, Decision
from bot.shared.condense import condense
from bot.shared.contracts import Gate

logger = logging.getLogger(__name__)

REPAIR_LIMIT = 8_000
"""Characters of failing-CI output handed to a repair revision, at most."""
PER_RUN_LIMIT = 3_000


@dataclass(frozen=True)
class ReleaseOutcome:
    """What a review did to the gate: released or not, and why."""

    released: bool
    reason: str
    released_paths: list[str] = field(default_factory=list)
    pending_paths: list[str] = field(default_factory=list)


def reviewer_teams(gh: InstallationClient, decision: Decision, reviewer: str) -> list[str]:
    """The approver teams of the decision that `reviewer` is an active member of."""
    return [team for team in decision.approver_teams if gh.team_membership_active(team, reviewer)]


def release_on_review(
    gh: InstallationClient,
    *,
    repo: str,
    pr_number: int,
    review_state: str,
    reviewer: str,
    pr_author: str,
    bot_login: str,
    decision: Decision,
    check_run_id: int,
    pr_node_id: str,
    review_commit: str | None = None,
    head_sha: str | None = None,
) -> ReleaseOutcome:
    """Release a gated PR when this review approves and, with the other approvals of the
    current head, an owner of every gated path has approved.

    Each approver releases the paths they own (directly or through a team; maintainers the
    unowned ones); approvals of an older commit never count. Any other review releases nothing
    and the outcome says why; while paths still wait, the check run's summary says for whom. A
    team-membership lookup failing otherwise than 404 raises GitHubError (needs `members: read`).
    """
    if decision.gate is not Gate.needs_approval:
        return ReleaseOutcome(
            False, f"the change is not waiting for approval (gate {decision.gate})"
        )
    state = review_state.strip().lower()
    if state != "approved":
        return ReleaseOutcome(
            False, f"a {state or 'empty'} review does not release the gate; an approval does"
        )
    if review_commit and head_sha and review_commit != head_sha:
        return ReleaseOutcome(
            False,
            f"the approval is for commit {review_commit[:12]}, not the head {head_sha[:12]}; "
            "approve the latest revision",
        )
    who = _login(reviewer)
    if who == _login(bot_login):
        return ReleaseOutcome(False, "Draftsmith cannot release its own change")
    if who == _login(pr_author):
        return ReleaseOutcome(False, f"@{reviewer} wrote the change and cannot release it")
    owners = decision.owners_by_path
    if not owners:
        return ReleaseOutcome(False, "no gated paths are recorded for this change")
    released = _released_by(gh, repo, reviewer, pr_author, bot_login, decision)
    approvers = [reviewer]
    if len(released) < len(owners) and head_sha:
        # Approvals add up: every other approval of the current head counts for its paths.
        skip = {who, _login(pr_author), _login(bot_login)}
        for other in gh.pulls.approvers(repo, pr_number, head_sha):
            if other in skip or len(released) == len(owners):
                continue
            theirs = _released_by(gh, repo, other, pr_author, bot_login, decision)
            if set(theirs) - set(released):
                approvers.append(other)
                released = [path for path in owners if path in released or path in theirs]
    pending = [path for path in owners if path not in released]
    by = ", ".join(f"@{login}" for login in approvers)
    if pending:
        waiting = "; ".join(
            f"{path} ({', '.join(owners[path]) or 'no code owner: a maintainer or an admin'})"
            for path in pending
        )
        reason = f"approved by {by}; still waiting for an owner of: {waiting}"
        _say_waiting(gh, repo, check_run_id, pending, owners, by)
        return ReleaseOutcome(False, reason, released, pending)
    _release(gh, repo, pr_number, check_run_id, pr_node_id, by)
    logger.info("%s#%d: gate released by %s", repo, pr_number, by)
    how = "approving review" if len(approvers) == 1 else "approving reviews"
    return ReleaseOutcome(True, f"released by {by}'s {how}", released, [])


def _login(login: str) -> str:
    return login.strip().lstrip("@").lower()


def _released_by(
    gh: InstallationClient,
    repo: str,
    reviewer: str,
    pr_author: str,
    bot_login: str,
    decision: Decision,
) -> list[str]:
    """The gated paths `reviewer`'s approval releases: owned directly or through a team, or
    unowned and `reviewer` maintains the repository."""
    owners = decision.owners_by_path
    direct = Authorisation.releasable_paths(reviewer, pr_author, bot_login, owners)
    teams = reviewer_teams(gh, decision, reviewer) if len(direct) < len(owners) else []
    released = Authorisation.releasable_paths(
        reviewer, pr_author, bot_login, owners, reviewer_teams=teams
    )
    unowned = [path for path in owners if path not in released and not owners[path]]
    if unowned and _maintains(gh, repo, reviewer):
        # Nobody owns these paths: the repository's maintainers stand in for code owners.
        released = released + unowned
    return [path for path in owners if path in released]


WAITING = "<!-- draftsmith:waiting -->"


def _say_waiting(
    gh: InstallationClient,
    repo: str,
    check_run_id: int,
    pending: list[str],
    owners: dict[str, list[str]],
    approved_by: str,
) -> None:
    """Put which gated paths still wait for whom at the top of the check run's summary."""
    previous = _summary_without_waiting(gh, repo, check_run_id)
    lines = [f"Approved by {approved_by} for their paths. Still waiting for:"] + [
        f"- `{path}`: {', '.join(owners[path]) or 'a maintainer or an admin'}" for path in pending
    ]
    summary = f"{WAITING}\n" + "\n".join(lines) + f"\n{WAITING}\n\n{previous}"
    gh.checks.update(
        repo,
        check_run_id,
        title=f"Needs approval: {len(pending)} gated path(s) still waiting",
        summary=summary[:65_535],
    )


def _summary_without_waiting(gh: InstallationClient, repo: str, check_run_id: int) -> str:
    """The check run's summary without the "still waiting" section a partial approval put on
    top of it."""
    previous = gh.checks.get(repo, check_run_id).output.summary or ""
    if previous.startswith(WAITING):
        previous = previous.split(WAITING, 2)[-1].lstrip("\n")
    return previous


def _maintains(gh: InstallationClient, repo: str, login: str) -> bool:
    """Whether `login` has the admin or maintain role on the repository."""
    permission = gh.user_permission(repo, login)
    return permission is not None and can_maintain(permission)


def _release(
    gh: InstallationClient,
    repo: str,
    pr_number: int,
    check_run_id: int,
    pr_node_id: str,
    reviewer: str,
) -> None:
    previous = _summary_without_waiting(gh, repo, check_run_id)
    summary = f"Released by {reviewer}'s approval.\n\n{previous}".strip()
    gh.checks.update(
        repo,
        check_run_id,
        title=f"Released by {reviewer}",
        summary=summary[:65_535],
        status="completed",
        conclusion="success",
    )
    gh.pulls.remove_label(repo, pr_number, NEEDS_APPROVAL_LABEL)
    gh.pulls.mark_ready_for_review(pr_node_id)


# ---------------------------------------------------------------------------- CI repair


def _describe_run(failing: FailingCheck) -> str:
    run = failing.run
    parts = [f"### {run.name}: {run.conclusion}"]
    if run.output.title:
        parts.append(run.output.title)
    body = "\n".join(t for t in (run.output.summary, run.output.text) if t)
    if body:
        parts.append(condense(body, PER_RUN_LIMIT))
    for annotation in failing.annotations[:20]:
        parts.append(
            f"- {annotation.path}:{annotation.start_line}: [{annotation.annotation_level}] "
            f"{' '.join((annotation.message or '').split())[:300]}"
        )
    return "\n".join(parts)


def repair_context(
    gh: InstallationClient, repo: str, check_suite_id: int, *, limit: int = REPAIR_LIMIT
) -> str:
    """The failing check runs of a suite (not Draftsmith's own), condensed to `limit` chars.

    Empty when nothing in the suite failed.
    """
    failing = [
        failing
        for failing in gh.checks.failing_for_suite(repo, check_suite_id)
        if failing.run.name != CHECK_NAME
    ]
    if not failing:
        return ""
    header = f"The repository's CI failed ({len(failing)} check run(s)):"
    text = "\n\n".join([header, *(_describe_run(run) for run in failing)])
    if len(text) > limit:
        text = text[: limit - 2] + "\n…"
    return text
