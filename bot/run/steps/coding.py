"""Coding: the coder's CodeChange for this revision, applied and committed on the branch."""

from __future__ import annotations

from typing import ClassVar

from bot.agents.coder import Coder
from bot.contracts import CodeChange, Gate, ImplementationPlan
from bot.errors import WorkspaceError
from bot.github.markdown import commit_text
from bot.policy.decide import evaluate
from bot.repo.retrieval import select_context
from bot.run import artifacts
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.run.transitions import Move

CONTEXT_TOKENS = 24_000


class Coding:
    """plan + feedback -> change.rN -> diff.rN; edits of forbidden paths block the run."""

    phase: ClassVar[Phase] = Phase.coding
    reads: ClassVar[Kinds] = (artifacts.PLAN, artifacts.FEEDBACK)
    writes: ClassVar[Kinds] = (
        artifacts.CHANGE,
        artifacts.DIFF,
        artifacts.DECISION,
        artifacts.FEEDBACK,
    )

    async def run(self, ctx: RunContext) -> StepResult:
        """Ask the coder once per revision, then apply and commit the edits once."""
        run, stored = ctx.run, ctx.artifacts
        revision = run.revision
        change = stored.load(artifacts.CHANGE, revision)
        if change is None:
            change = await self._code(ctx, stored.require(artifacts.PLAN))
            stored.save(artifacts.CHANGE, change, revision)
        decision = evaluate([e.path for e in change.edits], {}, ctx.policy)
        if decision.gate is Gate.blocked:
            stored.save(artifacts.DECISION, decision)
            return StepResult(Move.block, "; ".join(decision.reasons), "forbidden path")
        if not stored.exists(artifacts.DIFF, revision):
            try:
                ctx.workspace.apply(change)
            except WorkspaceError as exc:
                return StepResult.revise(f"Your edits could not be applied: {exc}", "edit refused")
            if not ctx.workspace.git("status", "--porcelain").strip():
                why = f"revision {revision} changes nothing: the coder sent the code as it is"
                return StepResult(Move.give_up, why, "identical revision")
            explanation = commit_text(change.explanation[:2000])
            ctx.workspace.commit(f"draftsmith: revision {revision}\n\n{explanation}")
            stored.save(artifacts.DIFF, ctx.workspace.diff(ctx.base), revision)
            ctx.store.update_run(run.id, head_sha=ctx.workspace.head())
        return StepResult.advance()

    async def _code(self, ctx: RunContext, plan: ImplementationPlan) -> CodeChange:
        coder = Coder(ctx.llm, ctx.workspace, ctx.policy.budgets.max_tool_calls)
        completion = await coder.run(
            plan=plan,
            files=self._plan_files(ctx, plan),
            feedback=self._feedback(ctx),
            revision=ctx.run.revision,
            guidance=guidance_for(ctx, plan.files_to_create + plan.files_to_modify),
        )
        return completion.value

    @staticmethod
    def _plan_files(ctx: RunContext, plan: ImplementationPlan) -> dict[str, str]:
        files: dict[str, str] = {}
        for path in plan.files_to_modify:
            try:
                files[path] = ctx.workspace.read_file(path, 60_000)
            except WorkspaceError:
                continue
        if len(files) < 2:
            request = plan.summary + "\n" + "\n".join(plan.acceptance_criteria)
            context = select_context(ctx.workspace.root, request, CONTEXT_TOKENS // 2)
            for file in context.files:
                files.setdefault(file.path, file.content)
        return files

    @staticmethod
    def _feedback(ctx: RunContext) -> list[str]:
        """This revision's feedback: what the steps stored, then people's unread inputs."""
        run, stored = ctx.run, ctx.artifacts
        notes = list(stored.all(artifacts.FEEDBACK, run.revision))
        for event in ctx.store.take_inputs(run.id):
            note = f"From @{event.data.get('author', 'a maintainer')}: {event.message}"
            stored.save(artifacts.FEEDBACK, note, run.revision)
            notes.append(note)
        return notes
