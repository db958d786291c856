"""The run state machine: `advance(run)` performs one phase and persists it.

planning -> [plan_approval] -> coding -> reviewing -(needs_revision)-> coding ...
         -> testing -(failed)-> coding ... -> deploying -> a terminal status of design.md.

Every phase stores its artifacts before the run's phase moves on, and looks for its own stored
output before doing work, so a worker killed mid-run resumes where it was and nothing is done
twice. Budgets are enforced here, not in prompts. Only this module owns iteration and retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.agents.analysis import analyse
from bot.agents.coder import Coder
from bot.agents.deployer import build_draft, write_evidence
from bot.agents.planner import Planner, plan_for_approval
from bot.agents.reviewer import Reviewer
from bot.agents.tester import Tester, TestOutcome
from bot.config import Settings
from bot.contracts import (
    CodeChange,
    Gate,
    ImplementationPlan,
    PullRequestDraft,
    ReviewResult,
    ReviewStatus,
    TestPlan,
    TestStatus,
)
from bot.errors import (
    ContractError,
    DraftsmithError,
    GitHubError,
    ModelError,
    PolicyError,
    SandboxError,
    WorkspaceError,
)
from bot.github.client import InstallationClient, authenticated_clone_url
from bot.github.codeowners import CodeOwners, find_codeowners
from bot.github.publish import publish
from bot.llm import Completion, ModelClient
from bot.policy import (
    Decision,
    Policy,
    RepoConfig,
    evaluate,
    load_default_policy,
    merge,
    parse_repo_config,
)
from bot.retrieval import select_context
from bot.sandbox.base import Limits, Sandbox, get_sandbox
from bot.security.credentials import find_credentials, to_review_issue
from bot.security.hidden import strip_hidden
from bot.security.screening import screen
from bot.store import Store
from bot.tables import Run, as_aware, utcnow
from bot.telemetry import phase_span, record_outcome, run_span
from bot.usage import Usage
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

CONFIG_PATH = ".github/draftsmith.yml"
BOT_LOGIN = "draftsmith[bot]"
CONTEXT_TOKENS = 24_000


@dataclass
class IssueText:
    """The issue as the agents see it: hidden text stripped, injection flags raised."""

    title: str
    body: str
    stripped: list[dict[str, str]] = field(default_factory=list)
    flags: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PhaseResult:
    """Where a phase leaves the run."""

    phase: str
    status: str = "running"
    reason: str | None = None
    outcome: str = "done"


@dataclass
class RunContext:
    """What the phases of one run share while one worker advances it."""

    run: Run
    workspace: Workspace
    policy: Policy
    repo_config: RepoConfig | None
    llm: ModelClient
    usages: list[Usage] = field(default_factory=list)
    tool_calls: int = 0


class Pipeline:
    """Advances runs one phase at a time; collaborators are passed in, built once."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        sandbox_factory: Callable[[], Sandbox],
        llm_factory: Callable[[RepoConfig | None], ModelClient],
        on_progress: Callable[[Run], None] | None = None,
        github_for_run: Callable[[Run], InstallationClient] | None = None,
        base_policy: Policy | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sandbox_factory = sandbox_factory
        self.llm_factory = llm_factory
        self.on_progress = on_progress
        self.github_for_run = github_for_run
        self.base_policy = base_policy or load_default_policy()
        self.limits = limits or Limits()
        self._sandbox: Sandbox | None = None

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> Pipeline:
        """The pipeline of a server or worker process."""
        from bot.handlers import Handlers

        settings = runtime.settings

        def github_for_run(run: Run) -> InstallationClient:
            from bot.commands import RepoRef

            ref = RepoRef(
                full_name=run.repo, clone_url=run.clone_url, installation_id=run.installation_id
            )
            return runtime.github_for(ref)

        def progress(run: Run) -> None:
            if run.installation_id is None or runtime.gateway is None:
                return
            handlers = Handlers(settings, runtime.store, runtime.queue, runtime.github_for)
            handlers.post_progress(github_for_run(run), run)

        return cls(
            settings,
            runtime.store,
            sandbox_factory=lambda: get_sandbox(settings),
            llm_factory=lambda config: model_client(settings, config),
            on_progress=progress,
            github_for_run=github_for_run if runtime.gateway is not None else None,
        )

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox every repository command runs in (chosen once)."""
        if self._sandbox is None:
            self._sandbox = self.sandbox_factory()
        return self._sandbox

    # the one public step -------------------------------------------------------------------
    def advance(self, run_id: int) -> Run:
        """Perform the run's current phase, persist the result, and return the updated run."""
        run = self.store.get_run(run_id)
        if run.is_terminal or run.status == "waiting":
            return run
        with run_span(run) as trace_:
            if run.trace_context is None and trace_.traceparent:
                run = self.store.update_run(run.id, trace_context=trace_.traceparent)
            with phase_span(run.id, run.phase, run.revision) as span:
                run, result = self._step(run)
                record_outcome(span, result.outcome, result.status)
        return run

    def _step(self, run: Run) -> tuple[Run, PhaseResult]:
        log = {"run_id": run.id, "phase": run.phase}
        if run.status == "queued":
            run = self.store.update_run(run.id, status="running")
        phase_id = self.store.start_phase(run.id, run.phase, run.revision)
        ctx: RunContext | None = None
        try:
            ctx = self._context(run)
            exceeded = self._budget_exceeded(ctx)
            result = (
                PhaseResult(run.phase, "needs_human_review", exceeded, "budget")
                if exceeded
                else asyncio.run(self._perform(ctx))
            )
        except ContractError as exc:
            result = PhaseResult(run.phase, "needs_human_review", exc.message, "invalid answer")
        except (ModelError, SandboxError, GitHubError, WorkspaceError, PolicyError) as exc:
            logger.error("phase failed: %s", exc, extra=log)
            result = PhaseResult(run.phase, "failed", str(exc), "error")
        except DraftsmithError as exc:
            logger.error("phase failed: %s", exc, extra=log)
            result = PhaseResult(run.phase, "failed", str(exc), "error")
        except Exception as exc:  # a bug must end the run with a reason, not leave it running
            logger.exception("phase crashed", extra=log)
            reason = f"internal error in {run.phase}: {exc.__class__.__name__}: {exc}"
            result = PhaseResult(run.phase, "failed", reason[:500], "crash")
        tokens = sum(u.total_tokens for u in ctx.usages) if ctx else 0
        cost = sum(u.cost_usd for u in ctx.usages) if ctx else 0.0
        if ctx is not None and (ctx.usages or ctx.tool_calls):
            self.store.add_usage(run.id, tokens=tokens, cost_usd=cost, tool_calls=ctx.tool_calls)
            for usage in ctx.usages:
                self.store.add_event(run.id, "model_call", usage.role, usage_dict(usage))
        self.store.finish_phase(phase_id, result.outcome, tokens=tokens, cost_usd=cost)
        if result.status in ("needs_human_review", "failed") and ctx is not None:
            self._keep_best(ctx, result)
        run = self.store.update_run(
            run.id, phase=result.phase, status=result.status, status_reason=result.reason
        )
        self.store.add_event(
            run.id,
            "phase",
            f"{log['phase']} -> {result.phase} ({result.status})",
            {"outcome": result.outcome, "reason": result.reason},
        )
        logger.info("phase %s done: now %s/%s", log["phase"], run.phase, run.status, extra=log)
        if self.on_progress is not None:
            try:
                self.on_progress(run)
            except DraftsmithError as exc:
                logger.warning("progress comment not updated: %s", exc, extra=log)
        return run, result

    async def _perform(self, ctx: RunContext) -> PhaseResult:
        phase = ctx.run.phase
        steps = {
            "planning": self._plan,
            "coding": self._code,
            "reviewing": self._review,
            "testing": self._test,
            "deploying": self._deploy,
        }
        if phase not in steps:
            return PhaseResult(phase, "failed", f"unknown phase {phase!r}", "error")
        return await steps[phase](ctx)

    # context -------------------------------------------------------------------------------
    def run_dir(self, run: Run) -> Path:
        """Where a run's clone and reports live."""
        return (self.settings.work_dir / f"run-{run.id}").resolve()

    def _context(self, run: Run) -> RunContext:
        workspace = self._workspace(run)
        run = self.store.get_run(run.id)
        repo_config = self._repo_config(run, workspace)
        policy = merge(self.base_policy, repo_config) if repo_config else self.base_policy
        return RunContext(run, workspace, policy, repo_config, self.llm_factory(repo_config))

    def _workspace(self, run: Run) -> Workspace:
        root = self.run_dir(run) / "repo"
        if (root / ".git").exists():
            return Workspace(root)
        if root.exists():  # a clone interrupted half-way: start it again
            import shutil

            shutil.rmtree(root)
        workspace = Workspace.clone(self._fetch_url(run), root)
        # The token must not stay in .git/config: the sandbox can read the workdir.
        workspace.git("remote", "set-url", "origin", run.clone_url)
        base = run.base_sha or workspace.head()
        workspace.git("checkout", "--quiet", "--detach", base)
        branch = workspace.create_branch(
            run.title or run.request[:60] or "change", run.issue_number
        )
        diff = self.store.get_artifact(run.id, f"diff.r{run.revision}")
        if diff is not None and diff.content.strip():  # resumed on another machine
            patch = self.run_dir(run) / "resume.patch"
            patch.write_text(diff.content)
            workspace.git("apply", "--index", str(patch))
            workspace.commit(f"draftsmith: revision {run.revision} (restored)")
        self.store.update_run(run.id, base_sha=base, branch=branch)
        return workspace

    def _fetch_url(self, run: Run) -> str:
        """The clone URL with the installation token for https remotes of GitHub runs."""
        if self.github_for_run is None or run.installation_id is None:
            return run.clone_url
        token = self.github_for_run(run).token().token
        return authenticated_clone_url(run.clone_url, token)

    def _repo_config(self, run: Run, workspace: Workspace) -> RepoConfig | None:
        """`.github/draftsmith.yml` as of the base commit (the default branch), never the PR's."""
        try:
            text = workspace.git("show", f"{run.base_sha}:{CONFIG_PATH}")
        except WorkspaceError:
            return None
        try:
            return parse_repo_config(text)
        except PolicyError as exc:
            self.store.add_event(run.id, "config_error", exc.message)
            return None

    def _budget_exceeded(self, ctx: RunContext) -> str | None:
        budgets, run = ctx.policy.budgets, ctx.run
        created = as_aware(run.created_at) or utcnow()
        elapsed = (utcnow() - created).total_seconds()
        if run.tokens_used >= budgets.max_tokens:
            return f"token budget reached ({run.tokens_used} >= {budgets.max_tokens})"
        if run.cost_usd >= budgets.max_cost_usd > 0:
            return f"cost budget reached (${run.cost_usd:.4f} >= ${budgets.max_cost_usd:.2f})"
        if run.tool_calls > budgets.max_tool_calls:
            return f"tool-call budget reached ({run.tool_calls} > {budgets.max_tool_calls})"
        if elapsed >= budgets.max_wall_time_s:
            return f"wall-time budget reached ({elapsed:.0f}s >= {budgets.max_wall_time_s}s)"
        return None

    def _account(self, ctx: RunContext, completion: Completion[Any]) -> None:
        ctx.usages.extend(completion.usages)
        ctx.tool_calls += completion.tool_calls

    # artifacts -------------------------------------------------------------------------------
    def _load(self, run_id: int, name: str, model: type[Any]) -> Any:
        artifact = self.store.get_artifact(run_id, name)
        return None if artifact is None else model.model_validate_json(artifact.content)

    def _save(self, run_id: int, name: str, value: Any) -> None:
        self.store.put_artifact(run_id, name, value.model_dump_json(indent=2), "application/json")

    def _screen(self, run_id: int, text: str, source: str) -> None:
        """Flag injection patterns in text an agent reads; a flag gates the change."""
        for flag in screen(text, source=source):
            self.store.put_artifact(run_id, "flag", asdict(flag))

    def issue_text(self, run: Run) -> IssueText:
        """The issue with hidden text stripped and flags raised (stored once, then reused)."""
        stored = self.store.get_artifact(run.id, "issue")
        if stored is not None:
            return IssueText(**json.loads(stored.content))
        title, body = strip_hidden(run.title), strip_hidden(run.request)
        source = f"issue #{run.issue_number}" if run.issue_number else "request"
        flags = screen(title.text + "\n" + body.text, source=f"{source} text")
        issue = IssueText(
            title.text,
            body.text,
            [asdict(r) for r in title.removed + body.removed],
            [asdict(f) for f in flags],
        )
        self.store.put_artifact(run.id, "issue", issue.__dict__)
        return issue

    # phases ----------------------------------------------------------------------------------
    async def _plan(self, ctx: RunContext) -> PhaseResult:
        run = ctx.run
        if self._load(run.id, "plan", ImplementationPlan) is None:
            issue = self.issue_text(run)
            request = f"{issue.title}\n{issue.body}"
            context = select_context(ctx.workspace.root, request, CONTEXT_TOKENS // 2)
            for file in context.files:
                self._screen(run.id, file.content, f"file {file.path}")
            planner = Planner(ctx.llm)
            completion = await planner.run(
                title=issue.title,
                body=issue.body,
                repo_map=context.repo_map,
                files={f.path: f.content for f in context.files},
                source=f"issue #{run.issue_number}" if run.issue_number else "local request",
            )
            self._account(ctx, completion)
            self._save(run.id, "plan", completion.value)
        plan = self._load(run.id, "plan", ImplementationPlan)
        planned = plan.files_to_create + plan.files_to_modify
        decision = evaluate(planned, {}, ctx.policy)
        self.store.put_artifact(run.id, "plan_decision", decision.model_dump(mode="json"))
        if decision.gate is Gate.blocked:
            reason = "the plan touches forbidden paths: " + "; ".join(decision.reasons)
            return PhaseResult("planning", "blocked_by_policy", reason, "forbidden path")
        approved = bool(self.store.events(run.id, "plan_approved"))
        needs = ctx.policy.require_plan_approval or decision.gate is Gate.needs_approval
        if needs and not approved:
            text = plan_for_approval(run.id, plan, decision, self._plan_tokens(run.id, ctx))
            self.store.put_artifact(run.id, "plan_for_approval", text)
            if self.github_for_run is not None and run.issue_number is not None:
                self.github_for_run(run).upsert_comment(
                    run.repo, run.issue_number, f"<!-- draftsmith:plan:{run.id} -->", text
                )
            return PhaseResult(
                "plan_approval", "waiting", "the plan waits for /draftsmith approve-plan"
            )
        return PhaseResult("coding")

    def _plan_tokens(self, run_id: int, ctx: RunContext) -> tuple[int, float]:
        """Tokens and cost the planner used (this step's calls, or the stored ones)."""
        calls = [u for u in ctx.usages if u.role == "planner"]
        if calls:
            return sum(u.total_tokens for u in calls), sum(u.cost_usd for u in calls)
        events = [e for e in self.store.events(run_id, "model_call") if e.message == "planner"]
        return (
            sum(int(e.data.get("total_tokens", 0)) for e in events),
            sum(float(e.data.get("cost_usd", 0.0)) for e in events),
        )

    async def _code(self, ctx: RunContext) -> PhaseResult:
        run = ctx.run
        revision = run.revision
        plan = self._load(run.id, "plan", ImplementationPlan)
        name = f"change.r{revision}"
        change = self._load(run.id, name, CodeChange)
        if change is None:
            feedback = self._feedback(run)
            files = self._plan_files(ctx, plan)
            completion = await Coder(ctx.llm, ctx.workspace, ctx.policy.budgets.max_tool_calls).run(
                plan=plan, files=files, feedback=feedback, revision=revision
            )
            self._account(ctx, completion)
            change = completion.value
            self._save(run.id, name, change)
        decision = evaluate([e.path for e in change.edits], {}, ctx.policy)
        if decision.gate is Gate.blocked:
            self.store.put_artifact(run.id, "decision", decision.model_dump(mode="json"))
            return PhaseResult(
                "coding", "blocked_by_policy", "; ".join(decision.reasons), "forbidden path"
            )
        if self.store.get_artifact(run.id, f"diff.r{revision}") is None:
            try:
                ctx.workspace.apply(change)
            except WorkspaceError as exc:
                return self._revise(ctx, f"Your edits could not be applied: {exc}", "edit refused")
            ctx.workspace.commit(f"draftsmith: revision {revision}\n\n{change.explanation[:2000]}")
            self.store.put_artifact(
                run.id, f"diff.r{revision}", ctx.workspace.diff(run.base_sha or "HEAD~1")
            )
            self.store.update_run(run.id, head_sha=ctx.workspace.head())
        return PhaseResult("reviewing")

    def _plan_files(self, ctx: RunContext, plan: ImplementationPlan) -> dict[str, str]:
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

    def _feedback(self, run: Run) -> list[str]:
        notes = [
            a.content for a in self.store.artifacts(run.id) if a.name == f"feedback.r{run.revision}"
        ]
        for event in self.store.take_inputs(run.id):
            note = f"From @{event.data.get('author', 'a maintainer')}: {event.message}"
            self.store.put_artifact(run.id, f"feedback.r{run.revision}", note)
            notes.append(note)
        return notes

    def _revise(self, ctx: RunContext, feedback: str, why: str) -> PhaseResult:
        """Send the run back to the coder with `feedback`, unless revisions are used up."""
        run = ctx.run
        if run.revision >= ctx.policy.budgets.max_revisions:
            return PhaseResult(
                run.phase,
                "needs_human_review",
                f"{why}; no revisions left ({run.revision} of {ctx.policy.budgets.max_revisions})",
                why,
            )
        self.store.put_artifact(run.id, f"feedback.r{run.revision + 1}", feedback)
        self.store.update_run(run.id, revision=run.revision + 1)
        return PhaseResult("coding", "running", None, why)

    async def _review(self, ctx: RunContext) -> PhaseResult:
        run = ctx.run
        revision = run.revision
        review = self._load(run.id, f"review.r{revision}", ReviewResult)
        if review is None:
            plan = self._load(run.id, "plan", ImplementationPlan)
            diff = self._artifact_text(run.id, f"diff.r{revision}")
            changed = ctx.workspace.changed_files(run.base_sha or "HEAD~1")
            analysis = await analyse(self.sandbox, ctx.workspace.root, changed, self.limits)
            self.store.put_artifact(run.id, f"analysis.r{revision}", analysis.output)
            deterministic = analysis.issues + [to_review_issue(f) for f in find_credentials(diff)]
            completion = await Reviewer(ctx.llm).run(
                plan=plan,
                diff=diff,
                analysis=analysis.output,
                test_report=None,
                deterministic=deterministic,
            )
            self._account(ctx, completion)
            review = completion.value
            self._save(run.id, f"review.r{revision}", review)
        if review.status is ReviewStatus.needs_revision:
            problems = "\n".join(
                f"- [{i.severity}] {i.file or ''}{':' + str(i.line) if i.line else ''} "
                f"{i.problem} -> {i.recommended_fix}"
                for i in review.issues
            )
            return self._revise(ctx, f"The review asked for changes:\n{problems}", "review")
        return PhaseResult("testing")

    async def _test(self, ctx: RunContext) -> PhaseResult:
        run = ctx.run
        revision = run.revision
        tester = Tester(ctx.llm, self.sandbox, self.limits, ctx.policy, ctx.repo_config)
        test_plan = self._load(run.id, f"testplan.r{revision}", TestPlan)
        if test_plan is None:
            plan = self._load(run.id, "plan", ImplementationPlan)
            completion = await tester.plan(
                plan=plan,
                workspace=ctx.workspace,
                base=run.base_sha or "HEAD~1",
                diff=self._artifact_text(run.id, f"diff.r{revision}"),
            )
            self._account(ctx, completion)
            test_plan = completion.value
            self._save(run.id, f"testplan.r{revision}", test_plan)
        stored = self.store.get_artifact(run.id, f"testoutcome.r{revision}")
        if stored is None:
            started = time.monotonic()
            outcome = await tester.run(ctx.workspace, run.base_sha or "HEAD~1", test_plan)
            logger.info("tests ran in %.2fs", time.monotonic() - started, extra={"run_id": run.id})
            self.store.put_artifact(run.id, f"testlog.r{revision}", outcome.log)
            self.store.put_artifact(run.id, f"commands.test.r{revision}", outcome.commands)
            self.store.put_artifact(run.id, f"testreport.r{revision}", outcome.report.model_dump())
            self.store.put_artifact(run.id, f"testoutcome.r{revision}", outcome.to_json())
            self.store.update_run(run.id, head_sha=ctx.workspace.head())
        else:
            outcome = TestOutcome.from_json(stored.content)
        if outcome.refused:
            return self._revise(ctx, outcome.refused, "test files refused")
        if outcome.report.status is not TestStatus.passed:
            self._screen(run.id, outcome.report.failure_details, "test output")
            return self._revise(
                ctx,
                "The tests failed. Fix the code (not the tests) so they pass:\n"
                + outcome.report.failure_details,
                "tests failed",
            )
        if outcome.new_tests and not outcome.pinned:
            return self._revise(
                ctx,
                "Every new test also passes on the code before your change, so nothing proves "
                "the change does what the plan asks. Make sure the change implements the "
                "acceptance criteria.",
                "new tests pass on the base too",
            )
        return PhaseResult("deploying")

    async def _deploy(self, ctx: RunContext) -> PhaseResult:
        run = ctx.run
        base = run.base_sha or "HEAD~1"
        changed = ctx.workspace.changed_files(base)
        issue = self.issue_text(run)
        flags = issue.flags + [
            json.loads(a.content) for a in self.store.artifacts(run.id) if a.name == "flag"
        ]
        flagged = sorted(
            {f"injection pattern flagged: {f['pattern']} in {f['source']}" for f in flags}
        )
        owners = self._owners(ctx.workspace, base).owners_for(changed)
        decision = evaluate(changed, owners, ctx.policy, flagged_reasons=flagged)
        self.store.put_artifact(run.id, "decision", decision.model_dump(mode="json"))
        if decision.gate is Gate.blocked:
            return PhaseResult("deploying", "blocked_by_policy", "; ".join(decision.reasons))
        run = self.store.get_run(run.id)
        draft = build_draft(run, self.evidence(run, decision), decision)
        self._save(run.id, "pr_draft", draft)
        path = write_evidence(self.run_dir(run) / "evidence.md", draft.body)
        self.store.put_artifact(run.id, "evidence_path", str(path))
        if self.github_for_run is not None and run.installation_id is not None:
            revoked = self._steering_revoked(run)
            if revoked:
                why = (
                    f"@{revoked} steered this run but no longer has write access; nothing was "
                    "published (a writer can `/draftsmith retry` after reviewing the branch)"
                )
                return PhaseResult("deploying", "needs_human_review", why, "access revoked")
            self._publish(ctx, run, draft, decision, changed)
        status = "needs_approval" if decision.gate is Gate.needs_approval else "approved"
        reason = "; ".join(decision.reasons) if decision.reasons else None
        return PhaseResult("done", status, reason)

    def _steering_revoked(self, run: Run) -> str | None:
        """A person whose feedback shaped this run and who has lost write access since."""
        assert self.github_for_run is not None
        authors = {
            str(e.data.get("author"))
            for e in self.store.events(run.id, "input")
            if e.data.get("source") in ("comment", "review", "review_comment")
        }
        gh = self.github_for_run(run)
        for login in sorted(authors):
            if not gh.has_write_access(run.repo, login):
                return login
        return None

    @staticmethod
    def _owners(workspace: Workspace, base: str) -> CodeOwners:
        """CODEOWNERS as of the base commit (the default branch), never the change's own."""

        def read(path: str) -> str | None:
            try:
                return workspace.git("show", f"{base}:{path}")
            except WorkspaceError:
                return None

        return find_codeowners(read)

    def _publish(
        self,
        ctx: RunContext,
        run: Run,
        draft: PullRequestDraft,
        decision: Decision,
        changed: list[str],
    ) -> None:
        """Push the branch and open or update the draft PR and its check run on GitHub."""
        assert self.github_for_run is not None and run.issue_number is not None
        gh = self.github_for_run(run)
        published = publish(
            gh,
            ctx.workspace,
            repo=run.repo,
            clone_url=run.clone_url,
            draft=draft,
            issue_number=run.issue_number,
            base_branch=self._default_branch(ctx.workspace),
            existing_pr=run.pr_number,
            decision=decision,
            review=self._load(run.id, f"review.r{run.revision}", ReviewResult),
            head_sha=ctx.workspace.head(),
            changed_paths=changed,
            author=run.requested_by,
            bot_login=BOT_LOGIN,
            run_id=run.id,
        )
        self.store.update_run(run.id, pr_number=published.pr_number)
        self.store.put_artifact(run.id, "published", asdict(published))
        self.store.add_event(run.id, "published", published.pr_url, asdict(published))

    @staticmethod
    def _default_branch(workspace: Workspace) -> str:
        try:
            ref = workspace.git("symbolic-ref", "--short", "refs/remotes/origin/HEAD").strip()
            return ref.removeprefix("origin/")
        except WorkspaceError:
            return "main"

    def evidence(self, run: Run, decision: Decision) -> dict[str, Any]:
        """Everything the PR body shows, read back from the stored artifacts."""
        rev = run.revision
        usage: dict[str, dict[str, float]] = {}
        for event in self.store.events(run.id, "model_call"):
            totals = usage.setdefault(event.message, {"tokens": 0, "cost_usd": 0.0, "calls": 0})
            totals["tokens"] += int(event.data.get("total_tokens", 0))
            totals["cost_usd"] += float(event.data.get("cost_usd", 0.0))
            totals["calls"] += 1
        outcome = self.store.get_artifact(run.id, f"testoutcome.r{rev}")
        return {
            "run": run,
            "issue": self.issue_text(run),
            "plan": self._load(run.id, "plan", ImplementationPlan),
            "change": self._load(run.id, f"change.r{rev}", CodeChange),
            "review": self._load(run.id, f"review.r{rev}", ReviewResult),
            "test_plan": self._load(run.id, f"testplan.r{rev}", TestPlan),
            "tests": TestOutcome.from_json(outcome.content) if outcome else None,
            "diff": self._artifact_text(run.id, f"diff.r{rev}"),
            "usage": usage,
            "decision": decision,
        }

    def _artifact_text(self, run_id: int, name: str) -> str:
        artifact = self.store.get_artifact(run_id, name)
        return "" if artifact is None else artifact.content

    def _keep_best(self, ctx: RunContext, result: PhaseResult) -> None:
        """Leave the work on its branch with a summary of where the run stopped."""
        summary = (
            f"# Draftsmith run {ctx.run.id} stopped\n\nPhase: {result.phase}\n"
            f"Status: {result.status}\nReason: {result.reason}\n"
            f"Branch: {ctx.run.branch} (revision {ctx.run.revision} kept)\n"
        )
        self.store.put_artifact(ctx.run.id, "stopped_summary", summary)
        try:
            write_evidence(self.run_dir(ctx.run) / "evidence.md", summary)
        except OSError as exc:
            logger.warning("could not write the stop summary: %s", exc)


def usage_dict(usage: Usage) -> dict[str, Any]:
    """A model call's usage as stored in the run's event log."""
    return {
        "role": usage.role,
        "model": usage.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost_usd": usage.cost_usd,
        "latency_s": usage.latency_s,
    }


def model_client(settings: Settings, config: RepoConfig | None) -> ModelClient:
    """The model client of a run, with the repository's per-role models."""
    models = {}
    if config is not None:
        models = {k: v for k, v in config.models.model_dump().items() if v}
    return ModelClient(settings, models=models)
