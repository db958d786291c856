"""Per-test results from the JavaScript runners' own reports (real reports, tests/fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.node_reports import (
    jest_results,
    mocha_load_error,
    mocha_results,
    mocha_stdout_report,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "node_reports"
WRITTEN_IN = Path("/tmp/jsprobe")  # where the runners ran (README.md)


def outcomes(cases: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {case.name: case.outcome for case in cases}


@pytest.mark.parametrize(
    ("report", "folder", "suffix"),
    [("jest-report.json", "t", "a.test.js"), ("vitest-report.json", "v", "b.test.mjs")],
    ids=["jest", "vitest"],
)
def test_jest_and_vitest_reports_give_each_case_by_file_and_describe_path(
    report: str, folder: str, suffix: str
) -> None:
    results = jest_results((FIXTURES / report).read_text(), WRITTEN_IN)
    file = f"{folder}/{suffix}"
    found = outcomes(results.cases)
    assert found[f"{file}::calc > adds"] == "passed"
    assert found[f"{file}::calc > fails"] == "failed"
    assert found[f"{file}::calc > skipped"] == "skipped"
    assert found[f"{file}::calc > nested > deep"] == "passed"
    failing = next(c for c in results.cases if c.name == f"{file}::calc > fails")
    assert "Expected" in failing.text or "expected 3 to be 4" in failing.text


@pytest.mark.parametrize(
    ("report", "broken", "says"),
    [
        ("jest-report.json", "t/broken.test.js", "Cannot find module '../missing-module'"),
        ("vitest-report.json", "v/broken.test.mjs", "Failed to load url ../missing-module.js"),
    ],
    ids=["jest", "vitest"],
)
def test_a_test_file_that_fails_to_load_is_a_load_error_not_a_case(
    report: str, broken: str, says: str
) -> None:
    results = jest_results((FIXTURES / report).read_text(), WRITTEN_IN)
    assert says in results.load_errors[broken]
    assert not any(c.name.startswith(broken) for c in results.cases)


def test_jest_counts_match_the_report_s_own_totals() -> None:
    import json

    text = (FIXTURES / "jest-report.json").read_text()
    totals = json.loads(text)
    found = list(outcomes(jest_results(text, WRITTEN_IN).cases).values())
    assert found.count("passed") == totals["numPassedTests"]
    assert found.count("failed") == totals["numFailedTests"]
    assert found.count("skipped") == totals["numPendingTests"] + totals["numTodoTests"]


def test_mocha_report_gives_passed_failed_and_pending_cases() -> None:
    results = mocha_results((FIXTURES / "mocha-report.json").read_text(), WRITTEN_IN)
    assert outcomes(results.cases) == {
        "m/c.test.js::calc adds": "passed",
        "m/c.test.js::calc fails": "failed",
        "m/c.test.js::calc sk": "skipped",
    }
    failing = next(c for c in results.cases if c.outcome == "failed")
    assert "3 !== 4" in failing.message


def test_a_mocha_run_that_could_not_load_a_file_names_that_file() -> None:
    output = (FIXTURES / "mocha-load-error.txt").read_text()
    errors = mocha_load_error(output, ["m/c.test.js", "m/broken.test.js"])
    assert list(errors) == ["m/broken.test.js"]
    assert "Cannot find module '../nothere'" in errors["m/broken.test.js"]


@pytest.mark.parametrize(
    "text", ["[]", '{"unrelated": true}', "not json"], ids=["array", "other-object", "not-json"]
)
def test_what_is_not_a_mocha_report_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        mocha_results(text, WRITTEN_IN)


def test_an_old_mocha_report_on_stdout_is_read_after_what_the_tests_printed() -> None:
    printed = "a line a test printed\n{ not: json }\n"
    stdout = printed + (FIXTURES / "mocha7-stdout.txt").read_text()
    text = mocha_stdout_report(stdout)
    assert text is not None and text.startswith("{")
    results = mocha_results(text, WRITTEN_IN, only_file="test/serialize.js")
    statuses = {c.name: c.outcome for c in results.cases}
    assert len(statuses) == 11 and all(n.startswith("test/serialize.js::") for n in statuses)
    assert statuses["test/serialize.js::serialize maxAge"] == "failed"
    unattributed = mocha_results(text, WRITTEN_IN)  # several files ran: none can be named
    assert all(c.name.startswith("(unknown file)::") for c in unattributed.cases)
    assert mocha_stdout_report("1 passing\n") is None
