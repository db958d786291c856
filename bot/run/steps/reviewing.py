"""Reviewing: static analysis and the credential scan, then the reviewer's ReviewResult."""

from __future__ import annotations

from typing import ClassVar

from bot.agents.analysis import analyse
from bot.agents.reviewer import Reviewer
from bot.contracts import ReviewResult, ReviewStatus
from bot.run import artifacts
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.security.credentials import find_credentials, to_review_issue


class Reviewing:
    """plan + diff.rN -> analysis.rN + review.rN; a review asking for changes revises."""

    phase: ClassVar[Phase] = Phase.reviewing
    reads: ClassVar[Kinds] = (artifacts.PLAN, artifacts.DIFF)
    writes: ClassVar[Kinds] = (artifacts.ANALYSIS, artifacts.REVIEW)

    async def run(self, ctx: RunContext) -> StepResult:
        """Review once per revision (the stored review is reused)."""
        stored, revision = ctx.artifacts, ctx.run.revision
        review = stored.load(artifacts.REVIEW, revision)
        if review is None:
            review = await self._review(ctx)
            stored.save(artifacts.REVIEW, review, revision)
        if review.status is ReviewStatus.needs_revision:
            problems = "\n".join(
                f"- [{i.severity}] {i.file or ''}{':' + str(i.line) if i.line else ''} "
                f"{i.problem} -> {i.recommended_fix}"
                for i in review.issues
            )
            return StepResult.revise(f"The review asked for changes:\n{problems}", "review")
        return StepResult.advance()

    async def _review(self, ctx: RunContext) -> ReviewResult:
        stored, revision = ctx.artifacts, ctx.run.revision
        diff = stored.text(artifacts.DIFF, revision)
        changed = ctx.workspace.changed_files(ctx.base)
        sandbox, limits = ctx.sandbox, ctx.services.limits
        analysis = await analyse(sandbox, ctx.workspace.root, changed, limits)
        stored.save(artifacts.ANALYSIS, analysis.output, revision)
        deterministic = analysis.issues + [to_review_issue(f) for f in find_credentials(diff)]
        completion = await Reviewer(ctx.llm).run(
            plan=stored.require(artifacts.PLAN),
            diff=diff,
            analysis=analysis.output,
            test_report=None,
            deterministic=deterministic,
            guidance=guidance_for(ctx, changed),
        )
        return completion.value
