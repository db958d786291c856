"""Acting on the policy gate on GitHub: release on a code owner's approval; CI repair context.

Deciding who may release is `bot.policy.decide.Authorisation`; this module gathers the facts it
needs
(team memberships) and performs the release: check run -> success, `needs-approval` label
removed, the pull request marked ready for review.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.condense import condense
from bot.contracts import Gate
from bot.github.checks import FailingCheck
from bot.github.client import InstallationClient
from bot.github.models import can_maintain
from bot.github.publish import CHECK_NAME, NEEDS_APPROVAL_LABEL
from bot.policy.decide import Authorisation, Decision

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
    """Release a gated PR when this review approves and its author owns every gated path.

    Any other review releases nothing and the outcome says why; so does an approval of an older
    commit when both `review_commit` (the review's `commit_id`) and `head_sha` are given. A
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
    who = reviewer.strip().lstrip("@").lower()
    if who == bot_login.strip().lstrip("@").lower():
        return ReleaseOutcome(False, "Draftsmith cannot release its own change")
    if who == pr_author.strip().lstrip("@").lower():
        return ReleaseOutcome(False, f"@{reviewer} wrote the change and cannot release it")
    owners = decision.owners_by_path
    if not owners:
        return ReleaseOutcome(False, "no gated paths are recorded for this change")
    direct = Authorisation.releasable_paths(reviewer, pr_author, bot_login, owners)
    teams = reviewer_teams(gh, decision, reviewer) if len(direct) < len(owners) else []
    released = Authorisation.releasable_paths(
        reviewer, pr_author, bot_login, owners, reviewer_teams=teams
    )
    pending = [path for path in owners if path not in released]
    unowned = [path for path in pending if not owners[path]]
    if unowned and _maintains(gh, repo, reviewer):
        # Nobody owns these paths: the repository's maintainers stand in for code owners.
        released = released + unowned
        pending = [path for path in pending if path not in unowned]
    if pending:
        waiting = "; ".join(
            f"{path} ({', '.join(owners[path]) or 'no code owner: a maintainer or an admin'})"
            for path in pending
        )
        return ReleaseOutcome(
            False,
            f"@{reviewer} does not own every gated path; waiting for: {waiting}",
            released,
            pending,
        )
    _release(gh, repo, pr_number, check_run_id, pr_node_id, reviewer)
    logger.info("%s#%d: gate released by %s", repo, pr_number, reviewer)
    return ReleaseOutcome(True, f"released by @{reviewer}'s approving review", released, [])


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
    current = gh.checks.get(repo, check_run_id)
    previous = current.output.summary or ""
    summary = f"Released by @{reviewer}'s approving review.\n\n{previous}".strip()
    gh.checks.update(
        repo,
        check_run_id,
        title=f"Released by @{reviewer}",
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
