"""The tester: changed functions (ast) -> TestPlan -> the suite plus new tests in the sandbox.

Counts come from the runner's own reports (bot.sandbox.runners), never from the model. The
environment is prepared first (bot.environment); the suite then runs on the change and on the
base commit in that same environment (bot.testing): a new test that fails there and passes with
the change pins the requested behaviour (fail-before, pass-after).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from bot.agents.prompting import condense, file_blocks, messages
from bot.environment.cache import RepositoryCache
from bot.environment.detect import dependency_files
from bot.environment.prepare import PreparedEnvironment, exclude_scratch, prepare_environment
from bot.github.markdown import commit_text
from bot.model.base import Completion, Model
from bot.policy.decide import Policy, RepoConfig
from bot.repo.changes import changed_symbols
from bot.repo.workspace import Workspace
from bot.sandbox.base import Limits, Sandbox
from bot.security.test_infrastructure import infrastructure_refusal
from bot.security.untrusted import as_data
from bot.shared.contracts import (
    CodeChange,
    EditOperation,
    FileEdit,
    ImplementationPlan,
    TestOutcome,
    TestPlan,
    TestReport,
    TestStatus,
)
from bot.shared.errors import WorkspaceError
from bot.testing.checkout import base_checked_out, restore
from bot.testing.node import target_notes
from bot.testing.suite import run_suite

TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]+\.py$|_test\.(py|go)$|\.(test|spec)\.[cm]?[jt]s$"
)
TESTS_SUBJECT = "draftsmith: tests"
"""The subject of the commit holding the tester's files (a resumed run finds it by this)."""


def is_test_path(path: str) -> bool:
    """Whether a repository path is a test file the tester may write."""
    return bool(TEST_PATH.search(path))


def language(root: Path) -> str:
    """The repository's test runner family: python, node or go."""
    if (root / "go.mod").exists():
        return "go"
    if (root / "package.json").exists() and not (root / "pyproject.toml").exists():
        return "node"
    return "python"


class Tester:
    """Writes targeted tests and runs them with the suite in the sandbox."""

    __test__ = False

    def __init__(
        self,
        llm: Model,
        sandbox: Sandbox,
        limits: Limits,
        policy: Policy,
        repo_config: RepoConfig | None,
    ) -> None:
        self.llm = llm
        self.sandbox = sandbox
        self.limits = limits
        self.policy = policy
        self.repo_config = repo_config

    async def plan(
        self,
        *,
        plan: ImplementationPlan,
        workspace: Workspace,
        base: str,
        diff: str,
        guidance: str = "",
        feedback: list[str] | None = None,
    ) -> Completion[TestPlan]:
        """Ask for tests of the changed functions and the acceptance criteria.

        `guidance` is the repository's instruction files, already wrapped as data."""
        symbols = changed_symbols(workspace.root, diff)
        changed = (
            "\n".join(f"- {s.path}: {s.kind} {s.name} (lines {s.start}-{s.end})" for s in symbols)
            or "- (no symbols found)"
        )
        tests = [p for p in workspace.tracked_files() if is_test_path(p)][:40]
        examples = {p: workspace.read_file(p, 6000) for p in tests[:2]}
        sources = {}
        for path in sorted({s.path for s in symbols}):
            try:
                sources[path] = workspace.read_file(path, 30_000)
            except WorkspaceError:
                continue
        prompt = messages(
            "tester",
            guidance,
            "Acceptance criteria:\n" + "\n".join(f"- {c}" for c in plan.acceptance_criteria),
            "Changed functions and methods (found with the ast module):\n" + changed,
            "The diff:",
            as_data(condense(diff, 20_000), source="the change's diff", kind="diff"),
            "Changed files, after the change:",
            file_blocks(sources),
            "Existing test files:\n" + ("\n".join(f"- {t}" for t in tests) or "- (none)"),
            "Examples of existing tests:",
            file_blocks(examples),
            *(
                ["What the review of the previous revision said about its tests:"]
                + [as_data("\n".join(feedback), source="previous review", kind="log")]
                if feedback
                else []
            ),
        )
        return await self.llm.complete("tester", prompt, TestPlan)

    async def run(
        self,
        workspace: Workspace,
        base: str,
        test_plan: TestPlan,
        *,
        environment: PreparedEnvironment,
        cache: RepositoryCache | None = None,
    ) -> TestOutcome:
        """Write the new tests, then run the suite on the change and on the base (bot.testing),
        in `environment`, which the setup step prepared (bot.environment)."""
        not_tests = [e.path for e in test_plan.files if not is_test_path(e.path)]
        refused = infrastructure_refusal(test_plan.files, self.policy)
        if not_tests or refused:
            return TestOutcome(
                report=TestReport(
                    status=TestStatus.error,
                    tests_passed=0,
                    tests_failed=0,
                    command="(none)",
                    duration_s=0.0,
                ),
                refused=refused
                or "The tester may only write test files; refused: " + ", ".join(not_tests),
            )
        restore(workspace)
        exclude_scratch(workspace.root)
        new_files = [e.path for e in test_plan.files]
        message = f"{TESTS_SUBJECT}\n\n{commit_text('; '.join(test_plan.focus)[:1000])}"
        if workspace.git("log", "-1", "--format=%s").strip() != TESTS_SUBJECT:
            edits = tester_edits(workspace.root, test_plan.files)
            if edits:
                workspace.apply(CodeChange(edits=edits, explanation="tests"))
                workspace.commit(message)
        records = [asdict(r) for r in environment.records]
        if not environment.ok:
            report = TestReport(
                status=TestStatus.error,
                tests_passed=0,
                tests_failed=0,
                failure_details=environment.problem or "",
                command=environment.records[-1].command if environment.records else "(setup)",
                duration_s=environment.duration_s,
            )
            return TestOutcome(
                report=report,
                log=report.failure_details,
                commands=records,
                environment=environment.to_dict(),
                environment_problem=environment.problem,
            )
        suite = await run_suite(
            self.sandbox,
            self.limits,
            workspace,
            base,
            new_files,
            language=language(workspace.root),
            test_command=self.repo_config.test_command if self.repo_config else None,
            environment_key=environment.plan.key,
            cache=cache,
            is_test=is_test_path,
        )
        outcome = TestOutcome(
            report=suite.report,
            commands=records,
            new_tests=suite.new_tests,
            pinned=sorted(suite.pinned),
            pinned_why=suite.pinned,
            base_report=suite.base_report,
            already_failing=suite.already_failing,
            new_failures=suite.new_failures,
            base_problem=suite.base_problem,
            environment_problem=suite.environment_problem,
            environment=environment.to_dict(),
            base_suite_cached=suite.base_suite_cached,
            base_selection=suite.base_selection,
            timings={"setup_s": environment.duration_s, **suite.timings},
            tampered=suite.tampered,
            after=suite.after,
            before=suite.before,
            preexisting=suite.preexisting,
            coverage_only_failures=suite.coverage_only_failures,
            coverage=suite.coverage,
        )
        if outcome.environment is not None and language(workspace.root) == "node":
            touched = workspace.changed_files(base)  # which runner ran where, and why
            outcome.environment["notes"] = [
                *(outcome.environment.get("notes") or []),
                *target_notes(workspace.root, touched),
            ]
        outcome.log = f"$ {suite.report.command}\n{suite.report.failure_details}"
        if suite.tampered is not None:
            outcome.log += f"\n\n$ {suite.tampered_command}\n(tampered) {suite.tampered}"
        if suite.base_report is not None:
            outcome.log += f"\n\n$ {suite.base_report.command}  (on the base commit)\n"
            outcome.log += suite.base_report.failure_details
        return outcome

    async def prepare(
        self, workspace: Workspace, base: str, cache: RepositoryCache | None = None
    ) -> PreparedEnvironment:
        """Prepare the repository's own environment (bot.environment) in the setup phase.

        A change that edits the files the environment is prepared from (manifests, lock and
        requirements files) is prepared from the base's versions of them: what an unreviewed
        change adds to its dependencies is not installed (the manifest change is gated)."""
        root = workspace.root
        kind = language(root)
        setup = self.repo_config.setup_commands if self.repo_config else ()

        async def prepare() -> PreparedEnvironment:
            return await prepare_environment(
                self.sandbox, root, language=kind, limits=self.limits,
                allow=self.policy.setup_allow, setup_commands=setup, cache=cache,
            )  # fmt: skip

        edited = dependency_files(set(workspace.changed_files(base)))
        if not edited:
            return await prepare()
        with base_checked_out(workspace, base):
            environment = await prepare()
        environment.notes.append(
            "prepared from the base commit's dependency files: the change edits "
            + ", ".join(edited)
        )
        return environment


def tester_edits(root: Path, files: list[FileEdit]) -> list[FileEdit]:
    """The tester's files as edits on the current tree: a whole-content edit of a test file that
    exists already (an earlier revision wrote it) becomes an update; unchanged files are left."""
    edits: list[FileEdit] = []
    for edit in files:
        target = root / edit.path
        if edit.content is not None and target.is_file():
            if target.read_text(errors="replace") == edit.content:
                continue
            edit = FileEdit(path=edit.path, operation=EditOperation.update, content=edit.content)
        edits.append(edit)
    return edits
