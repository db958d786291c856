"""Real pytest and node --test suites run in bubblewrap; counts come from their reports."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from bot.sandbox.base import TOOLBOX_MOUNT, Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.runners import COVERAGE_JSON, run_node_test, run_pytest
from bot.sandbox.toolbox import build_python_toolbox
from bot.shared.contracts import TestStatus

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=60, cpu_time_s=60)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_100, uid_slots=4)


def _python_repo(root: Path, failing: bool) -> Path:
    source = "def add(a, b):\n    return a + b\n\ndef unused():\n    return 1\n"
    (root / "calc.py").write_text(source)
    tests = root / "tests"
    tests.mkdir()
    body = """
    import pytest
    from calc import add

    def test_adds():
        assert add(2, 3) == 5

    def test_adds_negatives():
        assert add(-1, -1) == -2

    @pytest.mark.skip(reason="later")
    def test_later():
        pass
    """
    body = textwrap.dedent(body)
    if failing:
        body += "\ndef test_wrong():\n    assert add(2, 2) == 5\n"
    (tests / "test_calc.py").write_text(body)
    (tests / "test_other.py").write_text("def test_one():\n    assert True\n")
    return root


async def test_passing_pytest_suite_is_counted(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    repo = _python_repo(tmp_path, failing=False)
    report = await run_pytest(sandbox, repo, LIMITS)
    assert report.status is TestStatus.passed, report.failure_details
    assert (report.tests_passed, report.tests_failed, report.tests_skipped) == (3, 0, 1)
    # no coverage asked: pytest alone, and the project's total is not measured (unknown, not 0)
    assert "coverage" not in report.command and report.coverage_percent is None
    assert not (repo / COVERAGE_JSON).exists()


async def test_coverage_measures_only_the_given_files_with_each_tests_context(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = _python_repo(tmp_path, failing=False)
    (repo / "other.py").write_text("def other():\n    return 2\n")
    (repo / "tests" / "test_other.py").write_text(
        "from other import other\n\ndef test_one():\n    assert other() == 2\n"
    )
    # The project's own settings would trace everything, with branches, into parallel files.
    (repo / "pyproject.toml").write_text(
        '[tool.coverage.run]\nbranch = true\nsource = ["."]\nparallel = true\n'
    )
    report = await run_pytest(sandbox, repo, LIMITS, coverage_of=["calc.py"])
    assert report.status is TestStatus.passed, report.failure_details
    assert (report.tests_passed, report.tests_skipped) == (3, 1)
    assert report.coverage_percent is None  # the project's total is never measured
    data = json.loads((repo / COVERAGE_JSON).read_text())
    assert list(data["files"]) == ["calc.py"]
    calc = data["files"]["calc.py"]
    assert "executed_branches" not in calc  # lines only
    assert calc["executed_lines"] == [1, 2, 4] and calc["missing_lines"] == [5]
    assert sorted(calc["contexts"]["2"]) == [
        "tests/test_calc.py::test_adds",
        "tests/test_calc.py::test_adds_negatives",
    ]
    assert calc["contexts"]["1"] == [""]  # the import, outside any test


async def test_coverage_of_some_test_files_leaves_the_other_tests_untraced(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = _python_repo(tmp_path, failing=False)
    (repo / "tests" / "test_more.py").write_text(
        "from calc import add, unused\n\ndef test_more():\n    assert add(1, unused()) == 2\n"
    )
    report = await run_pytest(
        sandbox, repo, LIMITS, coverage_of=["calc.py"], coverage_tests=["tests/test_more.py"]
    )
    assert (report.tests_passed, report.tests_skipped) == (4, 1), report.failure_details
    calc = json.loads((repo / COVERAGE_JSON).read_text())["files"]["calc.py"]
    assert calc["contexts"]["2"] == ["tests/test_more.py::test_more"]  # test_calc.py untraced
    assert calc["contexts"]["5"] == ["tests/test_more.py::test_more"]
    assert calc["contexts"]["1"] == [""]  # collection (the import) is measured


async def test_the_toolboxs_coverage_has_its_c_tracer_in_the_sandbox(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    # without its C extension coverage.py falls back to a Python tracer several times slower
    command = ["python3", "-m", "coverage", "debug", "sys"]
    env = {"PYTHONPATH": TOOLBOX_MOUNT}
    result = await sandbox.run(command, workdir=tmp_path, limits=LIMITS, env=env)
    assert result.exit_code == 0, result.stderr
    assert re.search(rf"CTracer: available from {TOOLBOX_MOUNT}/coverage/tracer", result.stdout)


async def test_coverage_file_names_are_patterns_of_themselves_only(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = _python_repo(tmp_path, failing=False)
    odd = "calc [v2], #1.py"
    (repo / odd).write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests" / "test_odd.py").write_text(
        "import importlib.util\n\n"
        "def test_odd():\n"
        f"    spec = importlib.util.spec_from_file_location('odd', {odd!r})\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    assert module.add(1, 1) == 2\n"
    )
    report = await run_pytest(sandbox, repo, LIMITS, coverage_of=[odd])
    assert report.status is TestStatus.passed, report.failure_details
    data = json.loads((repo / COVERAGE_JSON).read_text())
    assert list(data["files"]) == [odd]
    assert data["files"][odd]["contexts"]["2"] == ["tests/test_odd.py::test_odd"]


async def test_failing_pytest_suite_reports_the_assertion(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = _python_repo(tmp_path, failing=True)
    report = await run_pytest(sandbox, repo, LIMITS)
    assert report.status is TestStatus.failed
    assert (report.tests_passed, report.tests_failed) == (3, 1)
    assert "test_wrong" in report.failure_details
    assert "assert 4 == 5" in report.failure_details


async def test_pytest_subset_runs_only_the_given_files(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = _python_repo(tmp_path, failing=True)
    report = await run_pytest(sandbox, repo, LIMITS, paths=["tests/test_other.py"])
    assert report.status is TestStatus.passed
    assert report.tests_passed == 1
    assert report.command.endswith("tests/test_other.py")


NODE_TESTS = """
const test = require('node:test');
const assert = require('node:assert');
test('adds', () => { assert.strictEqual(1 + 1, 2); });
test('skipped', { skip: true }, () => {});
"""


@pytest.mark.parametrize("failing", [False, True], ids=["passing", "failing"])
async def test_node_test_suite_is_counted(
    sandbox: BwrapSandbox, tmp_path: Path, failing: bool
) -> None:
    (tmp_path / "test").mkdir()
    body = NODE_TESTS
    if failing:
        body += "test('broken', () => { assert.strictEqual(2 + 2, 5); });\n"
    (tmp_path / "test" / "math.test.js").write_text(body)
    report = await run_node_test(sandbox, tmp_path, LIMITS)
    assert report.tests_passed == 1
    assert report.tests_skipped == 1
    if failing:
        assert report.status is TestStatus.failed and report.tests_failed == 1
        assert "broken" in report.failure_details
    else:
        assert report.status is TestStatus.passed and report.tests_failed == 0


@pytest.mark.parametrize("kind", ["symlink-to-secret", "fifo"], ids=["symlink", "fifo"])
def test_a_report_that_is_not_a_plain_file_is_never_read(tmp_path: Path, kind: str) -> None:
    """Sandboxed code controls the workdir: its report could point at a host secret or block."""
    import os

    from bot.sandbox.runners import REPORT_DIR, read_report

    secret = tmp_path / "private-key.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nsecret\n")
    work = tmp_path / "work"
    (work / REPORT_DIR).mkdir(parents=True)
    report = work / REPORT_DIR / "junit.xml"
    if kind == "fifo":
        os.mkfifo(report)
    else:
        report.symlink_to(secret)
    assert read_report(work, f"{REPORT_DIR}/junit.xml") is None
    (work / REPORT_DIR).rename(work / "elsewhere")
    (work / REPORT_DIR).symlink_to(tmp_path)
    assert read_report(work, f"{REPORT_DIR}/private-key.pem") is None
