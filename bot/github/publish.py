"""Publishing a run on GitHub: its branch, its draft PR, reviewers, check run.

Idempotent across retries and redeliveries: the branch's commits are created through the Git Data
API (`bot.github.branch`; a branch already holding the tree is reused, git push is the fallback),
the open PR of the branch is updated instead of opening a second one, and the `draftsmith`
check run of the head commit is updated instead of creating another.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

from bot.github.branch import BranchPublished, publish_branch
from bot.github.checks import Annotation, Conclusion
from bot.github.client import InstallationClient
from bot.github.codeowners import Reviewers, find_codeowners
from bot.github.markdown import closes, code, inert_line
from bot.github.objects import (
    CheckAnnotation,
    CheckRun,
    Publication,
    Published,
    PullRequest,
    Via,
)
from bot.policy.decide import Decision
from bot.repo.workspace import Workspace
from bot.shared.contracts import Gate, PullRequestDraft, ReviewIssue, ReviewResult, Severity
from bot.shared.errors import GitHubError, PolicyError, WorkspaceError

logger = logging.getLogger(__name__)

CHECK_NAME = "draftsmith"
"""The name of Draftsmith's own check run on the head commit of its pull requests."""
DRAFTSMITH_LABEL = "draftsmith"
NEEDS_APPROVAL_LABEL = "needs-approval"
SUMMARY_LIMIT = 65_535
"""GitHub refuses a check-run summary longer than this (characters)."""
Level = Literal["notice", "warning", "failure"]
_LEVELS: Mapping[Severity, Level] = {
    Severity.critical: "failure",
    Severity.high: "failure",
    Severity.medium: "warning",
    Severity.low: "notice",
}
_CLOSES = re.compile(r"(?im)^\s*(closes|fixes|resolves)\s+#(\d+)\b")


def publish(gh: InstallationClient, workspace: Workspace, publication: Publication) -> Published:
    """Push the run's branch, open (or update) its draft PR, request owners, set the check run.

    Of the publication's fields: `changed_paths` default to the diff between
    `origin/<base_branch>` and the head; `author`
    (who asked for the change) and `bot_login` are never requested as reviewers. A blocked
    decision raises PolicyError before anything leaves the workspace. `incomplete` (why the run
    stopped early) makes the check run ask for action instead of passing. `base_sha` (default:
    the merge base with `origin/<base_branch>`) is what the branch's first commit builds on.
    """
    p = publication
    repo, draft, decision = p.repo, p.draft, p.decision
    if decision.gate is Gate.blocked:
        raise PolicyError(
            f"run blocked by policy, nothing published: {'; '.join(decision.reasons)}",
            "remove the forbidden paths from the change; they can never be published",
        )
    if not draft.branch:
        raise GitHubError("the draft names no branch", "build the draft from a run with a branch")
    found = _find_pull(gh, repo, draft.branch, p.existing_pr)  # read before anything is made
    branch = publish_branch(
        gh,
        workspace,
        repo=repo,
        clone_url=p.clone_url,
        branch=draft.branch,
        base_sha=p.base_sha or _merge_base(workspace, p.base_branch),
        sha=p.head_sha,
    )
    sha = branch.sha
    body = f"{_with_closes(draft.body, p.issue_number).rstrip()}\n\n{commits_note(branch)}\n"
    pull, created = _open_or_update(gh, repo, draft, body, p.base_branch, found)
    labels = list(dict.fromkeys([DRAFTSMITH_LABEL, *draft.labels]))
    if decision.gate is Gate.needs_approval and NEEDS_APPROVAL_LABEL not in labels:
        labels.append(NEEDS_APPROVAL_LABEL)
    if decision.gate is Gate.none:
        labels = [label for label in labels if label != NEEDS_APPROVAL_LABEL]
        if not created:  # a previous revision may have been gated
            gh.pulls.remove_label(repo, pull.number, NEEDS_APPROVAL_LABEL)
    gh.pulls.add_labels(repo, pull.number, labels)
    paths = (
        list(p.changed_paths) if p.changed_paths is not None else _changed(workspace, p.base_branch)
    )
    exclude = [name for name in (p.author, p.bot_login) if name]
    requested = request_owners(gh, repo, pull.number, paths, exclude=exclude)
    check = upsert_check_run(
        gh,
        repo,
        head_sha=sha,
        summary=body,
        decision=decision,
        review=p.review,
        details_url=pull.html_url,
        external_id=str(p.run_id) if p.run_id is not None else None,
        incomplete=p.incomplete,
    )
    logger.info(
        "published %s#%d (%s) at %s, check run %d",
        repo,
        pull.number,
        "created" if created else "updated",
        sha[:12],
        check.id,
    )
    return Published(
        pull.number,
        pull.html_url,
        pull.node_id,
        check.id,
        created,
        requested,
        head_sha=sha,
        via=branch.via.value,
    )


def commits_note(branch: BranchPublished) -> str:
    """The evidence's line on how the commits reached GitHub."""
    if branch.via is Via.git_data_api:
        return (
            "Commits: created through GitHub's Git Data API, signed by GitHub "
            f"(head `{branch.sha[:12]}`)."
        )
    why = f" ({branch.fallback_reason})" if branch.fallback_reason else ""
    return f"Commits: pushed with `git push`, not signed by GitHub{why} (head `{branch.sha[:12]}`)."


def _merge_base(workspace: Workspace, base_branch: str) -> str:
    base_ref = f"origin/{base_branch}"
    try:
        workspace.git("rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}")
    except WorkspaceError:  # no remote-tracking branch: a local branch of that name
        base_ref = base_branch
    return workspace.git("merge-base", base_ref, "HEAD").strip()


def _changed(workspace: Workspace, base_branch: str) -> list[str]:
    return workspace.changed_files(_merge_base(workspace, base_branch))


# ---------------------------------------------------------------------------- pull request


def _with_closes(body: str, issue_number: int) -> str:
    numbers = {int(m.group(2)) for m in _CLOSES.finditer(body)}
    return body if issue_number in numbers else f"{closes(issue_number)}\n\n{body}"


def _find_pull(
    gh: InstallationClient, repo: str, branch: str, existing_pr: int | None
) -> PullRequest | None:
    """The run's open pull request (by branch, else by its known number); GitHubError when the
    run's known pull request is no longer open (never a second one)."""
    found = gh.pulls.find_open(repo, branch)
    if found is None and existing_pr is not None:
        known = gh.pulls.get(repo, existing_pr)
        if known is not None and known.state == "open":
            return known
        state = "gone" if known is None else known.state
        raise GitHubError(
            f"the run's pull request #{existing_pr} is {state}; not opening a second one",
            f"reopen #{existing_pr} and retry, or start a new run from the issue",
        )
    return found


def _open_or_update(
    gh: InstallationClient,
    repo: str,
    draft: PullRequestDraft,
    body: str,
    base_branch: str,
    found: PullRequest | None,
) -> tuple[PullRequest, bool]:
    if found is not None:
        updated = gh.pulls.update(repo, found.number, title=draft.title, body=body)
        return updated, False
    try:
        created = gh.pulls.create_draft(
            repo, title=draft.title, body=body, head=draft.branch, base=base_branch
        )
    except GitHubError as exc:
        # another delivery opened it between our lookup and our create
        raced = gh.pulls.find_open(repo, draft.branch) if exc.status == 422 else None
        if raced is None:
            raise
        logger.info("PR for %s already opened concurrently (#%d)", draft.branch, raced.number)
        return gh.pulls.update(repo, raced.number, title=draft.title, body=body), False
    return created, True


# ---------------------------------------------------------------------------- reviewers


def owners_reviewers(
    gh: InstallationClient, repo: str, paths: Sequence[str], exclude: Collection[str] = ()
) -> Reviewers:
    """Users and teams owning `paths` per the default branch's CODEOWNERS, minus `exclude`."""
    codeowners = find_codeowners(lambda location: gh.read_file(repo, location))
    if codeowners.source is None:
        logger.info("%s has no CODEOWNERS; no reviewers requested", repo)
    return codeowners.reviewers_for(paths, exclude=exclude)


def request_owners(
    gh: InstallationClient,
    repo: str,
    number: int,
    paths: Sequence[str],
    *,
    exclude: Collection[str] = (),
) -> list[str]:
    """Request the code owners of `paths` as reviewers; owners GitHub refuses are logged, skipped.

    Returns what was requested: user logins and teams as `org/team`.
    """
    reviewers = owners_reviewers(gh, repo, paths, exclude)
    if not reviewers.users and not reviewers.teams:
        return []
    try:
        gh.pulls.request_reviewers(repo, number, reviewers.users, reviewers.teams)
        return [*reviewers.users, *reviewers.teams]
    except GitHubError as exc:
        if exc.status != 422:
            raise
        logger.warning("%s#%d: reviewers refused together (%s); one by one", repo, number, exc)
    requested: list[str] = []
    singles = [(u, True) for u in reviewers.users] + [(t, False) for t in reviewers.teams]
    for who, is_user in singles:
        try:
            if is_user:
                gh.pulls.request_reviewers(repo, number, users=[who])
            else:
                gh.pulls.request_reviewers(repo, number, teams=[who])
        except GitHubError as exc:
            if exc.status != 422:
                raise
            logger.warning("%s#%d: code owner %s cannot review: %s", repo, number, who, exc)
            continue
        requested.append(who)
    return requested


# ---------------------------------------------------------------------------- check run


def annotations_for(review: ReviewResult | None) -> list[Annotation]:
    """One annotation per review issue that names a file and a line."""
    if review is None:
        return []
    return [_annotation(issue) for issue in review.issues if issue.file and issue.line]


def _annotation(issue: ReviewIssue) -> Annotation:
    assert issue.file is not None and issue.line is not None
    return Annotation(
        path=issue.file.lstrip("/"),
        start_line=issue.line,
        end_line=issue.line,
        annotation_level=_LEVELS[issue.severity],
        title=f"[{issue.severity}] {inert_line(issue.category)}"[:255],
        message=(
            f"{inert_line(issue.problem)}\n\nRecommended fix: {inert_line(issue.recommended_fix)}"
        )[:64_000],
    )


def check_verdict(decision: Decision) -> tuple[Conclusion, str]:
    """The check run's conclusion and title for a decision."""
    if decision.gate is Gate.needs_approval:
        who = ", ".join(decision.approvers) or "nobody: the gated paths have no code owner"
        return "action_required", f"Needs an approving review from a code owner ({who})"[:255]
    if decision.gate is Gate.blocked:
        return "failure", "Blocked by policy"
    return "success", "Draft ready for review"


def gate_text(decision: Decision) -> str | None:
    """The check run's text for a gated change: why, and who can release it."""
    if decision.gate is not Gate.needs_approval:
        return None
    lines = ["## Approval needed", "", *[f"- {inert_line(r)}" for r in decision.reasons], ""]
    for path, owners in decision.owners_by_path.items():
        named = ", ".join(map(code, owners))
        lines.append(f"- {code(path)}: {named or 'no code owner'}")
    lines += [
        "",
        "An approving review by a code owner of these paths (not the author, not the bot) "
        "releases the gate.",
    ]
    if decision.unowned_paths:
        lines.append(
            "Paths without a code owner cannot be released by a review: add them to CODEOWNERS."
        )
    return "\n".join(lines)


def find_check_run(gh: InstallationClient, repo: str, head_sha: str) -> CheckRun | None:
    """This App's `draftsmith` check run on `head_sha`, or None."""
    return gh.checks.find(repo, head_sha, CHECK_NAME, gh.gateway.app_id)


def _key(annotation: Annotation | CheckAnnotation) -> tuple[str, int, str]:
    return (annotation.path, annotation.start_line, annotation.message or "")


def upsert_check_run(
    gh: InstallationClient,
    repo: str,
    *,
    head_sha: str,
    summary: str,
    decision: Decision,
    review: ReviewResult | None,
    details_url: str | None = None,
    external_id: str | None = None,
    incomplete: str | None = None,
) -> CheckRun:
    """Create or update the `draftsmith` check run of `head_sha`; annotations are never doubled."""
    conclusion, title = check_verdict(decision)
    if incomplete:
        conclusion, title = "action_required", f"Incomplete: {incomplete}"[:250]
    text = gate_text(decision)
    wanted = annotations_for(review)
    existing = find_check_run(gh, repo, head_sha)
    if existing is None:
        existing = gh.checks.create(
            repo,
            name=CHECK_NAME,
            head_sha=head_sha,
            external_id=external_id,
            details_url=details_url,
        )
        new = wanted
    else:  # GitHub appends annotations on update: send only the missing ones
        have = (
            {_key(a) for a in gh.checks.annotations(repo, existing.id)}
            if existing.output.annotations_count
            else set()
        )
        new = [a for a in wanted if _key(a) not in have]
    return gh.checks.update(
        repo,
        existing.id,
        title=title,
        summary=_bounded(summary),
        text=text,
        annotations=new,
        status="completed",
        conclusion=conclusion,
    )


def _bounded(text: str, limit: int = SUMMARY_LIMIT) -> str:
    if len(text) <= limit:
        return text
    note = "\n\n… (cut; the full report is in the pull request body)"
    return text[: limit - len(note)] + note
