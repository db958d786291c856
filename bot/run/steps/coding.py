"""Coding: the coder's edit-run loop for this revision, its working tree committed on the branch.

The environment the setup step prepared is made sure of first (the coder's `run` uses it). The
loop's working tree is stored after every edit and each step as a transcript row; a worker killed
mid-loop resumes from the stored tree (never replaying an edit). At `submit` the tree of the
edited paths is the change: stored once as `change.rN`, then applied on a clean tree and
committed, so nothing a command wrote on the side is ever part of it.

With `DRAFTSMITH_CANDIDATES=N` (N > 1) the step runs once per candidate (`StepResult.again`),
each loop on a clean tree from the revision's start with its own seed and its own stored tree and
transcript (`worktree.cK.rN`, `transcript.cK.rN`); each submission is stored as `candidate.rN`
and nothing is committed: the testing step tests every candidate and commits the winner
(bot/run/steps/trials.py).
"""

from __future__ import annotations

from typing import ClassVar

from bot.agents.coder import Coder
from bot.agents.loop import CoderLoop, LoopStep
from bot.agents.worktree import WorkingTree, discard_environment, environment_fingerprint
from bot.github.markdown import commit_text
from bot.policy.decide import evaluate
from bot.repo.retrieval import select_context
from bot.run import artifacts
from bot.run.candidates import Candidate
from bot.run.context import Kinds, RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.states import Phase
from bot.run.steps.setup import NOT_THE_CODE, ensure_environment
from bot.run.transitions import Move
from bot.security.untrusted import as_data
from bot.shared.contracts import CodeChange, Gate, ImplementationPlan
from bot.shared.errors import BudgetExhausted, WorkspaceError

CONTEXT_TOKENS = 24_000


class Coding:
    """plan + feedback -> worktree.rN + transcript.rN -> change.rN -> diff.rN; edits of
    forbidden paths block the run. With N candidates: worktree.cK.rN + transcript.cK.rN ->
    candidate.rN per candidate K (the testing step chooses)."""

    phase: ClassVar[Phase] = Phase.coding
    reads: ClassVar[Kinds] = (artifacts.PLAN, artifacts.FEEDBACK, artifacts.WORKTREE)
    writes: ClassVar[Kinds] = (
        artifacts.WORKTREE,
        artifacts.TRANSCRIPT,
        artifacts.CHANGE,
        artifacts.DIFF,
        artifacts.DECISION,
        artifacts.FEEDBACK,
        artifacts.CANDIDATE,
    )

    async def run(self, ctx: RunContext) -> StepResult:
        """Run the coder's loop once per revision, then apply and commit the change once."""
        run, stored = ctx.run, ctx.artifacts
        revision = run.revision
        count = ctx.services.settings.candidates
        if count > 1 and not stored.exists(artifacts.CHANGE, revision):
            return await self._candidates(ctx, count)
        tree = WorkingTree(ctx.workspace)
        change = stored.load(artifacts.CHANGE, revision)
        if change is None and not stored.exists(artifacts.DIFF, revision):
            if any(s.tool == "run" for s in stored.all(artifacts.TRANSCRIPT, revision)):
                discard_environment(ctx.workspace.root)  # an interrupted loop's commands ran in it
            environment = await ensure_environment(ctx)
            if not environment.ok:
                why = f"{NOT_THE_CODE}: {environment.problem}"
                return StepResult(Move.give_up, why, "environment")
            change = await self._code(ctx, stored.require(artifacts.PLAN), tree)
            if change is None:
                why = f"revision {revision} changes nothing: the coder submitted no edit"
                return StepResult(Move.give_up, why, "identical revision")
            stored.save(artifacts.CHANGE, change, revision)
        assert change is not None or stored.exists(artifacts.DIFF, revision)
        if change is not None:
            decision = evaluate([e.path for e in change.edits], {}, ctx.policy)
            if decision.gate is Gate.blocked:
                stored.save(artifacts.DECISION, decision)
                return StepResult(Move.block, "; ".join(decision.reasons), "forbidden path")
        if not stored.exists(artifacts.DIFF, revision):
            assert change is not None
            tree.clean()  # only the change is committed: no file a command wrote on the side
            try:
                ctx.workspace.apply(change)
            except WorkspaceError as exc:
                return StepResult.send_back(
                    f"Your edits could not be applied: {exc}", "edit refused"
                )
            if not ctx.workspace.git("status", "--porcelain").strip():
                why = f"revision {revision} changes nothing: the coder sent the code as it is"
                return StepResult(Move.give_up, why, "identical revision")
            explanation = commit_text(change.explanation[:2000])
            ctx.workspace.commit(f"draftsmith: revision {revision}\n\n{explanation}")
            stored.save(artifacts.DIFF, ctx.workspace.diff(ctx.base), revision)
            ctx.store.update_run(run.id, head_sha=ctx.workspace.head())
        return StepResult.advance()

    async def _candidates(self, ctx: RunContext, count: int) -> StepResult:
        """Best of N: one candidate's loop per call, each on a clean tree from the revision's
        start, stored as `candidate.rN`; the testing step gathers each one's evidence."""
        stored, revision = ctx.artifacts, ctx.run.revision
        done = {c.number: c for c in stored.all(artifacts.CANDIDATE, revision)}
        number = next((k for k in range(1, count + 1) if k not in done), None)
        if number is not None:
            transcript = artifacts.of_candidate(artifacts.TRANSCRIPT, number)
            if any(s.tool == "run" for s in stored.all(transcript, revision)):
                discard_environment(ctx.workspace.root)  # an interrupted loop's commands ran in it
            environment = await ensure_environment(ctx)
            if not environment.ok:
                why = f"{NOT_THE_CODE}: {environment.problem}"
                return StepResult(Move.give_up, why, "environment")
            tree = WorkingTree(ctx.workspace)
            change = await self._code(ctx, stored.require(artifacts.PLAN), tree, number)
            tree.clean()  # the next candidate starts from the revision's start, like this one
            steps = len(list(stored.all(transcript, revision)))
            done[number] = candidate_of(ctx, number, change, steps)
            stored.save(artifacts.CANDIDATE, done[number], revision)
            if len(done) < count:
                return StepResult.again(f"candidate {number} of {count} coded")
        changed = [c for c in done.values() if c.change is not None]
        if not changed:
            why = f"revision {revision} changes nothing: none of the {count} candidates edited"
            return StepResult(Move.give_up, why, "identical revision")
        if all(c.problem for c in changed):  # every change edits a forbidden path
            first = changed[0].change
            assert first is not None
            decision = evaluate([e.path for e in first.edits], {}, ctx.policy)
            stored.save(artifacts.DECISION, decision)
            return StepResult(Move.block, "; ".join(decision.reasons), "forbidden path")
        return StepResult.advance()

    async def _code(
        self,
        ctx: RunContext,
        plan: ImplementationPlan,
        tree: WorkingTree,
        candidate: int | None = None,
    ) -> CodeChange | None:
        """The loop; its change is the tree's snapshot plus any edits of the final answer.
        `candidate` is its number when several coders work on the revision (its own seed, its
        own stored tree and transcript)."""
        stored, revision = ctx.artifacts, ctx.run.revision
        worktree = artifacts.of_candidate(artifacts.WORKTREE, candidate)
        transcript = artifacts.of_candidate(artifacts.TRANSCRIPT, candidate)
        earlier = list(stored.all(transcript, revision))
        tree.restore(stored.load(worktree, revision) or [])

        def on_edit() -> None:
            stored.save(worktree, tree.snapshot(), revision)

        def on_step(step: LoopStep) -> None:
            stored.save(transcript, step, revision)

        loop = CoderLoop(
            workspace=ctx.workspace,
            sandbox=ctx.sandbox,
            limits=ctx.services.limits,
            policy=ctx.policy,
            touch=tree.touch,
            changed=lambda: bool(tree.snapshot()),
            on_edit=on_edit,
            on_step=on_step,
            first_step=len(earlier) + 1,
        )
        steps_left = ctx.policy.budgets.max_tool_calls - ctx.guard.before.tool_calls
        coder = Coder(ctx.llm, ctx.workspace, loop, max(0, steps_left))
        prepared = environment_fingerprint(ctx.workspace.root)
        try:
            completion = await coder.run(
                plan=plan,
                files=self._plan_files(ctx, plan),
                feedback=self._feedback(ctx),
                revision=revision,
                guidance=guidance_for(ctx, plan.files_to_create + plan.files_to_modify),
                resumed=resumed_note(earlier, tree),
                sampling=None if candidate is None else {"seed": candidate},
            )
        except BudgetExhausted as exc:
            kept = len(tree.snapshot())
            raise BudgetExhausted(
                f"{exc.message} during the coder's loop, after {loop.steps} steps; its working "
                f"tree ({kept} edited file{'s' if kept != 1 else ''}) is kept in "
                f"{worktree.key(revision)}, and a retry resumes from it",
                exc.hint,
            ) from exc
        finally:
            if environment_fingerprint(ctx.workspace.root) != prepared:
                # the loop's commands changed the environment the tests will run in
                discard_environment(ctx.workspace.root)
                note = "a command of the coder's loop changed the prepared environment: discarded"
                ctx.store.add_event(ctx.run.id, "environment_discarded", note, {})
        answer = completion.value
        edits = tree.snapshot() + answer.edits
        if not edits:
            return None
        return CodeChange(
            edits=edits,
            explanation=answer.explanation,
            dependencies_added=answer.dependencies_added,
            revision=revision,
        )

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


def candidate_of(ctx: RunContext, number: int, change: CodeChange | None, steps: int) -> Candidate:
    """A coded candidate; a change that edits a path the policy forbids is kept with why."""
    if change is None:
        return Candidate(number, None, "submitted no edit", steps)
    decision = evaluate([e.path for e in change.edits], {}, ctx.policy)
    if decision.gate is Gate.blocked:
        problem = "edits a path the policy forbids: " + "; ".join(decision.reasons)
        return Candidate(number, change, problem, steps)
    return Candidate(number, change, None, steps)


def resumed_note(earlier: list[LoopStep], tree: WorkingTree) -> str:
    """What an interrupted loop of this revision did, for the coder that resumes it."""
    if not earlier:
        return ""
    steps = "\n".join(
        f"{s.step}. {s.tool} {s.arguments}"
        + (f" -> exit code {s.exit_code}" if s.exit_code is not None else "")
        for s in earlier[-30:]
    )
    diff = tree.diff() or "(no edits yet)"
    return (
        f"Your work on this revision was interrupted after {len(earlier)} steps and resumes "
        "now. Your earlier steps:\n"
        + steps
        + "\nThe working tree already holds your earlier edits (do not make them again):\n"
        + as_data(diff, source="your working tree", kind="diff")
    )
