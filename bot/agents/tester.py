"""The tester: changed functions (ast) -> TestPlan -> the suite plus new tests in the sandbox.

Counts come from the runner's own reports (bot.sandbox.runners), never from the model. The new
tests are also run against the base commit: a test that does not pass there and passes with the
change pins the requested behaviour (fail-before, pass-after).
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.agents.changes import changed_symbols
from bot.agents.prompting import condense, file_blocks, messages
from bot.analysis.coverage import suite_coverage
from bot.contracts import (
    CodeChange,
    EditOperation,
    FileEdit,
    ImplementationPlan,
    TestPlan,
    TestReport,
    TestStatus,
)
from bot.errors import WorkspaceError
from bot.github.markdown import commit_text
from bot.llm import Completion, ModelClient
from bot.policy import Policy, RepoConfig
from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.golang import GO_TEST_REPORT, go_cases, go_test_names, packages_of
from bot.sandbox.phases import CommandRecord, detect_commands, run_phase
from bot.sandbox.runners import (
    REPORT_DIR,
    parse_junit,
    read_report,
    run_go_test,
    run_node_test,
    run_pytest,
)
from bot.security.test_infrastructure import infrastructure_refusal
from bot.security.untrusted import as_data
from bot.workspace import Workspace

TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]+\.py$|_test\.(py|go)$|\.(test|spec)\.[cm]?[jt]s$"
)
TESTS_SUBJECT = "draftsmith: tests"
"""The subject of the commit holding the tester's files (a resumed run finds it by this)."""
IGNORED = (".venv/", f"{REPORT_DIR}/", "node_modules/", "__pycache__/", ".coverage")


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


def junit_cases(root: Path, relative: str) -> dict[str, bool]:
    """Each test case of a JUnit XML report and whether it passed (missing or invalid: none)."""
    text = read_report(root, relative)
    if text is None or not text.strip():
        return {}
    try:
        return parse_junit(text).cases
    except ET.ParseError:
        return {}


@dataclass
class TestOutcome:
    """What testing produced: the report, the new tests and which of them pin the change."""

    __test__ = False

    report: TestReport
    log: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)
    new_tests: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    base_report: TestReport | None = None
    refused: str | None = None
    tampered: str | None = None
    after: dict[str, bool] = field(default_factory=dict)
    """Each new test case and whether it passed with the change."""
    before: dict[str, bool] = field(default_factory=dict)
    """Each new test case that ran on the base commit and whether it passed there."""
    coverage: dict[str, Any] | None = None
    """The suite's coverage of the change (bot.analysis.coverage.ChangeCoverage, as a dict)."""

    def to_json(self) -> str:
        """Stored as the run's `testoutcome.rN` artifact."""
        data = asdict(self)
        data["report"] = self.report.model_dump(mode="json")
        data["base_report"] = self.base_report.model_dump(mode="json") if self.base_report else None
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TestOutcome:
        """Read back a stored outcome."""
        data = json.loads(text)
        data["report"] = TestReport.model_validate(data["report"])
        if data.get("base_report"):
            data["base_report"] = TestReport.model_validate(data["base_report"])
        return cls(**data)


class Tester:
    """Writes targeted tests and runs them with the suite in the sandbox."""

    __test__ = False

    def __init__(
        self,
        llm: ModelClient,
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

    async def run(self, workspace: Workspace, base: str, test_plan: TestPlan) -> TestOutcome:
        """Write the new tests, run the whole suite, then the new tests on the base commit."""
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
        _exclude_scratch(workspace)
        new_files = [e.path for e in test_plan.files]
        message = f"{TESTS_SUBJECT}\n\n{commit_text('; '.join(test_plan.focus)[:1000])}"
        if workspace.git("log", "-1", "--format=%s").strip() != TESTS_SUBJECT:
            edits = tester_edits(workspace.root, test_plan.files)
            if edits:
                workspace.apply(CodeChange(edits=edits, explanation="tests"))
                workspace.commit(message)
        records = await self._setup(workspace.root)
        if records and not all(r.exit_code == 0 for r in records):
            failed = next(r for r in records if r.exit_code != 0)
            report = TestReport(
                status=TestStatus.error,
                tests_passed=0,
                tests_failed=0,
                failure_details=f"setup failed: {failed.command}\n{failed.output_tail[-1500:]}",
                command=failed.command,
                duration_s=failed.duration_s,
            )
            return TestOutcome(
                report=report, log=report.failure_details, commands=[asdict(r) for r in records]
            )
        kind = language(workspace.root)
        report = await self._run(kind, workspace.root, ())
        outcome = TestOutcome(report=report, commands=[asdict(r) for r in records])
        diff = workspace.diff(base)
        outcome.coverage = suite_coverage(kind, workspace.root, diff, is_test_path).to_dict()
        outcome.log = f"$ {report.command}\n{report.failure_details}"
        outcome.tampered = report.tampered
        if not new_files or outcome.tampered:
            return outcome
        # The new test files alone, with the change: which cases they hold and which pass.
        alone = await self._run(kind, workspace.root, new_files)
        if alone.tampered:
            outcome.tampered = alone.tampered
            outcome.log += f"\n\n$ {alone.command}\n{alone.failure_details}"
            return outcome
        new_cases = _cases(kind, workspace.root)
        outcome.new_tests, outcome.after = sorted(new_cases), new_cases
        base_dir = workspace.root.parent / "base"
        if base_dir.exists():
            shutil.rmtree(base_dir)
            workspace.git("worktree", "prune")
        workspace.git("worktree", "add", "--quiet", "--detach", str(base_dir), base)
        try:
            for edit in test_plan.files:
                _write(base_dir, edit)
            if (workspace.root / ".venv").exists() and not (base_dir / ".venv").exists():
                (base_dir / ".venv").symlink_to(workspace.root / ".venv")
            base_paths = [p for p in new_files if (base_dir / p).exists()]
            outcome.base_report = await self._run(kind, base_dir, base_paths)
            base_cases = _cases(kind, base_dir)
            outcome.before = base_cases
        finally:
            workspace.git("worktree", "remove", "--force", str(base_dir))
        outcome.tampered = outcome.base_report.tampered
        outcome.pinned = sorted(
            name for name, ok in new_cases.items() if ok and not base_cases.get(name, False)
        )
        outcome.log += f"\n\n$ {outcome.base_report.command}  (on the base commit)\n"
        outcome.log += outcome.base_report.failure_details
        return outcome

    async def _setup(self, root: Path) -> list[CommandRecord]:
        if self.repo_config is not None and self.repo_config.setup_commands:
            import shlex

            commands = [shlex.split(c) for c in self.repo_config.setup_commands]
        else:
            commands = [
                c
                for c in detect_commands(root).setup
                if not _python_setup(c)
                and not (c[:1] == ["npm"] and not _node_dependencies(root))
                and not (c[:1] == ["go"] and not _go_requirements(root))
            ]
        if not commands or (root / REPORT_DIR / "setup.done").exists():
            return []
        records = await run_phase(
            self.sandbox,
            "setup",
            commands,
            workdir=root,
            limits=self.limits,
            allow=self.policy.setup_allow,
        )
        if all(r.exit_code == 0 for r in records):
            (root / REPORT_DIR).mkdir(exist_ok=True)
            (root / REPORT_DIR / "setup.done").write_text("ok\n")
        return records

    async def _run(self, kind: str, root: Path, paths: tuple[str, ...] | list[str]) -> TestReport:
        if kind == "node":
            return await run_node_test(self.sandbox, root, self.limits, paths=list(paths))
        if kind == "go":
            if not paths:
                return await run_go_test(self.sandbox, root, self.limits)
            names = [n for p in paths for n in go_test_names((root / p).read_text())]
            return await run_go_test(
                self.sandbox, root, self.limits, packages=packages_of(paths), tests=names
            )
        return await run_pytest(self.sandbox, root, self.limits, paths=list(paths))


def _python_setup(command: list[str]) -> bool:
    """Python packaging steps are skipped by default: the sandbox toolbox provides pytest, and
    the repository is tested from its source tree. A repository that needs installation says so
    with `setup_commands` in `.github/draftsmith.yml`."""
    return command[:1] == ["python3"] or command[:1] == [".venv/bin/python"]


def _node_dependencies(root: Path) -> bool:
    """Whether package.json declares packages to install (else `npm install` has nothing to do
    but would write a lockfile into the change)."""
    try:
        manifest = json.loads((root / "package.json").read_text())
    except (OSError, ValueError):
        return True
    return bool(manifest.get("dependencies") or manifest.get("devDependencies"))


def _go_requirements(root: Path) -> bool:
    """Whether go.mod requires modules (a standard-library module has nothing to download)."""
    try:
        text = (root / "go.mod").read_text()
    except OSError:
        return True
    return re.search(r"^\s*require\b", text, re.M) is not None


def _exclude_scratch(workspace: Workspace) -> None:
    exclude = workspace.root / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text() if exclude.exists() else ""
    missing = [p for p in IGNORED if p not in current.splitlines()]
    if missing:
        exclude.write_text(current + "".join(f"{p}\n" for p in missing))


def _cases(kind: str, root: Path) -> dict[str, bool]:
    """The test cases of the last run in `root` and whether each passed, from its report."""
    if kind == "go":
        return go_cases(read_report(root, GO_TEST_REPORT) or "")
    return junit_cases(root, _junit(kind))


def _junit(kind: str) -> str:
    return f"{REPORT_DIR}/" + ("node-junit.xml" if kind == "node" else "junit.xml")


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


def _write(root: Path, edit: FileEdit) -> None:
    target = root / edit.path
    if edit.content is None:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(edit.content)
