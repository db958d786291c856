"""Best of N in the testing step: each candidate's evidence, then the winner becomes the revision.

The coding step stored N candidates (`candidate.rN`) and committed none. Here each one, in turn
and one per call of the step (so each one's model usage is recorded when it ends), is committed
on the revision's start, given the tester's tests, run with the suite on the base and the change,
and analysed (differential static analysis), exactly as a single change is; its evidence is
stored as `trial.rN` and the tree goes back to the start. When every candidate has its evidence,
`bot.run.candidates.choose` ranks them (`candidates.rN`: how many were tried, why the winner won
and why each other lost), and the winner is adopted: committed with its tests and stored under
the revision's usual names (change, diff, testplan, testoutcome, analysis), so the reviewer and
the deployer see one change, as with a single coder.

Crash safety: until the winner's `diff.rN` is stored the run store describes the revision's
start, so a worker killed mid-trial resumes on that start (bot/run/resume.py rebuilds it) and
redoes only the unfinished candidate; stored trials and the stored verdict are never redone, and
only the winner's commits ever reach the branch.
"""

from __future__ import annotations

from bot.agents.tester import TESTS_SUBJECT, Tester, tester_edits
from bot.agents.worktree import WorkingTree
from bot.analysis.evidence import run_analysis
from bot.environment.cache import RepositoryCache
from bot.github.markdown import commit_text
from bot.run import artifacts
from bot.run.candidates import Candidate, Evaluated, choose, disqualified, trial_of
from bot.run.context import RunContext, StepResult
from bot.run.guidance import guidance_for
from bot.run.steps.setup import ensure_environment
from bot.run.transitions import Move
from bot.sandbox.witness import TAMPERED
from bot.shared.contracts import CodeChange
from bot.shared.errors import WorkspaceError
from bot.store.vocabulary import EventKind
from bot.testing.checkout import restore


async def test_candidates(
    ctx: RunContext, tester: Tester, candidates: list[Candidate], feedback: list[str]
) -> StepResult | None:
    """One more candidate's evidence (a result: the step runs again), or, once all have theirs,
    the winner adopted as the revision (None: its outcome is stored, go on as for one change).

    `feedback` is what the previous review said about the tests, for each candidate's tester."""
    stored, revision = ctx.artifacts, ctx.run.revision
    by_number = {c.number: c for c in candidates}
    verdict = stored.load(artifacts.CANDIDATES, revision)
    if verdict is None:
        done = {e.trial.number: e for e in stored.all(artifacts.TRIAL, revision)}
        pending = [c for n, c in sorted(by_number.items()) if n not in done]
        if pending:
            evaluated = await _evaluate(ctx, tester, pending[0], feedback)
            stored.save(artifacts.TRIAL, evaluated, revision)
            done[pending[0].number] = evaluated
            if len(pending) > 1:
                return StepResult.again(f"candidate {pending[0].number} tested")
        for number, evaluated in sorted(done.items()):
            if evaluated.outcome is not None and evaluated.outcome.tampered:
                reason = f"{TAMPERED}: candidate {number}: {evaluated.outcome.tampered}"
                return StepResult(Move.give_up, reason[:1000], "tampered")
        verdict = choose([e.trial for _, e in sorted(done.items())])
        stored.save(artifacts.CANDIDATES, verdict, revision)
        summary = f"candidate {verdict.winner} of {verdict.tried} chosen: {verdict.why}"
        ctx.store.add_event(ctx.run.id, EventKind.note, summary[:1000])
    winner = next(
        e for e in stored.all(artifacts.TRIAL, revision) if e.trial.number == verdict.winner
    )
    if winner.outcome is None:  # no candidate could even be tested: back to the coders
        lost = "\n".join(f"- candidate {t.number}: {t.disqualified}" for t in verdict.trials)
        return StepResult.send_back(f"None of the candidates could be tested:\n{lost}", "untested")
    _adopt(ctx, by_number[verdict.winner], winner, verdict.tried)
    return None


async def _evaluate(
    ctx: RunContext, tester: Tester, candidate: Candidate, feedback: list[str]
) -> Evaluated:
    """The candidate committed on the revision's start, tested and analysed; the tree is back
    at the start afterwards."""
    number, workspace, revision = candidate.number, ctx.workspace, ctx.run.revision
    if candidate.change is None or candidate.problem:
        return Evaluated(disqualified(number, candidate.problem or "submitted no edit"))
    start = workspace.head()
    tree = WorkingTree(workspace)
    tree.clean()
    try:
        try:
            workspace.apply(candidate.change)
        except WorkspaceError as exc:
            return Evaluated(disqualified(number, f"its edits could not be applied: {exc}"))
        if not workspace.git("status", "--porcelain").strip():
            return Evaluated(disqualified(number, "its edits leave the code as it is"))
        workspace.commit(f"draftsmith: revision {revision}, candidate {number}")
        code_diff = workspace.diff(start)
        plan_kind = artifacts.of_candidate(artifacts.TEST_PLAN, number)
        test_plan = ctx.artifacts.load(plan_kind, revision)
        if test_plan is None:
            completion = await tester.plan(
                plan=ctx.artifacts.require(artifacts.PLAN),
                workspace=workspace,
                base=ctx.base,
                diff=workspace.diff(ctx.base),
                guidance=guidance_for(ctx, workspace.changed_files(ctx.base)),
                feedback=feedback,
            )
            test_plan = completion.value
            ctx.artifacts.save(plan_kind, test_plan, revision)
        environment = await ensure_environment(ctx)
        cache = RepositoryCache(ctx.services.settings.work_dir / "cache", ctx.run.repo)
        outcome = await tester.run(
            workspace, ctx.base, test_plan, environment=environment, cache=cache
        )
        analysis = None
        if not (outcome.refused or outcome.tampered or outcome.environment_problem):
            services = ctx.services
            diff = workspace.diff(ctx.base)
            analysis = await run_analysis(
                services.sandbox, workspace.root, ctx.base, diff, services.limits
            )
        trial = trial_of(number, outcome, analysis, code_diff)
        return Evaluated(trial, test_plan, outcome, analysis, code_diff)
    finally:
        restore(workspace)  # the base checked out in place by the tests
        workspace.git("reset", "--quiet", "--hard", start)
        tree.clean()


def _adopt(ctx: RunContext, candidate: Candidate, winner: Evaluated, tried: int) -> None:
    """The winner as the revision: its commit and its tests' commit on the start, and its
    evidence under the revision's usual artifact names (the outcome last: it marks the end)."""
    stored, revision, workspace = ctx.artifacts, ctx.run.revision, ctx.workspace
    change, outcome = candidate.change, winner.outcome
    assert change is not None and outcome is not None
    if not stored.exists(artifacts.DIFF, revision):
        WorkingTree(workspace).clean()
        workspace.apply(change)
        explanation = commit_text(change.explanation[:2000])
        number = winner.trial.number
        workspace.commit(
            f"draftsmith: revision {revision}\n\ncandidate {number} of {tried}: {explanation}"
        )
        stored.save(artifacts.CHANGE, change, revision)
        stored.save(artifacts.DIFF, workspace.diff(ctx.base), revision)
    test_plan = winner.test_plan
    committed = workspace.git("log", "-1", "--format=%s").strip() == TESTS_SUBJECT
    if test_plan is not None and not outcome.refused and not committed:
        edits = tester_edits(workspace.root, test_plan.files)
        if edits:
            workspace.apply(CodeChange(edits=edits, explanation="tests"))
            focus = commit_text("; ".join(test_plan.focus)[:1000])
            workspace.commit(f"{TESTS_SUBJECT}\n\n{focus}")
    if test_plan is not None:
        stored.save(artifacts.TEST_PLAN, test_plan, revision)
    stored.save(artifacts.TEST_LOG, outcome.log, revision)
    stored.save(artifacts.TEST_COMMANDS, outcome.commands, revision)
    stored.save(artifacts.TEST_REPORT, outcome.report, revision)
    if winner.analysis is not None:
        stored.save(artifacts.ANALYSIS, winner.analysis, revision)
    stored.save(artifacts.TEST_OUTCOME, outcome, revision)
    ctx.store.update_run(ctx.run.id, head_sha=workspace.head())
