"""Testing: the tester's TestPlan, run with the suite in the sandbox on the base and the change.

The results go to the reviewer, which judges them with the rest of the evidence (failures, the
fail-before/pass-after proof, coverage of the change); only refused test files come back here."""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from bot.agents.tester import Tester
from bot.environment.cache import RepositoryCache
from bot.run import artifacts
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.run.steps.setup import ensure_environment
from bot.run.steps.trials import test_candidates
from bot.run.transitions import Move
from bot.sandbox.witness import TAMPERED
from bot.security.screening import ADDRESSED_TO_A_MODEL
from bot.shared.contracts import TestOutcome, TestPlan
from bot.testing.checkout import restore

logger = logging.getLogger(__name__)


class Testing:
    """plan + diff.rN -> testplan.rN -> testoutcome.rN (+ log, commands, report); with N
    candidates: candidate.rN -> trial.rN each -> candidates.rN -> the winner's change.rN,
    diff.rN, testoutcome.rN and analysis.rN (bot/run/steps/trials.py)."""

    phase: ClassVar[Phase] = Phase.testing
    reads: ClassVar[Kinds] = (
        artifacts.PLAN,
        artifacts.DIFF,
        artifacts.REVIEW,
        artifacts.ENVIRONMENT,
        artifacts.CANDIDATE,
    )
    writes: ClassVar[Kinds] = (
        artifacts.TEST_PLAN,
        artifacts.TEST_LOG,
        artifacts.TEST_COMMANDS,
        artifacts.TEST_REPORT,
        artifacts.TEST_OUTCOME,
        artifacts.FLAG,
        artifacts.TRIAL,
        artifacts.CANDIDATES,
    )

    async def run(self, ctx: RunContext) -> StepResult:
        """Plan the tests once, prepare the environment, run them once per revision.

        Failures that are not the code's (setup, a suite that cannot run on the base either) end
        the run for a person; the rest goes to the reviewer, which sends only new failures (not
        those already on the base) back to the coder (bot.analysis.rules)."""
        services = ctx.services
        tester = Tester(ctx.llm, ctx.sandbox, services.limits, ctx.policy, ctx.repo_config)
        restore(ctx.workspace)  # a worker killed while the base was checked out
        outcome = ctx.artifacts.load(artifacts.TEST_OUTCOME, ctx.run.revision)
        candidates = list(ctx.artifacts.all(artifacts.CANDIDATE, ctx.run.revision))
        if outcome is None and candidates:  # best of N: each one's evidence, then the winner
            pending = await test_candidates(ctx, tester, candidates, self._feedback(ctx))
            if pending is not None:
                return pending
            outcome = ctx.artifacts.require(artifacts.TEST_OUTCOME, ctx.run.revision)
        if outcome is None:
            outcome = await self._test(ctx, tester, await self._test_plan(ctx, tester))
        if outcome.tampered:  # never evidence, never the coder's to fix: a person looks
            reason = f"{TAMPERED}: {outcome.tampered}"[:1000]
            return StepResult(Move.give_up, reason, "tampered")
        if outcome.refused:
            return StepResult.send_back(outcome.refused, "test files refused")
        if outcome.environment_problem:
            why = f"not the code's failure (not sent to the coder): {outcome.environment_problem}"
            return StepResult(Move.give_up, why, "environment")
        if outcome.new_failures:
            # tracebacks quote code: screened like code
            ctx.screen(outcome.report.failure_details, "test output", ADDRESSED_TO_A_MODEL)
        return StepResult.advance()  # the reviewer judges the results with the rest

    async def _test_plan(self, ctx: RunContext, tester: Tester) -> TestPlan:
        stored, revision = ctx.artifacts, ctx.run.revision
        test_plan = stored.load(artifacts.TEST_PLAN, revision)
        if test_plan is None:
            completion = await tester.plan(
                plan=stored.require(artifacts.PLAN),
                workspace=ctx.workspace,
                base=ctx.base,
                diff=stored.text(artifacts.DIFF, revision),
                guidance=guidance_for(ctx, ctx.workspace.changed_files(ctx.base)),
                feedback=self._feedback(ctx),
            )
            test_plan = completion.value
            stored.save(artifacts.TEST_PLAN, test_plan, revision)
        return test_plan

    @staticmethod
    def _feedback(ctx: RunContext) -> list[str]:
        """The previous review's issues about the tests, for the tester of a revision."""
        revision = ctx.run.revision
        previous = ctx.artifacts.load(artifacts.REVIEW, revision - 1) if revision else None
        if previous is None:
            return []
        return [
            f"- {i.problem} -> {i.recommended_fix}"
            for i in previous.issues
            if i.category == "tests"
        ]

    async def _test(self, ctx: RunContext, tester: Tester, test_plan: TestPlan) -> TestOutcome:
        stored, revision = ctx.artifacts, ctx.run.revision
        started = time.monotonic()
        cache = RepositoryCache(ctx.services.settings.work_dir / "cache", ctx.run.repo)
        environment = await ensure_environment(ctx)  # prepared by the setup step
        outcome = await tester.run(
            ctx.workspace, ctx.base, test_plan, environment=environment, cache=cache
        )
        logger.info("tests ran in %.2fs", time.monotonic() - started, extra={"run_id": ctx.run.id})
        stored.save(artifacts.TEST_LOG, outcome.log, revision)
        stored.save(artifacts.TEST_COMMANDS, outcome.commands, revision)
        stored.save(artifacts.TEST_REPORT, outcome.report, revision)
        stored.save(artifacts.TEST_OUTCOME, outcome, revision)
        ctx.store.update_run(ctx.run.id, head_sha=ctx.workspace.head())
        return outcome
