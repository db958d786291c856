"""The new test files alone (pytest): with the change, then on the base, in a copy of the
workspace (bot.testing.base_view) while the change's suite runs in the workspace itself.

A case is pinned only when it fails alone on the base and passes alone with the change, under the
same conditions (a test that relies on what another module imported passes in the suite and
fails alone on both). The run with the change measures the coverage of the change (the suite runs
untraced, bot.testing.suite); when it has failures, the new files run once more without the
tracer, and those results count (coverage.py's tracer can change what a test sees).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.analysis.coverage import NEW_TESTS, ChangeCoverage, suite_coverage
from bot.repo.workspace import Workspace
from bot.shared.contracts import TestReport
from bot.testing.base_view import check_out_base
from bot.testing.cases import CaseResults
from bot.testing.runner import Runner


@dataclass
class AloneRuns:
    """What the new test files showed alone; `tampered` is the first run whose results were
    tampered with (nothing after it ran)."""

    cases: CaseResults = field(default_factory=CaseResults)
    coverage: ChangeCoverage | None = None
    coverage_only_failures: list[str] = field(default_factory=list)
    base_report: TestReport | None = None
    base_cases: CaseResults = field(default_factory=CaseResults)
    tampered: TestReport | None = None
    timings: dict[str, float | None] = field(default_factory=dict)


async def run_alone(
    runner: Runner,
    view: Workspace,
    seen_at: Path,
    new_files: list[str],
    contents: dict[str, str],
    *,
    base: str,
    sources: list[str],
    diff: str,
    is_test: Callable[[str], bool],
) -> AloneRuns:
    """Run `new_files` alone in `view` (seen at `seen_at`) with the change, then on `base`."""
    root, runs = view.root, AloneRuns()
    started = time.monotonic()
    report, runs.cases = await runner.files(root, new_files, sources, mount_at=seen_at)
    if report.tampered is not None:
        runs.tampered = report
        return runs
    if sources:  # read now: the runs that follow replace its report
        runs.coverage = suite_coverage("python", root, diff, is_test, NEW_TESTS)
    if sources and runs.cases.failing():  # confirmed without the tracer
        plain, plain_cases = await runner.files(root, new_files, mount_at=seen_at)
        if plain.tampered is not None:
            runs.tampered = plain
            return runs
        runs.coverage_only_failures = sorted(runs.cases.failing() - plain_cases.failing())
        runs.cases = plain_cases
    runs.timings["new_tests_s"] = _since(started)
    started = time.monotonic()
    check_out_base(view, base, contents)
    runs.base_report, runs.base_cases = await runner.files(root, new_files, mount_at=seen_at)
    runs.timings["base_new_tests_s"] = _since(started)
    if runs.base_report.tampered is not None:
        runs.tampered = runs.base_report
    return runs


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
