"""The rules that decide a review before the model is asked.

Each of these gives a high-severity issue, so the verdict is `needs_revision` whatever the
model answers (the model may add issues, never remove these):
- a new error-level finding of an analyser the project keeps clean (no error of it on the base,
  or the base could not be analysed). An analyser the base already fails is not the project's
  gate: its new findings are reported at medium severity, as new warnings are (they inform,
  they do not decide);
- a failing test the base does not fail too, above all a new test. Failures already on the
  base, in the same kind of run, are shown, not held against the change: only tests the change
  adds, or that pass on the base and fail with it, go back;
- new tests none of which fails on the base;
- a new test that executes none of the changed code (a case the base's suite already had,
  passing, is not new: a modified test file keeps tests that need not touch the change). Where
  coverage is unavailable (unknown) this rule does not apply.
"""

from __future__ import annotations

from bot.analysis.coverage import ChangeCoverage, junit_name
from bot.analysis.differential import DifferentialAnalysis
from bot.shared.contracts import ReviewIssue, Severity, TestOutcome, TestStatus
from bot.testing.proof import RAN_AND_FAILED

MAX_DETAILS = 1500


def analysis_issues(analysis: DifferentialAnalysis) -> list[ReviewIssue]:
    """One issue per finding the change introduces: high for an error of an analyser the project
    keeps clean, medium for a warning or for an analyser the base already fails."""
    issues = []
    for f in analysis.new:
        run, held = analysis.tool_of(f.tool), analysis.holds(f)
        tolerated = f.level == "error" and not held
        why = f"; {run.not_kept_clean}" if tolerated and run is not None else ""
        issues.append(
            ReviewIssue(
                severity=Severity.high if held else Severity.medium,
                category="static-analysis",
                file=f.file,
                line=f.line,
                problem=f"{f.tool} {f.rule}: {f.message} "
                f"(new in this change; not on the base{why})",
                recommended_fix=f"change the code so that {f.tool} no longer reports {f.rule} here",
            )
        )
    return issues


def test_issues(outcome: TestOutcome, coverage: ChangeCoverage | None) -> list[ReviewIssue]:
    """Issues from the test run: failures, no fail-before proof, tests that miss the change."""
    issues: list[ReviewIssue] = []
    report = outcome.report
    # A case of a modified test file that fails on the base too, in the same kind of run, is
    # "already failing" (bot.testing.proof): shown, never sent back as the change's.
    already = set(outcome.already_failing)
    failing_new = sorted(  # a skipped case (None) did not fail
        name for name, ok in outcome.after.items() if ok is False and name not in already
    )
    for name in failing_new:
        issues.append(
            _tests(
                f"New test `{name}` fails with the change.",
                "Fix the code (not the test) so that the test passes.",
            )
        )
    # Failures the base has too are "already failing" (bot.testing): shown, never the change's.
    if outcome.new_failures or (
        report.status is not TestStatus.passed and not outcome.already_failing
    ):
        details = report.failure_details[:MAX_DETAILS] or "(the runner gave no details)"
        new = ", ".join(f"`{name}`" for name in outcome.new_failures[:20])
        old = ", ".join(f"`{name}`" for name in outcome.already_failing[:20])
        issues.append(
            _tests(
                f"The tests failed ({report.status}: {report.tests_passed} passed, "
                f"{report.tests_failed} failed)"
                + (f"; new failures: {new}" if new else "")
                + (f"; already failing before the change (leave them): {old}" if old else "")
                + f":\n{details}",
                "Fix the code (not the tests) so that they pass.",
            )
        )
    elif outcome.new_tests and not outcome.pinned and not outcome.base_problem:
        issues.append(_nothing_pinned(outcome))
    issues += _coverage_issues(outcome, coverage, set(failing_new) | already)
    return issues


def _nothing_pinned(outcome: TestOutcome) -> ReviewIssue:
    """Why no new test proves the change: failing on both sides, skipped here, or passing on the
    base."""
    both = sorted(set(outcome.new_tests) & set(outcome.already_failing))
    if both:
        return _tests(
            "The new tests fail with the change as they do on the code before it, so nothing "
            "proves the change: " + ", ".join(f"`{n}`" for n in both[:20]),
            "Make sure the change implements the acceptance criteria.",
        )
    skipped = [n for n in outcome.new_tests if n in outcome.after and outcome.after[n] is None]
    if len(skipped) == len(outcome.new_tests):
        return _tests(
            "The runner skipped every new test here, so nothing proves the change: "
            + ", ".join(f"`{n}`" for n in skipped[:20]),
            "Add a test that runs on this platform and fails without the change.",
        )
    ran = "Every new test that ran" if skipped else "Every new test"
    return _tests(
        f"{ran} also passes on the code before the change, so nothing proves the change does "
        "what the plan asks." + (f" ({len(skipped)} skipped here.)" if skipped else ""),
        "Make sure the change implements the acceptance criteria.",
    )


def _coverage_issues(
    outcome: TestOutcome, coverage: ChangeCoverage | None, failing: set[str]
) -> list[ReviewIssue]:
    if coverage is None or not coverage.available or not (coverage.lines or coverage.functions):
        return []
    if any(line.at_import for line in coverage.lines):
        # module or class level code changed (run at import, outside any test): a test may rely
        # on it and no coverage context can show that, so no test is held to executing the change
        return []
    # A case the base's own suite already had, passing there (an existing test of a test file the
    # change extends), or that passes on the base (a renamed one: jinja-b6f50df85b), claims
    # nothing about the change, so it is not held to executing it either.
    # pytest's node ids name its JUnit cases differently; other runners' names are the cases'
    executing = coverage.tests_executing_change()
    reached = executing | {junit_name(nodeid) for nodeid in executing}
    preexisting = set(outcome.preexisting) | {n for n, ok in outcome.before.items() if ok}
    # a case the runner skipped with the change ran none of it, and no change to the code can
    # make it run here (a platform's test)
    skipped = {n for n, ok in outcome.after.items() if ok is None}
    # A case that ran on the base and failed there, and passes with the change, depends on the
    # change whatever coverage contexts say (a template compiled and cached by an earlier test
    # runs the changed parser outside this one: jinja-b6f50df85b). A case pinned only because
    # the base could not import what it adds is still held to executing the change.
    ran_and_failed = {n for n, why in outcome.pinned_why.items() if why in RAN_AND_FAILED}
    changed = ", ".join(f"`{f.name}()`" for f in coverage.functions) or "the changed lines"
    return [
        _tests(
            f"New test `{name}` executes none of the changed code ({changed}).",
            f"Make the test exercise the change: call {changed} with the inputs the "
            "acceptance criteria name.",
        )
        for name in outcome.new_tests
        if name not in reached | failing | preexisting | ran_and_failed | skipped
    ]


def _tests(problem: str, fix: str) -> ReviewIssue:
    return ReviewIssue(
        severity=Severity.high, category="tests", problem=problem, recommended_fix=fix
    )
