"""The reviewer's evidence as text: for its prompt and for the pull request body."""

from __future__ import annotations

from collections.abc import Sequence

from bot.analysis.coverage import (
    NEW_TESTS,
    ChangeCoverage,
    junit_name,
    line_ranges,
    unavailable,
)
from bot.analysis.differential import DifferentialAnalysis
from bot.analysis.rules import analysis_issues, test_issues
from bot.shared.contracts import ReviewResult, Severity, TestOutcome

MAX_LISTED = 40


def analysis_text(analysis: DifferentialAnalysis | None) -> str:
    """What ran, the findings the change introduces, and what could not be analysed."""
    if analysis is None:
        return "Static analysis: not run."
    lines = []
    for tool in analysis.tools:
        counts = (
            f"{tool.change_findings} finding(s) on the change, {tool.base_findings} on the base"
            if tool.status == "ran"
            else "did not run"
        )
        detail = f"; {tool.detail}" if tool.detail else ""
        if tool.status == "ran" and not tool.kept_clean:
            detail += f"; {tool.not_kept_clean}"
        lines.append(f"- {tool.name} ({tool.source}): {counts}{detail}")
    lines += [f"- not analysed: {note}" for note in analysis.notes]
    new = analysis.new
    lines.append(f"Findings introduced by the change: {len(new)}" + (":" if new else ""))
    lines += [f"- [{f.level}] {f.where} {f.tool} {f.rule}: {f.message}" for f in new[:MAX_LISTED]]
    if len(new) > MAX_LISTED:
        lines.append(f"- ... and {len(new) - MAX_LISTED} more")
    lines.append(f"Findings that were already on the base (not counted): {analysis.preexisting}")
    return "\n".join(lines)


def _case(results: dict[str, bool | None], name: str) -> str:
    if name not in results:
        return "did not run"
    ok = results[name]
    return "skipped" if ok is None else ("passed" if ok else "failed")


def _before(outcome: TestOutcome, name: str) -> str:
    """A new test's result on the base; a module that failed to import there fails them all."""
    if name in outcome.before:
        return _case(outcome.before, name)
    module = name.split("::")[0]
    if outcome.before.get(module) is False:
        return "failed (collection error)"
    return "did not run"


def tests_text(outcome: TestOutcome | None) -> str:
    """The runner's report and, per new test, its result before and after the change."""
    if outcome is None:
        return "Tests: not run."
    report = outcome.report
    coverage = (
        f"{report.coverage_percent:.1f}%" if report.coverage_percent is not None else "unknown"
    )
    lines = [
        f"Suite: {report.status}: {report.tests_passed} passed, {report.tests_failed} failed, "
        f"{report.tests_skipped} skipped; line coverage {coverage}; command `{report.command}`"
    ]
    if report.failure_details:
        lines += ["Failures:", report.failure_details]
    if outcome.base_selection:
        lines.append(outcome.base_selection)
    if outcome.new_tests:
        lines += [
            "",
            "| new test | before the change | after the change | fails before, passes after |",
            "| --- | --- | --- | --- |",
        ]
        for name in outcome.new_tests:
            pinned = "yes" if name in outcome.pinned else "no"
            before, after = _before(outcome, name), _case(outcome.after, name)
            if name in outcome.already_failing:
                after += " (already failing on the base: not the change's)"
            lines.append(f"| `{name}` | {before} | {after} | {pinned} |")
    else:
        lines.append("No new tests.")
    return "\n".join(lines)


def coverage_text(coverage: ChangeCoverage | None, new_tests: Sequence[str] = ()) -> str:
    """Changed lines executed, the ones no test executed, and which tests ran each function."""
    if coverage is None or not coverage.available:
        why = coverage.reason if coverage is not None else "no coverage was recorded"
        return f"Coverage of the change: unknown ({why})."
    lines = []
    if coverage.lines:
        lines.append(
            f"Changed lines executed by {coverage.scope}: {len(coverage.executed)} of "
            f"{len(coverage.lines)}."
        )
        missed: dict[str, list[int]] = {}
        for line in coverage.missed:
            missed.setdefault(line.path, []).append(line.line)
        lines += [f"- not executed: {path}:{line_ranges(ns)}" for path, ns in missed.items()]
        at_import: dict[str, list[int]] = {}
        for line in coverage.lines:
            if line.at_import:
                at_import.setdefault(line.path, []).append(line.line)
        lines += [
            f"- executed at import, outside any test: {path}:{line_ranges(ns)}"
            for path, ns in at_import.items()
        ]
    else:
        lines.append("No executable changed lines in source files.")
    new = set(new_tests)
    nobody = "none of the new tests" if coverage.scope == NEW_TESTS else "no test"
    for function in coverage.functions:
        tests = [t for t in function.tests if junit_name(t) in new] or function.tests
        which = "new tests" if tests and junit_name(tests[0]) in new else "tests"
        listed = ", ".join(f"`{t}`" for t in tests[:5]) + (" ..." if len(tests) > 5 else "")
        lines.append(
            f"- `{function.name}()` ({function.path}) executed by {which} {listed}"
            if tests
            else f"- `{function.name}()` ({function.path}) executed by {nobody}"
        )
    lines += [f"- not measured (no coverage data): {path}" for path in coverage.unmeasured]
    if coverage.scope == NEW_TESTS:
        lines.append(
            "(Measured on the new tests alone: the rest of the suite ran without coverage.)"
        )
    return "\n".join(lines)


def basis_markdown(
    analysis: DifferentialAnalysis | None, outcome: TestOutcome | None, review: ReviewResult | None
) -> list[str]:
    """What the verdict was based on, for the pull request body."""
    ran = [t.name for t in analysis.tools if t.status == "ran"] if analysis else []
    preexisting = f", {analysis.preexisting} pre-existing not counted" if analysis else ""
    lines = [
        "The verdict was based on:",
        f"- static analysis of the base and the change ({', '.join(ran) or 'no analyser ran'}): "
        f"{len(analysis.new) if analysis else 0} new finding(s){preexisting}",
    ]
    if analysis is not None:
        lines += [f"  - not analysed: {note}" for note in analysis.notes]
    deciding = analysis_issues(analysis) if analysis is not None else []
    if outcome is not None:
        report = outcome.report
        lines.append(
            f"- the test run: {report.status}; {len(outcome.pinned)} of {len(outcome.new_tests)} "
            "new test(s) fail before the change and pass after it"
        )
        coverage = coverage_of(outcome)
        summary = coverage_text(coverage).splitlines()[0]
        lines.append(f"- coverage of the change: {summary[0].lower()}{summary[1:]}")
        deciding += test_issues(outcome, coverage)
    else:
        lines.append("- the test run: none recorded")
    blocking = [i for i in deciding if i.severity in (Severity.high, Severity.critical)]
    lines.append(
        f"- rules decided before the model: {len(blocking)} blocking issue(s)"
        if blocking
        else "- rules decided before the model: nothing blocking"
    )
    if review is not None:
        lines.append(f"- the model's review: {review.status} (score {review.score:.2f})")
    return lines


def coverage_of(outcome: TestOutcome) -> ChangeCoverage:
    """The coverage of the change a test outcome recorded (unavailable when it has none)."""
    if outcome.coverage:
        return ChangeCoverage.from_dict(outcome.coverage)
    return unavailable("the test run recorded no coverage of the change")
