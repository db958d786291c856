"""Reviewing, after the tests: the differential static analysis, then the reviewer's ReviewResult
on the whole evidence (diff, new findings, test results, coverage of the change, its previous
review). The rules of `bot.analysis.rules` decide before the model and cannot be overruled."""

from __future__ import annotations

from typing import ClassVar

from bot.agents.reviewer import Reviewer
from bot.analysis.evidence import review_evidence, run_analysis
from bot.run import artifacts
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.shared.contracts import ReviewResult, ReviewStatus


class Reviewing:
    """plan + testoutcome.rN -> analysis.rN + review.rN; asking for changes sends the work back."""

    phase: ClassVar[Phase] = Phase.reviewing
    reads: ClassVar[Kinds] = (artifacts.PLAN, artifacts.TEST_OUTCOME)
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
            return StepResult.send_back(f"The review asked for changes:\n{problems}", "review")
        return StepResult.advance()

    async def _review(self, ctx: RunContext) -> ReviewResult:
        stored, revision = ctx.artifacts, ctx.run.revision
        diff = ctx.workspace.diff(ctx.base)  # the change and its new tests
        analysis = stored.load(artifacts.ANALYSIS, revision)
        if analysis is None:
            sandbox, limits = ctx.services.sandbox, ctx.services.limits
            analysis = await run_analysis(sandbox, ctx.workspace.root, ctx.base, diff, limits)
            stored.save(artifacts.ANALYSIS, analysis, revision)
        evidence = review_evidence(
            plan=stored.require(artifacts.PLAN),
            diff=diff,
            analysis=analysis,
            tests=stored.load(artifacts.TEST_OUTCOME, revision),
            previous=stored.load(artifacts.REVIEW, revision - 1) if revision else None,
            guidance=guidance_for(ctx, ctx.workspace.changed_files(ctx.base)),
        )
        completion = await Reviewer(ctx.llm).run(evidence)
        return completion.value
