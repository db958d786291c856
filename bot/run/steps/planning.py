"""Planning: the planner's ImplementationPlan, checked by the policy; maybe a pause for approval."""

from __future__ import annotations

from typing import ClassVar

from bot.agents.planner import Planner, plan_for_approval
from bot.policy.decide import evaluate
from bot.repo.retrieval import select_context
from bot.run import artifacts
from bot.run.checkout import issue_text
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.run.transitions import Move
from bot.shared.contracts import Gate, ImplementationPlan
from bot.store.vocabulary import EventKind

CONTEXT_TOKENS = 24_000


class Planning:
    """issue text + repository -> plan; forbidden paths block, risky ones ask for approval."""

    phase: ClassVar[Phase] = Phase.planning
    reads: ClassVar[Kinds] = (artifacts.ISSUE,)
    writes: ClassVar[Kinds] = (
        artifacts.PLAN,
        artifacts.PLAN_DECISION,
        artifacts.PLAN_FOR_APPROVAL,
        artifacts.FLAG,
    )

    async def run(self, ctx: RunContext) -> StepResult:
        """Plan once (the stored plan is reused), then apply the policy to the planned paths."""
        run, stored = ctx.run, ctx.artifacts
        plan = stored.load(artifacts.PLAN)
        if plan is None:
            plan = await self._plan(ctx)
            stored.save(artifacts.PLAN, plan)
        decision = evaluate(plan.files_to_create + plan.files_to_modify, {}, ctx.policy)
        stored.save(artifacts.PLAN_DECISION, decision)
        if decision.gate is Gate.blocked:
            reason = "the plan touches forbidden paths: " + "; ".join(decision.reasons)
            return StepResult(Move.block, reason, "forbidden path")
        approved = bool(ctx.store.events(run.id, EventKind.plan_approved))
        needs = ctx.policy.require_plan_approval or decision.gate is Gate.needs_approval
        if not needs or approved:
            return StepResult.advance()
        text = plan_for_approval(run.id, plan, decision, self._plan_tokens(ctx))
        stored.save(artifacts.PLAN_FOR_APPROVAL, text)
        gh = ctx.services.github(run)
        if gh is not None and run.issue_number is not None:
            marker = f"<!-- draftsmith:plan:{run.id} -->"
            gh.upsert_comment(run.repo, run.issue_number, marker, text)
        return StepResult(
            Move.await_plan_approval, "the plan waits for /draftsmith approve-plan", "done"
        )

    async def _plan(self, ctx: RunContext) -> ImplementationPlan:
        run = ctx.run
        issue = issue_text(ctx.store, run)
        request = f"{issue.title}\n{issue.body}"
        context = select_context(ctx.workspace.root, request, CONTEXT_TOKENS // 2)
        for file in context.files:
            ctx.screen_file(file.path, file.content)
        completion = await Planner(ctx.llm).run(
            title=issue.title,
            body=issue.body,
            repo_map=context.repo_map,
            files={f.path: f.content for f in context.files},
            source=f"issue #{run.issue_number}" if run.issue_number else "local request",
            guidance=guidance_for(ctx),
        )
        return completion.value

    @staticmethod
    def _plan_tokens(ctx: RunContext) -> tuple[int, float | None]:
        """Tokens and cost the planner used (this step's calls, or the stored ones); the cost
        is None when a call had no price."""
        calls = [u for u in ctx.usages if u.role == "planner"]
        if calls:
            cost = sum(u.cost_usd for u in calls)
            return sum(u.total_tokens for u in calls), cost if all(
                u.priced for u in calls
            ) else None
        events = [
            e for e in ctx.store.events(ctx.run.id, EventKind.model_call) if e.message == "planner"
        ]
        priced = all(e.data.get("priced", True) for e in events)
        return (
            sum(int(e.data.get("total_tokens", 0)) for e in events),
            sum(float(e.data.get("cost_usd", 0.0)) for e in events) if priced else None,
        )
