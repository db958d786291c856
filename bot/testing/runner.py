"""How the suite and chosen test files run, by language and test command (bot.testing.suite).

pytest runs with Draftsmith's own options (bot.sandbox.runners), Node with the project's own
runner (bot.testing.node), Go with `go test`; a `test_command` that is not pytest is judged by its
exit code alone. Runs on the base are probes: `--continue-on-collection-errors`, no coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.golang import GO_TEST_REPORT, go_test_names, packages_of
from bot.sandbox.runners import REPORT_DIR, read_report, run_go_test, run_pytest
from bot.shared.contracts import TestReport
from bot.testing.cases import CaseResults, read_cases, read_go_cases
from bot.testing.command import TestCommand, run_exit_code_command
from bot.testing.node import run_node_tests
from bot.testing.node_coverage import NodeCoverage

PROBE = ["--continue-on-collection-errors"]


@dataclass
class Runner:
    """Runs a workspace's suite, or chosen test files, the way its language and command say."""

    sandbox: Sandbox
    limits: Limits
    language: str
    command: TestCommand | None
    touched: tuple[str, ...] = ()

    @property
    def by_exit_code(self) -> bool:
        return self.command is not None and self.command.pytest_args is None

    def _own_args(self, root: Path) -> list[str]:
        """The configured pytest options, without the paths it names (targeted runs add theirs)."""
        args = self.command.pytest_args if self.command and self.command.pytest_args else []
        return [a for a in args if a.startswith("-") or not (root / a).exists()]

    async def suite(
        self,
        root: Path,
        probe: bool,
        coverage_of: list[str] | None = None,
    ) -> tuple[TestReport, CaseResults]:
        if self.by_exit_code:
            assert self.command is not None
            report = await run_exit_code_command(self.sandbox, root, self.limits, self.command.argv)
            return report, CaseResults()
        if self.language == "node":  # the project's own runner (bot.testing.node)
            return await run_node_tests(self.sandbox, root, self.limits, self.touched)
        if self.language == "go":
            report = await run_go_test(self.sandbox, root, self.limits)
            return report, read_go_cases(read_report(root, GO_TEST_REPORT))
        args = self.command.pytest_args if self.command and self.command.pytest_args else []
        report = await run_pytest(
            self.sandbox,
            root,
            self.limits,
            args=[*args, *(PROBE if probe else [])],
            coverage_of=coverage_of or (),
        )
        return report, read_cases(read_report(root, f"{REPORT_DIR}/junit.xml"))

    async def files(
        self,
        root: Path,
        paths: list[str],
        coverage_of: list[str] | None = None,
        node_coverage: NodeCoverage | None = None,
        mount_at: Path | None = None,
    ) -> tuple[TestReport, CaseResults]:
        """The test files `paths` alone; pytest's run in `root` may be seen at `mount_at`
        (bot.testing.base_view)."""
        if self.language == "node":
            return await run_node_tests(
                self.sandbox, root, self.limits, self.touched, files=paths, coverage=node_coverage
            )
        if self.language == "go":
            names = [n for p in paths for n in go_test_names((root / p).read_text())]
            report = await run_go_test(
                self.sandbox, root, self.limits, packages=packages_of(paths), tests=names
            )
            return report, read_go_cases(read_report(root, GO_TEST_REPORT))
        args = [*self._own_args(root), *PROBE]
        report = await run_pytest(
            self.sandbox,
            root,
            self.limits,
            paths=paths,
            args=args,
            coverage_of=coverage_of or (),
            mount_at=mount_at,
        )
        return report, read_cases(read_report(root, f"{REPORT_DIR}/junit.xml"))
