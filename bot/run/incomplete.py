"""When a budget ends a run, its work reaches GitHub: a pushed branch and a draft PR marked
incomplete, saying what was done, what is left and why it stopped.

The push goes through the same gate as any other: the policy's decision on the changed paths
(with code owners and injection flags) and the credential scan of the diff. A change that does
not pass is not pushed, and the issue says why.
"""

from __future__ import annotations

import logging

from bot.agents.deployer import build_draft
from bot.run import artifacts
from bot.run.context import RunContext, StepResult
from bot.run.evidence import collect
from bot.run.ports import GitHubEffects
from bot.run.steps.deploying import Deploying
from bot.run.transitions import PHASE_ORDER
from bot.security.credentials import find_credentials
from bot.shared.contracts import Gate
from bot.shared.errors import DraftsmithError
from bot.store.vocabulary import EventKind

logger = logging.getLogger(__name__)

NOT_PUSHED_MARKER = "<!-- draftsmith:incomplete:{run_id} -->"


def done_and_left(ctx: RunContext) -> tuple[list[str], list[str]]:
    """What the run finished (from its artifacts) and the phases still ahead of it."""
    stored, rev = ctx.artifacts, ctx.run.revision
    done: list[str] = []
    if stored.exists(artifacts.PLAN):
        done.append("plan")
    if stored.exists(artifacts.DIFF, rev):
        done.append(f"code (revision {rev})")
    review = stored.load(artifacts.REVIEW, rev)
    if review is not None:
        done.append(f"review ({review.status})")
    tests = stored.load(artifacts.TEST_OUTCOME, rev)
    if tests is not None:
        done.append(f"tests ({tests.report.status})")
    phase = ctx.run.phase
    left = [str(p) for p in PHASE_ORDER[PHASE_ORDER.index(phase) :]] if phase in PHASE_ORDER else []
    return done, left


def summary(ctx: RunContext, reason: str | None) -> str:
    """The incomplete-work note: why it stopped, what was done, what is left."""
    done, left = done_and_left(ctx)
    return (
        f"**Incomplete**: Draftsmith stopped before finishing: {reason}.\n"
        f"- Done: {', '.join(done) or 'nothing yet'}\n"
        f"- Left: {', '.join(left) or 'nothing'}\n"
        "A writer can `/draftsmith retry` (a new attempt, resuming from the stored work) or "
        "`/draftsmith revise <what to change>`."
    )


def publish_incomplete(ctx: RunContext, result: StepResult) -> StepResult:
    """Push the work of a run a budget ended and open/update its draft PR marked incomplete."""
    run = ctx.store.get_run(ctx.run.id)
    gh = ctx.services.github(run)
    note = summary(ctx, result.reason)
    if gh is None or run.issue_number is None:
        return result  # a local run: the branch is brought back by `draftsmith run`
    changed = ctx.workspace.changed_files(ctx.base)
    if not changed:
        ctx.artifacts.save(artifacts.INCOMPLETE, note + "\nNo code was written yet.")
        return result
    refusal = _refusal(ctx, changed)
    if refusal:
        text = f"{note}\nThe work was **not pushed**: {refusal}"
        ctx.artifacts.save(artifacts.INCOMPLETE, text)
        marker = NOT_PUSHED_MARKER.format(run_id=run.id)
        gh.upsert_comment(run.repo, run.issue_number, marker, f"{marker}\n{text}")
        return StepResult(result.move, f"{result.reason}; work not pushed: {refusal}", "budget")
    try:
        url = _publish(ctx, gh, changed, note)
    except DraftsmithError as exc:
        logger.warning("incomplete work not published: %s", exc, extra={"run_id": run.id})
        ctx.artifacts.save(artifacts.INCOMPLETE, f"{note}\nPublishing failed: {exc}")
        return StepResult(result.move, f"{result.reason}; publishing failed: {exc}", "budget")
    ctx.artifacts.save(artifacts.INCOMPLETE, note)
    return StepResult(result.move, f"{result.reason}; the work so far is on {url}", "budget")


def _refusal(ctx: RunContext, changed: list[str]) -> str | None:
    """Why the work may not leave the workspace: policy block or credentials in the diff."""
    decision = Deploying.decide(ctx, changed)
    ctx.artifacts.save(artifacts.DECISION, decision)
    if decision.gate is Gate.blocked:
        return "the policy blocks it (" + "; ".join(decision.reasons) + ")"
    findings = find_credentials(ctx.workspace.diff(ctx.base))
    if findings:
        where = ", ".join(sorted({f"{f.file}:{f.line}" for f in findings}))
        return f"the diff holds what looks like a credential ({where})"
    return None


def _publish(ctx: RunContext, gh: GitHubEffects, changed: list[str], note: str) -> str:
    run = ctx.store.get_run(ctx.run.id)
    assert run.issue_number is not None
    decision = ctx.artifacts.require(artifacts.DECISION)
    draft = build_draft(run, collect(ctx.services, run, decision), decision)
    draft = draft.model_copy(
        update={"title": f"[incomplete] {draft.title}"[:250], "body": f"{note}\n\n{draft.body}"}
    )
    Deploying.publish(ctx, gh, run, draft, decision, changed, note.splitlines()[0])
    published = ctx.artifacts.require(artifacts.PUBLISHED)
    ctx.store.add_event(run.id, EventKind.published, published.pr_url, {"incomplete": True})
    return published.pr_url
