"""The suite on the change and on the base, in the same prepared environment, and the proof.

1. The suite with the change (the repository's `test_command` if it has one): the figures shown
   are this run's, as the runner reported them.
   With pytest and new test files, at the same time in a copy of the workspace on the other
   core (bot.testing.base_view, bot.testing.alone): the new test files alone with the change,
   then alone on the base.
2. On the base commit, checked out in place (`bot.testing.checkout`): the suite once per base
   commit and environment (cached per repository), or only what the verdict needs of it when
   the change's pytest suite passed (`bot.testing.selection`); then (node, go, a test_command)
   the new test files alone.
3. `bot.testing.proof` decides what the new tests pin, what was already failing, and whether a
   failure is the environment's rather than the code's.
Coverage (pytest) measures the changed source files only (bot.sandbox.coverage_contexts): when
the change has new test files, in their run alone with the change (collection and their tests),
and the suite runs untraced; else in the suite's run. Tracing every test would double the suite's
time on Python 3.11, and tracing only the suite's collection cost 0.4x a plain run on Jinja. With
a `test_command` that is not pytest, the new test files run once more alone under coverage.
Node: the run of the new test files alone records the changed sources' coverage with the
runner's own (bot.testing.node_coverage).
Runs on the base are probes: `--continue-on-collection-errors`, no coverage. Go runs the new
tests' `TestXxx` functions alone (`go test -run`); a package that does not build on the base
counts as its tests failing there. A pytest run whose report disagrees with Draftsmith's witness
(`bot.sandbox.witness`) stops everything: `tampered` says why, nothing after it runs or is cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.analysis.coverage import (
    NEW_TESTS,
    SUITE,
    ChangeCoverage,
    changed_sources,
    suite_coverage,
)
from bot.environment.cache import RepositoryCache
from bot.repo.workspace import Workspace
from bot.sandbox.base import Limits, Sandbox
from bot.shared.contracts import TestReport, TestStatus
from bot.testing.alone import AloneRuns, run_alone
from bot.testing.base_view import copied
from bot.testing.cases import CaseResults, CaseStatus
from bot.testing.checkout import base_checked_out, overlay
from bot.testing.command import EXIT_CODE, parse_test_command
from bot.testing.node_coverage import NodeCoverage, js_sources
from bot.testing.proof import (
    LIMIT_MARK,
    already_failing,
    already_failing_cases,
    not_the_code,
    project_packages,
    prove,
    unrunnable,
)
from bot.testing.runner import Runner
from bot.testing.selection import base_selection, describe

logger = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")


@dataclass
class SuiteOutcome:
    """What the runs showed, every figure from a runner's own report."""

    report: TestReport
    new_tests: list[str] = field(default_factory=list)
    pinned: dict[str, str] = field(default_factory=dict)
    base_report: TestReport | None = None
    base_problem: str | None = None
    base_suite: dict[str, Any] | None = None
    base_suite_cached: bool = False
    already_failing: list[str] = field(default_factory=list)
    new_failures: list[str] = field(default_factory=list)
    environment_problem: str | None = None
    tampered: str | None = None
    tampered_command: str = ""
    after: dict[str, bool | None] = field(default_factory=dict)
    """Each new test case and whether it passed with the change (None: the runner skipped it)."""
    before: dict[str, bool | None] = field(default_factory=dict)
    """Each new test case that ran on the base commit and whether it passed there (None:
    skipped)."""
    preexisting: list[str] = field(default_factory=list)
    """Cases of the new test files the base already had (passing in its suite, or defined in its
    version of the module: bot.testing.selection): tests an edited file kept, not the tester's."""
    coverage: dict[str, Any] | None = None
    """The coverage of the change (bot.analysis.coverage) by the change's run that measured it."""
    coverage_only_failures: list[str] = field(default_factory=list)
    """Cases that failed under coverage.py and passed in the plain run of the same tests."""
    timings: dict[str, float | None] = field(default_factory=dict)
    """Wall seconds of each run: the change's suite, the suite and new tests on the base."""
    base_selection: str | None = None
    """What ran on the base instead of its whole suite (bot.testing.selection), if not all."""


def suite_key(environment_key: str, test_command: str | None) -> str:
    """What a cached base-suite result depends on besides the base commit."""
    return hashlib.sha256(f"{environment_key}\0{test_command or ''}".encode()).hexdigest()


async def run_suite(
    sandbox: Sandbox,
    limits: Limits,
    workspace: Workspace,
    base: str,
    new_files: list[str],
    *,
    language: str,
    test_command: str | None = None,
    environment_key: str = "",
    cache: RepositoryCache | None = None,
    is_test: Callable[[str], bool] = lambda path: False,
) -> SuiteOutcome:
    """Run the suite on the change and on the base; see the module docstring."""
    touched = workspace.changed_files(base)
    command = parse_test_command(test_command) if test_command else None
    runner = Runner(sandbox, limits, language, command, tuple(touched))
    root = workspace.root
    diff = workspace.diff(base)
    new_files = [p for p in new_files if (root / p).is_file()]
    sources = changed_sources(diff, is_test) if language == "python" else []
    # pytest with new test files: their run alone with the change measures the coverage below,
    # so the suite runs untraced (tracing its collection alone cost 0.4x a plain run on Jinja)
    suite_sources = [] if new_files and not runner.by_exit_code else sources
    base_sha = workspace.git("rev-parse", base).strip()
    contents = {p: (root / p).read_text() for p in new_files}  # as the suite is about to see them
    alone: AloneRuns | None = None
    timings: dict[str, float | None] = {}
    if new_files and language == "python" and not runner.by_exit_code:
        # the new files alone, with the change and on the base, in a copy of the workspace beside
        # the suite: a case is pinned when it fails there on the base and passes with the change
        started = time.monotonic()
        with copied(workspace) as view:
            timings["base_view_s"] = _since(started)
            alone_runs = run_alone(
                runner, view, root, new_files, contents,
                base=base_sha, sources=sources, diff=diff, is_test=is_test,
            )  # fmt: skip
            started = time.monotonic()
            (report, after, timings["change_s"]), alone = await _beside(
                _timed_suite(runner, root, suite_sources), alone_runs
            )
            timings["beside_s"] = _since(started)  # the three runs' wall time together
    else:
        report, after, timings["change_s"] = await _timed_suite(runner, root, suite_sources)
    outcome = SuiteOutcome(report=report, timings=timings)
    if _tampered(outcome, report):
        return outcome
    if alone is not None and alone.tampered is not None and _tampered(outcome, alone.tampered):
        return outcome
    coverage: ChangeCoverage | None = None
    if after.failing() and suite_sources and not runner.by_exit_code:
        # coverage.py's tracer can change what a test sees (on Python 3.11 a RecursionError's
        # message): failures are confirmed by the same suite without it, whose report counts.
        # The coverage report is read first: the plain run does not replace it.
        scope = NEW_TESTS if new_files else SUITE
        coverage = suite_coverage(language, root, diff, is_test, scope)
        started = time.monotonic()
        plain, plain_after = await runner.suite(root, probe=False)
        outcome.timings["change_plain_s"] = _since(started)
        if _tampered(outcome, plain):
            return outcome
        outcome.coverage_only_failures = sorted(after.failing() - plain_after.failing())
        report, after = plain, plain_after
        outcome.report = report
    scope = NEW_TESTS if new_files else SUITE
    after_new = after
    alone_cases: CaseResults | None = None
    base_new = CaseResults()
    if new_files and (runner.by_exit_code or language in ("node", "go")):
        started = time.monotonic()  # the new tests alone, under coverage (bot.sandbox.runners,
        # bot.testing.node_coverage)
        measured = js_sources(diff, is_test) if language == "node" else []
        node_coverage = NodeCoverage(measured) if measured and not runner.by_exit_code else None
        run, after_new = await runner.files(root, new_files, sources, node_coverage)
        outcome.timings["new_tests_s"] = _since(started)
        if _tampered(outcome, run):
            return outcome
        if node_coverage is not None:
            coverage = node_coverage.result(root, diff, sorted(after_new.cases))
    if alone is not None:
        alone_cases, coverage = alone.cases, alone.coverage
        outcome.coverage_only_failures = alone.coverage_only_failures
        outcome.timings.update(alone.timings)
        outcome.base_report, base_new = alone.base_report, alone.base_cases
    no_source = not sources if language == "python" else not js_sources(diff, is_test)
    if coverage is None and no_source and language in ("python", "node"):
        # no source changed: nothing to measure
        coverage = ChangeCoverage(available=True, scope=scope)
    elif coverage is None:  # read now: the runs that follow (on the base too) replace its report
        coverage = suite_coverage(language, root, diff, is_test, scope)
    outcome.coverage = coverage.to_dict()
    base_paths = workspace.git("ls-tree", "-r", "--name-only", base_sha).splitlines()
    packages = project_packages(base_paths)
    key = suite_key(environment_key, test_command)
    stored = cache.base_suite(base_sha, key) if cache is not None else None
    selected = None  # the base's whole suite, unless less answers the same (bot.testing.selection)
    if stored is None and language == "python" and not runner.by_exit_code:
        at_base = partial(_show, workspace, base_sha)
        selected = base_selection(report, after, touched, base_paths, at_base)
        outcome.base_selection = describe(selected) if selected is not None else None
    with base_checked_out(workspace, base_sha):
        if stored is None and (selected is None or selected.run):
            started = time.monotonic()
            if selected is None:
                base_report, base_cases = await runner.suite(root, probe=True)
            else:
                base_report, base_cases = await runner.files(root, selected.run)
            if _tampered(outcome, base_report):
                return outcome
            stored = {
                "report": base_report.model_dump(mode="json"),
                "cases": base_cases.to_dict(),
                "seconds": _since(started),
            }
            whole = selected is None
            if whole and cache is not None and LIMIT_MARK not in base_report.failure_details:
                cache.store_base_suite(base_sha, key, stored)
            outcome.timings["base_suite_s" if whole else "base_selected_s"] = stored["seconds"]
        elif stored is None:  # nothing of the base's suite is needed
            stored = {"report": None, "cases": {}}
        else:
            outcome.base_suite_cached = True
            outcome.timings["base_suite_s"] = None
        if new_files and alone is None:  # node, go, a test_command: here, after the suite
            started = time.monotonic()
            overlay(root, contents)
            outcome.base_report, base_new = await runner.files(root, new_files)
            outcome.timings["base_new_tests_s"] = _since(started)
            if _tampered(outcome, outcome.base_report):
                return outcome
    outcome.base_suite = stored
    base_suite_report = stored["report"] and TestReport.model_validate(stored["report"])
    base_suite = CaseResults.from_dict(stored["cases"])
    _judge(outcome, after, after_new, base_suite, base_suite_report, base_new, new_files, packages,
           alone_cases)  # fmt: skip
    if selected is not None:  # what the base's versions of the edited test modules define
        outcome.preexisting = sorted({*outcome.preexisting, *selected.known(outcome.new_tests)})
    outcome.environment_problem = not_the_code(
        outcome.report, outcome.base_problem, after, base_suite, base_suite_report, touched
    )
    return outcome


def _judge(
    outcome: SuiteOutcome,
    after: CaseResults,
    after_new: CaseResults,
    base_suite: CaseResults,
    base_suite_report: TestReport | None,
    base_new: CaseResults,
    new_files: list[str],
    packages: set[str],
    alone: CaseResults | None = None,
) -> None:
    """Fill the proof, what was already failing and what is new."""
    report = outcome.report
    suite_problem = None
    old_cases: list[str] = []  # the new test files' cases already failing in the same kind of run
    if base_suite_report is not None:  # None: none of it was needed (bot.testing.selection)
        if base_suite_report.judged_by != EXIT_CODE:
            suite_problem = unrunnable(base_suite, packages, "the suite on the base")
        if LIMIT_MARK in base_suite_report.failure_details:
            first = base_suite_report.failure_details.splitlines()[0]
            suite_problem = f"the suite on the base: {first}"
    if new_files:
        proof = prove(after_new, base_new, new_files, packages, alone)
        if outcome.base_report is not None and LIMIT_MARK in outcome.base_report.failure_details:
            proof.pinned, proof.base_problem = {}, "the new tests on the base hit a sandbox limit"
        outcome.new_tests = proof.new_tests
        outcome.after = {n: _passed(after_new.cases.get(n)) for n in proof.new_tests}
        outcome.preexisting = [
            n for n in proof.new_tests if base_suite.cases.get(n) is CaseStatus.passed
        ]
        outcome.before = {
            n: _passed(base_new.cases[n]) for n in proof.new_tests if n in base_new.cases
        }
        # A module the base could not collect fails all its cases there (bot.analysis.render).
        outcome.before.update({module: False for module in base_new.collection_errors})
        outcome.pinned = {} if suite_problem else proof.pinned
        outcome.base_problem = suite_problem or proof.base_problem
        alone_kind = after_new is not after  # node, go, a test_command: the files ran alone
        if suite_problem is None and not (alone_kind and proof.base_problem):
            same_kind = base_new if alone_kind else base_suite
            old_cases = already_failing_cases(proof.new_tests, after_new, same_kind, base_suite)
    else:
        outcome.base_problem = suite_problem
    if report.judged_by == EXIT_CODE:
        base_status = base_suite_report.status if base_suite_report else None
        if report.status is not TestStatus.passed and base_status is TestStatus.passed:
            outcome.new_failures = [f"`{report.command}` (judged by its exit code)"]
        return
    if suite_problem is None:
        outcome.already_failing, outcome.new_failures = already_failing(after, base_suite)
        outcome.already_failing = sorted({*outcome.already_failing, *old_cases})
    else:
        outcome.new_failures = sorted(after.failing())
    if report.status is not TestStatus.passed and not after.failing():
        first = (report.failure_details.strip().splitlines() or ["it failed"])[0]
        outcome.new_failures.append(f"the test run itself: {first}")


def _passed(status: CaseStatus | None) -> bool | None:
    """A case's result as the evidence shows it: passed, failed (or errored), or skipped (None).
    A skipped case neither passed nor failed: a platform's test skipped here is no failure."""
    return None if status is CaseStatus.skipped else status is CaseStatus.passed


def _tampered(outcome: SuiteOutcome, report: TestReport) -> bool:
    """Note a run whose results were tampered with (bot.sandbox.witness): nothing after it counts,
    and it is never cached."""
    if report.tampered is None:
        return False
    outcome.tampered = report.tampered
    outcome.tampered_command = report.command
    return True


def _show(workspace: Workspace, commit: str, path: str) -> str:
    return workspace.git("show", f"{commit}:{path}")


async def _timed_suite(
    runner: Runner, root: Path, sources: list[str]
) -> tuple[TestReport, CaseResults, float]:
    """The change's suite, and its wall seconds."""
    started = time.monotonic()
    report, after = await runner.suite(root, False, sources)
    return report, after, _since(started)


async def _beside(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Both at once (the sandbox runs each command in a thread); if one fails, the other is
    cancelled (its sandboxed command killed) before the error goes on."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.gather(one, two)
    except BaseException:
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
        raise
    return one.result(), two.result()


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
