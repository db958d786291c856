"""Which run measures coverage of the change (bot.testing.suite), with real git and bwrap.

With new test files, their run alone with the change measures their collection and tests, and
the suite runs untraced; without them, the suite's run measures every test. Either way only the
changed source files are traced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.analysis.coverage import NEW_TESTS, SUITE, ChangeCoverage
from bot.repo.workspace import Workspace
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.toolbox import build_python_toolbox
from bot.testing.suite import SuiteOutcome, run_suite
from tests.helpers.repos import PYTHON_FILES, commit_change, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=60, cpu_time_s=60)
CHANGED = (
    '"""A tiny calculator."""\n\n\ndef add(a, b):\n    total = a + b\n    return total\n\n\n'
    "def subtract(a, b):\n    return a - b\n"
)
NEW_TEST = "from calc import subtract\n\n\ndef test_subtract():\n    assert subtract(3, 2) == 1\n"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_200, uid_slots=4)


def _changed(tmp_path: Path, new_test: bool) -> tuple[Workspace, str]:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    files = {
        "calc/__init__.py": CHANGED,
        **({"tests/test_subtract.py": NEW_TEST} if new_test else {}),
    }
    base = commit_change(root, files)
    return Workspace(root), base


def _run(
    sandbox: BwrapSandbox,
    workspace: Workspace,
    base: str,
    new_files: list[str],
    test_command: str | None = None,
) -> SuiteOutcome:
    return asyncio.run(
        run_suite(
            sandbox,
            LIMITS,
            workspace,
            base,
            new_files,
            language="python",
            test_command=test_command,
            is_test=lambda path: path.startswith("tests/"),
        )
    )


def test_with_new_tests_only_their_tests_are_measured_in_their_run_alone(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    workspace, base = _changed(tmp_path, new_test=True)
    outcome = _run(sandbox, workspace, base, ["tests/test_subtract.py"])
    report = outcome.report
    assert "--draftsmith-coverage" not in report.command  # the suite runs untraced
    assert (report.tests_passed, report.tests_failed) == (2, 0)
    assert outcome.timings["new_tests_s"] is not None  # the new test files alone, measured, for
    # the coverage and the proof (as on the base)
    assert outcome.coverage_only_failures == []
    assert list(outcome.pinned) == ["tests.test_subtract::test_subtract"]
    coverage = ChangeCoverage.from_dict(outcome.coverage or {})
    assert coverage.available and coverage.scope == NEW_TESTS
    functions = {f.name: f for f in coverage.functions}
    assert functions["subtract"].tests == ["tests/test_subtract.py::test_subtract"]
    # test_add calls add() in the suite, but only the new tests were measured
    assert functions["add"].tests == [] and not functions["add"].executed
    assert [(line.line, line.executed) for line in coverage.lines] == [
        (5, False), (6, False), (9, True), (10, True)
    ]  # fmt: skip


def test_without_new_tests_every_test_of_the_suite_is_measured(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    workspace, base = _changed(tmp_path, new_test=False)
    outcome = _run(sandbox, workspace, base, [])
    report = outcome.report
    assert "--draftsmith-coverage" in report.command
    assert (report.tests_passed, report.tests_failed) == (1, 0)
    assert "new_tests_s" not in outcome.timings
    coverage = ChangeCoverage.from_dict(outcome.coverage or {})
    assert coverage.available and coverage.scope == SUITE
    functions = {f.name: f for f in coverage.functions}
    assert functions["add"].tests == ["tests/test_add.py::test_add"]
    assert functions["subtract"].tests == [] and not functions["subtract"].executed


def test_a_test_command_judged_by_exit_code_measures_the_new_tests_in_their_own_run(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    workspace, base = _changed(tmp_path, new_test=True)
    command = "python3 -c 'import calc; assert calc.add(1, 2) == 3'"
    outcome = _run(sandbox, workspace, base, ["tests/test_subtract.py"], command)
    assert outcome.report.judged_by == "exit code" and outcome.timings["new_tests_s"] is not None
    assert outcome.after == {"tests.test_subtract::test_subtract": True}
    coverage = ChangeCoverage.from_dict(outcome.coverage or {})
    assert coverage.available and coverage.scope == NEW_TESTS
    functions = {f.name: f for f in coverage.functions}
    assert functions["subtract"].tests == ["tests/test_subtract.py::test_subtract"]


def test_a_new_test_failing_only_under_coverage_is_confirmed_without_it_and_still_pins(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    untraced = (
        "import sys\n\nfrom calc import subtract\n\n\n"
        "def test_subtract_untraced():\n    assert sys.gettrace() is None and subtract(3, 2) == 1\n"
    )
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    base = commit_change(root, {"calc/__init__.py": CHANGED, "tests/test_subtract.py": untraced})
    workspace = Workspace(root)
    outcome = _run(sandbox, workspace, base, ["tests/test_subtract.py"])
    case = "tests.test_subtract::test_subtract_untraced"
    assert outcome.coverage_only_failures == [case]  # the tracer is what failed it
    assert (outcome.report.tests_passed, outcome.report.tests_failed) == (2, 0)
    assert list(outcome.pinned) == [case]  # passes alone without the tracer, fails on the base
    coverage = ChangeCoverage.from_dict(outcome.coverage or {})
    assert coverage.available and coverage.scope == NEW_TESTS
