"""The rules that decide before the model, and the coverage text the reviewer and PR show."""

from __future__ import annotations

import json
from pathlib import Path

from bot.analysis.coverage import (
    NEW_TESTS,
    SUITE,
    ChangeCoverage,
    ChangedFunction,
    ChangedLine,
    changed_sources,
    junit_name,
    line_ranges,
    measure,
    unavailable,
)
from bot.analysis.differential import DifferentialAnalysis, ToolRun
from bot.analysis.findings import Finding, Level
from bot.analysis.render import analysis_text, coverage_text
from bot.analysis.render import tests_text as render_tests
from bot.analysis.rules import analysis_issues
from bot.analysis.rules import test_issues as rule_issues
from bot.shared.contracts import Severity, TestOutcome, TestReport, TestStatus

NEW = "tests.test_median::test_median_odd_count"
NODE = "tests/test_median.py::test_median_odd_count"


def outcome(status: TestStatus = TestStatus.passed, after: bool = True) -> TestOutcome:
    report = TestReport(status=status, tests_passed=3, tests_failed=0, command="pytest",
                        duration_s=1.0)  # fmt: skip
    return TestOutcome(report=report, new_tests=[NEW], pinned=[NEW] if after else [],
                       after={NEW: after}, before={NEW: False})  # fmt: skip


def covered(tests: list[str]) -> ChangeCoverage:
    return ChangeCoverage(
        available=True,
        lines=[ChangedLine("stats.py", 8, True, tests), ChangedLine("stats.py", 9, False)],
        functions=[ChangedFunction("stats.py", "median", 7, 9, bool(tests), tests)],
    )


def test_node_ids_map_to_the_junit_names_of_new_tests() -> None:
    assert junit_name(NODE) == NEW
    assert junit_name("tests/test_a.py::TestX::test_b[1]") == "tests.test_a.TestX::test_b[1]"


def test_a_new_test_that_executes_the_changed_function_raises_nothing() -> None:
    assert rule_issues(outcome(), covered([NODE])) == []


def test_a_new_test_that_executes_none_of_the_changed_code_is_blocking() -> None:
    (issue,) = rule_issues(outcome(), covered(["tests/test_other.py::test_other"]))
    assert (
        issue.severity is Severity.high and "`median()`" in issue.problem and NEW in issue.problem
    )


def test_a_change_run_at_import_holds_no_test_to_executing_the_change() -> None:
    # `__hash__ = object.__hash__` in a class body: tests rely on it, no context can name them
    at_import = covered(["tests/test_other.py::test_other"])
    at_import.lines.append(ChangedLine("stats.py", 3, True, [], at_import=True))
    assert not [i for i in rule_issues(outcome(), at_import) if "executes none" in i.problem]
    assert "- executed at import, outside any test: stats.py:3" in coverage_text(at_import, [NEW])


def test_lines_run_at_import_are_told_from_headers_and_function_bodies(tmp_path: Path) -> None:
    source = "class Node:\n    __hash__ = object.__hash__\n\n"
    source += "    def size(self, n=2):\n        return n\n"
    (tmp_path / "nodes.py").write_text(source)
    diff = (
        "diff --git a/nodes.py b/nodes.py\n--- a/nodes.py\n+++ b/nodes.py\n@@ -0,0 +1,5 @@\n"
        + "".join(f"+{line}\n" for line in source.splitlines())
    )
    report = {"files": {"nodes.py": {
        "executed_lines": [1, 2, 4, 5], "missing_lines": [],
        "contexts": {"1": [""], "2": [""], "4": [""], "5": ["t.py::test_size"]},
    }}}  # fmt: skip
    found = measure(tmp_path, diff, json.dumps(report), lambda path: False)
    assert [(line.line, line.at_import) for line in found.lines] == [
        (1, False), (2, True), (4, False), (5, False)
    ]  # fmt: skip
    assert ChangeCoverage.from_dict(found.to_dict()).lines[1].at_import


def test_without_coverage_the_coverage_rule_does_not_apply() -> None:
    assert rule_issues(outcome(), unavailable("the node test runner records no coverage")) == []


def test_a_failing_new_test_is_blocking() -> None:
    issues = rule_issues(outcome(TestStatus.failed, after=False), covered([]))
    assert any(f"New test `{NEW}` fails with the change." == i.problem for i in issues)
    assert all(i.severity is Severity.high for i in issues)


def test_an_existing_test_already_failing_on_the_base_never_goes_back_to_the_coder() -> None:
    """A modified test file's existing test that fails on the base too, in the same kind of run,
    is shown as already failing; a test the change adds that fails is still blocking."""
    old = "tests.test_median::test_mode_of_empty"
    report = TestReport(status=TestStatus.failed, tests_passed=3, tests_failed=1,
                        command="pytest", duration_s=1.0)  # fmt: skip
    tests = TestOutcome(report=report, new_tests=[NEW, old], pinned=[NEW],
                        after={NEW: True, old: False}, before={NEW: False, old: False},
                        already_failing=[old])  # fmt: skip
    assert rule_issues(tests, covered([NODE])) == []
    tests.already_failing = []
    tests.new_failures = [old]
    problems = [i.problem for i in rule_issues(tests, covered([NODE]))]
    assert f"New test `{old}` fails with the change." in problems


def test_a_new_test_the_runner_skipped_neither_fails_nor_is_held_to_the_coverage() -> None:
    """click's test_termui.py has Windows tests skipped on Linux: a skip is no failure, and no
    change to the code can make the test run here (it ran none of the change)."""
    skipped = "tests.test_median::test_median_on_windows"
    report = TestReport(status=TestStatus.passed, tests_passed=3, tests_failed=0,
                        tests_skipped=1, command="pytest", duration_s=1.0)  # fmt: skip
    tests = TestOutcome(report=report, new_tests=[NEW, skipped], pinned=[NEW],
                        after={NEW: True, skipped: None},
                        before={NEW: False, skipped: None})  # fmt: skip
    assert rule_issues(tests, covered([NODE])) == []
    table = render_tests(tests)
    assert f"| `{skipped}` | skipped | skipped | no |" in table
    assert f"| `{NEW}` | failed | passed | yes |" in table
    tests.after[skipped] = False  # a failure is still one
    problems = [i.problem for i in rule_issues(tests, covered([NODE]))]
    assert f"New test `{skipped}` fails with the change." in problems


def test_new_tests_all_skipped_here_are_said_to_be_skipped_not_passing_on_the_base() -> None:
    skipped = "tests.test_median::test_median_on_windows"
    report = TestReport(status=TestStatus.passed, tests_passed=3, tests_failed=0,
                        tests_skipped=1, command="pytest", duration_s=1.0)  # fmt: skip
    tests = TestOutcome(report=report, new_tests=[skipped], pinned=[], after={skipped: None},
                        before={skipped: None})  # fmt: skip
    (issue,) = rule_issues(tests, None)
    assert issue.problem == (
        f"The runner skipped every new test here, so nothing proves the change: `{skipped}`"
    )
    tests.new_tests, tests.after = [NEW, skipped], {NEW: True, skipped: None}
    (issue,) = rule_issues(tests, None)
    assert issue.problem.startswith("Every new test that ran also passes on the code before")
    assert issue.problem.endswith("(1 skipped here.)")


def test_coverage_text_counts_changed_lines_and_names_the_tests() -> None:
    text = coverage_text(covered([NODE]), [NEW])
    assert "Changed lines executed by the tests: 1 of 2." in text
    assert "- not executed: stats.py:9" in text
    assert f"`median()` (stats.py) executed by new tests `{NODE}`" in text


def test_coverage_of_the_new_tests_alone_says_so() -> None:
    measured = covered([])
    measured.scope = NEW_TESTS
    text = coverage_text(measured, [NEW])
    assert "Changed lines executed by the new tests: 1 of 2." in text
    assert "`median()` (stats.py) executed by none of the new tests" in text
    assert "executed by no test" not in text  # older tests were not measured
    assert "the rest of the suite ran without coverage" in text
    stored = ChangeCoverage.from_dict(measured.to_dict())
    assert stored.scope == NEW_TESTS
    assert ChangeCoverage.from_dict({"available": True}).scope == SUITE  # stored before scopes


def test_changed_sources_are_the_python_files_the_diff_adds_lines_to_not_tests() -> None:
    diff = "".join(
        f"diff --git a/{p} b/{p}\n--- a/{p}\n+++ b/{p}\n@@ -1,0 +1,1 @@\n+x = 1\n"
        for p in ("src/pkg/mod.py", "tests/test_mod.py", "README.md", "src/pkg/data.py")
    )
    is_test = lambda path: path.startswith("tests/")  # noqa: E731
    assert changed_sources(diff, is_test) == ["src/pkg/data.py", "src/pkg/mod.py"]


def test_unavailable_coverage_says_so() -> None:
    text = coverage_text(unavailable("the go test runner records no coverage"))
    assert text.startswith("Coverage of the change: unknown (")


def test_line_ranges_collapse_runs() -> None:
    assert line_ranges([12, 3, 7, 8, 9]) == "3, 7-9, 12"


def test_a_test_the_base_already_had_passing_need_not_execute_the_change() -> None:
    """A modified test file keeps its old tests: only the tester's own are held to the change."""
    kept = "tests.test_median::test_median_empty"
    found = outcome()
    found.new_tests, found.after = [NEW, kept], {NEW: True, kept: True}
    found.before, found.preexisting = {NEW: False, kept: True}, [kept]
    assert rule_issues(found, covered([NODE])) == []
    # a case that passes on the base claims nothing, so it is not held to the change either
    # (jinja-b6f50df85b renames test_context_newstyle_plural to test_context_plural)
    found.preexisting = []
    assert rule_issues(found, covered([NODE])) == []
    found.before = {NEW: False, kept: False}  # not passing on the base: held to it
    (issue,) = rule_issues(found, covered([NODE]))
    assert kept in issue.problem


def test_a_case_that_ran_and_failed_on_the_base_is_not_held_to_the_coverage_of_the_change() -> None:
    """jinja-b6f50df85b: the template an earlier test compiled is cached, so the changed parser
    ran outside this test; failing on the base and passing with the change is the stronger proof."""
    elsewhere = covered(["tests/test_other.py::test_other"])
    ran = outcome()
    ran.pinned_why = {NEW: "failed on the base"}
    assert not [i for i in rule_issues(ran, elsewhere) if "executes none" in i.problem]
    imported = outcome()
    imported.pinned_why = {NEW: "could not be collected on the base: imports what it adds"}
    assert [i for i in rule_issues(imported, elsewhere) if "executes none" in i.problem]


def test_a_javascript_case_is_named_as_its_runner_names_it_in_the_coverage_rule() -> None:
    case = "test/subtract.test.js::subtract > returns the difference"
    report = TestReport(status=TestStatus.passed, tests_passed=2, tests_failed=0,
                        command="node --test", duration_s=1.0)  # fmt: skip
    node = TestOutcome(report=report, new_tests=[case], pinned=[case], after={case: True},
                       before={case: False})  # fmt: skip
    ran = ChangeCoverage(available=True, scope=NEW_TESTS,
                         lines=[ChangedLine("calc.js", 5, True, [case])])  # fmt: skip
    assert rule_issues(node, ran) == []
    missed = ChangeCoverage(available=True, scope=NEW_TESTS,
                            lines=[ChangedLine("calc.js", 5, False)])  # fmt: skip
    (issue,) = rule_issues(node, missed)
    assert f"New test `{case}` executes none of the changed code" in issue.problem


def _analysis(base_errors: dict[str, int | None], *new: Finding) -> DifferentialAnalysis:
    tools = [ToolRun(name, "toolbox", "ran", base_errors=n) for name, n in base_errors.items()]
    return DifferentialAnalysis(new=list(new), tools=tools)


def _finding(tool: str, level: Level = "error") -> Finding:
    return Finding(tool, "F821", "calc.py", 3, "undefined name", level)


def test_a_new_error_holds_the_change_only_when_the_project_keeps_its_analyser_clean() -> None:
    analysis = _analysis(
        {"ruff": 0, "mypy": 2, "pyright": None},
        _finding("ruff"),
        _finding("mypy"),
        _finding("pyright"),
        _finding("eslint"),
        _finding("ruff", "warning"),
    )
    issues = analysis_issues(analysis)
    assert [i.severity for i in issues] == [
        Severity.high,  # ruff: no error on the base
        Severity.medium,  # mypy: two errors on the base already
        Severity.high,  # pyright: the base could not be analysed
        Severity.high,  # eslint: not among the analysers that ran
        Severity.medium,  # a warning never holds
    ]
    assert "the base already has 2 mypy error(s)" in issues[1].problem
    assert [i for i in issues if "already has" in i.problem] == [issues[1]]
    assert analysis.tool_of("mypy") is analysis.tools[1]
    assert analysis.tool_of("eslint") is None


def test_the_review_and_the_evidence_say_alike_why_a_new_error_does_not_hold() -> None:
    analysis = _analysis({"ruff": 0, "mypy": 2}, _finding("ruff"), _finding("mypy"))
    mypy = analysis.tools[1]
    issue = analysis_issues(analysis)[1]
    why = (
        "the base already has 2 mypy error(s), so the project does not keep it clean: "
        "its new findings inform and do not hold the change"
    )
    assert mypy.not_kept_clean == why
    assert issue.problem.endswith(f"(new in this change; not on the base; {why})")
    assert f"- mypy (toolbox): 0 finding(s) on the change, 0 on the base; {why}" in (
        analysis_text(analysis).splitlines()
    )
    assert "does not keep it clean" not in analysis_text(_analysis({"ruff": 0}, _finding("ruff")))
