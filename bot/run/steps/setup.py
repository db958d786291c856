"""Setup: prepare the repository's own environment (bot.environment) before the coder runs.

Its own phase, between the plan and the coder: the base's venv or node_modules from its own files
(lock files first), in the sandbox's setup phase with the egress filter as the only way out, so
the coder's `run` commands use the project's interpreter, runner and dependencies. The coding and
testing steps make sure of it again (`ensure_environment`): reused when prepared, prepared anew
(from the base's dependency files) when a change edits them.
A setup that fails is not the code's failure: the run ends for a person with what failed,
the tail of its output and what to put in `.github/draftsmith.yml`; it never goes to the coder.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from bot.agents.tester import Tester
from bot.environment.cache import RepositoryCache
from bot.environment.prepare import PreparedEnvironment
from bot.run import artifacts
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.states import Phase
from bot.run.transitions import Move
from bot.testing.checkout import restore

logger = logging.getLogger(__name__)

NOT_THE_CODE = "not the code's failure (not sent to the coder)"


class Setup:
    """the base -> environment.rN (each setup command's record, the plan, why it failed)."""

    phase: ClassVar[Phase] = Phase.setup
    reads: ClassVar[Kinds] = ()
    writes: ClassVar[Kinds] = (artifacts.ENVIRONMENT,)

    async def run(self, ctx: RunContext) -> StepResult:
        """Prepare (or reuse) the environment and store what setup did."""
        environment = await ensure_environment(ctx)
        if not environment.ok:
            return StepResult(Move.give_up, f"{NOT_THE_CODE}: {environment.problem}", "environment")
        return StepResult.advance()


async def ensure_environment(ctx: RunContext) -> PreparedEnvironment:
    """The revision's environment, prepared unless the workspace still holds it.

    The testing step calls this too: a worker that died after setup may resume on a fresh clone
    (bot/run/resume.py), where the environment must be prepared again. When the workspace's
    environment is reused, the stored record of the setup that did the work is what the evidence
    shows."""
    services, revision = ctx.services, ctx.run.revision
    tester = Tester(ctx.llm, ctx.sandbox, services.limits, ctx.policy, ctx.repo_config)
    restore(ctx.workspace)  # a worker killed while the base was checked out
    cache = RepositoryCache(services.settings.work_dir / "cache", ctx.run.repo)
    environment = await tester.prepare(ctx.workspace, ctx.base, cache)
    stored = ctx.artifacts.load(artifacts.ENVIRONMENT, revision)
    if environment.reused and stored is not None and stored.get("ok"):
        return PreparedEnvironment.from_dict(stored)
    ctx.artifacts.save(artifacts.ENVIRONMENT, environment.to_dict(), revision)
    logger.info(
        "environment prepared in %.2fs%s",
        environment.duration_s,
        "" if environment.ok else f": {str(environment.problem).splitlines()[0]}",
        extra={"run_id": ctx.run.id},
    )
    return environment
