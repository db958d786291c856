"""Which of the base's tests must run (bot.testing.selection): pure decisions."""

from __future__ import annotations

from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import CaseResults, CaseStatus
from bot.testing.selection import base_selection, describe

PASSED = TestReport(
    status=TestStatus.passed, tests_passed=2, tests_failed=0, command="pytest", duration_s=1
)
FAILED = TestReport(
    status=TestStatus.failed, tests_passed=1, tests_failed=1, command="pytest", duration_s=1
)
CASES = CaseResults({"tests.test_a::test_a": CaseStatus.passed})
BASE = ["pkg/__init__.py", "tests/test_a.py", "tests/conftest.py", "tests/b_test.py"]


def test_only_the_base_versions_of_touched_test_modules_are_selected() -> None:
    touched = ["pkg/__init__.py", "tests/test_a.py", "tests/conftest.py", "tests/data/x.json",
               "tests/b_test.py", "tests/test_new.py"]  # fmt: skip
    assert base_selection(PASSED, CASES, touched, BASE, per_case=True) == [
        "tests/b_test.py", "tests/test_a.py"
    ]  # fmt: skip


def test_no_touched_test_module_on_the_base_selects_nothing() -> None:
    selected = base_selection(PASSED, CASES, ["pkg/__init__.py", "tests/test_new.py"], BASE,
                              per_case=True)  # fmt: skip
    assert selected == []
    assert "did not run" in describe(selected)


def test_any_failure_or_a_run_not_judged_per_case_needs_the_whole_suite() -> None:
    failing = CaseResults({"tests.test_a::test_a": CaseStatus.failed})
    assert base_selection(PASSED, failing, ["tests/test_a.py"], BASE, per_case=True) is None
    assert base_selection(FAILED, CASES, ["tests/test_a.py"], BASE, per_case=True) is None
    broken = CaseResults(collection_errors={"tests.test_a": "ImportError"})
    assert base_selection(PASSED, broken, ["tests/test_a.py"], BASE, per_case=True) is None
    assert base_selection(PASSED, CaseResults(), [], BASE, per_case=True) is None  # ran nothing
    assert base_selection(PASSED, CASES, ["tests/test_a.py"], BASE, per_case=False) is None


def test_the_evidence_names_what_ran_on_the_base() -> None:
    text = describe([f"tests/test_{i}.py" for i in range(7)])
    assert "`tests/test_0.py`" in text and "and 2 more" in text


def test_a_path_is_quoted_as_data_whatever_backticks_it_holds() -> None:
    text = describe(["tests/test_`x`.py"])
    assert "``tests/test_`x`.py``" in text
