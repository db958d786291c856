"""Which new tests pin the change, which failures were already there, and what is not the code's.

Pure decisions on per-case results (`bot.testing.cases`); nothing here runs anything.
- A new test pins the change only if it passed with the change and, on the base with the same
  test files, failed or errored, or could not be collected because it imports what the change
  adds (or, its module collected, the case itself does not exist there: its parameters come from
  the change).
- A base run that fails as a whole for an environment reason (nothing collected, the project's
  own package not importable) proves nothing: `base_problem` says why, and no case is pinned.
- A failure of the change that also fails on the base in the same kind of run (the whole suite,
  or the new test files alone) is "already failing before the change": shown, neither blocking
  nor pinning. A case of the new test files is one only when the base's own suite has it (a
  modified test file's existing test); a case the change adds that fails is always its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import (
    CaseResults,
    CaseStatus,
    import_failure,
    in_module,
    missing_module,
    module_of,
)
from bot.testing.command import EXIT_CODE

LIMIT_MARK = "the sandbox stopped the run"


@dataclass
class Proof:
    """The new tests, those that pin the change (with why), or why no proof can be claimed."""

    new_tests: list[str] = field(default_factory=list)
    pinned: dict[str, str] = field(default_factory=dict)
    base_problem: str | None = None


def project_packages(paths: Iterable[str]) -> set[str]:
    """Top-level importable names a tree provides (`pkg/`, `mod.py`, `src/pkg/`)."""
    names: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if parts[0] == "src" and len(parts) > 2:
            names.add(parts[1].removesuffix(".py"))
        elif len(parts) > 1 or parts[0].endswith(".py"):
            names.add(parts[0].removesuffix(".py"))
    return names


def unrunnable(run: CaseResults, packages: set[str], what: str) -> str | None:
    """Why a run failed as a whole for an environment reason, or None when it ran."""
    if run.empty:
        return f"{what}: nothing was collected"
    for module, message in sorted(run.collection_errors.items()):
        missing = missing_module(message)
        if missing is not None and missing.split(".")[0] in packages and "." not in missing:
            return f"{what}: the project's own package {missing!r} is not importable ({module})"
    return None


def ran_and_failed(before: CaseStatus) -> str:
    """Why a case pins the change when it ran on the base and failed or errored there."""
    return f"{before} on the base"


RAN_AND_FAILED = frozenset(ran_and_failed(s) for s in (CaseStatus.failed, CaseStatus.error))


def prove(
    after: CaseResults,
    base: CaseResults,
    new_files: Iterable[str],
    base_packages: set[str],
    alone: CaseResults | None = None,
) -> Proof:
    """The new tests' cases and the ones that pin the change (see the module docstring).

    `alone`: the new test files run by themselves with the change, as they ran on the base; a
    case that does not pass there pins nothing (its failure on the base may be the isolation's)."""
    modules = [module_of(p) for p in new_files if p.endswith(".py")]
    if not modules:  # not Python: `after` is a run of the new test files alone
        return _prove_files(after, base, set(new_files))
    new_tests = sorted(c for c in after.cases if any(in_module(c, m) for m in modules))
    proof = Proof(new_tests=new_tests)
    problem = unrunnable(base, base_packages, "the new tests on the base")
    if problem is not None:
        proof.base_problem = problem
        return proof
    for case in new_tests:
        if after.cases[case] is not CaseStatus.passed:
            continue
        if alone is not None and alone.cases.get(case) is not CaseStatus.passed:
            continue
        module = next(m for m in modules if in_module(case, m))
        before = base.cases.get(case)
        if before in (CaseStatus.failed, CaseStatus.error):
            proof.pinned[case] = ran_and_failed(before)
        elif before is None and module in base.collection_errors:
            if import_failure(base.collection_errors[module]):
                proof.pinned[case] = "could not be collected on the base: imports what it adds"
        elif before is None and module not in base.collection_errors:
            proof.pinned[case] = "does not exist on the base: its parameters come from the change"
    return proof


def _prove_files(after: CaseResults, base: CaseResults, new_files: set[str]) -> Proof:
    """The proof for runners without modules (node): every case of `after` is a new test."""
    proof = Proof(new_tests=sorted(after.cases))
    if base.empty:
        proof.base_problem = "the new tests on the base: nothing ran"
        return proof
    # Names that carry their file (jest, vitest, mocha: `file::title`) tell whether a case absent
    # from the base run was in a file that could not load there; node's JUnit and Go's events
    # name none, and those runners run every test of a file or package that loads, so there a
    # case absent from a base run that failed is taken as not loaded.
    by_file = any(_file_of(c) in new_files for c in after.cases)
    base_failed = bool(base.failing())
    for case in proof.new_tests:
        if after.cases[case] is not CaseStatus.passed:
            continue
        before = base.cases.get(case)
        if before in (CaseStatus.failed, CaseStatus.error):
            proof.pinned[case] = f"{before} on the base"
        elif before is None and (
            any(_in_unit(case, u) for u in base.collection_errors) if by_file else base_failed
        ):
            proof.pinned[case] = "did not run on the base: its test file could not run there"
        # a case absent from a base run whose file did run (the runner stopped at a first
        # failure, or skipped it) did not fail there: it proves nothing
    return proof


def _file_of(case: str) -> str:
    """What a case names before `::` (a JavaScript runner's test file), "" when nothing."""
    file, sep, _ = case.partition("::")
    return file if sep else ""


def _in_unit(case: str, unit: str) -> bool:
    """Whether a case belongs to a test file (`file::title`) or Go package (`package.TestX`)."""
    return case.startswith((f"{unit}::", f"{unit}."))


def already_failing(after: CaseResults, base_suite: CaseResults) -> tuple[list[str], list[str]]:
    """(failures of the change already failing on the base, failures that are new)."""
    failing, before = after.failing(), base_suite.failing()
    return sorted(failing & before), sorted(failing - before)


FAILED = frozenset((CaseStatus.failed, CaseStatus.error))


def already_failing_cases(
    cases: Iterable[str], after: CaseResults, base: CaseResults, base_suite: CaseResults
) -> list[str]:
    """The `cases` that fail in `after` and failed the same way in `base`, the same kind of run
    on the base commit (`after` the whole suite and `base` the base's suite, or both the new test
    files alone), and that the base's own suite has: not tests the change adds."""
    return sorted(
        case
        for case in cases
        if after.cases.get(case) in FAILED
        and base.cases.get(case) in FAILED
        and case in base_suite.cases
    )


def environment_problem(
    after: CaseResults,
    base_suite: CaseResults | None,
    base_problem: str | None,
    touched: Iterable[str],
) -> str | None:
    """A failure of the change's run that is not the code's (None when the code may be judged).

    - nothing ran with the change and nothing could run on the base either;
    - a collection error in a test file the change did not touch, which happens on the base
      too (or the base could not run).
    """
    base_broken = base_suite is None or base_suite.empty or base_problem is not None
    if after.empty:
        return "the suite could not run (nothing collected)" if base_broken else None
    touched_modules = {module_of(p) for p in touched if p.endswith(".py")}
    untouched = sorted(m for m in after.collection_errors if m not in touched_modules)
    stuck = [
        m
        for m in untouched
        if base_broken or (base_suite is not None and m in base_suite.collection_errors)
    ]
    if stuck:
        detail = after.collection_errors[stuck[0]].strip()[-800:]
        names = ", ".join(stuck[:5]) + (f" and {len(stuck) - 5} more" if len(stuck) > 5 else "")
        return (
            f"test modules the change did not touch cannot be collected, on the base too: "
            f"{names}\n{detail}"
        )
    return None


def not_the_code(
    report: TestReport,
    base_problem: str | None,
    after: CaseResults,
    base_suite: CaseResults,
    base_suite_report: TestReport | None,
    touched: list[str],
) -> str | None:
    """Why the change's failures are the environment's, or None when they may be the code's
    (`base_problem`: the proof's, which names the suite when the base's suite could not run)."""
    if report.status is TestStatus.passed or base_suite_report is None:
        return None  # the base's suite is selected only when the change's passed
    base_failed = base_suite_report.status is not TestStatus.passed
    if report.judged_by == EXIT_CODE:
        if base_failed:
            return (
                f"`{report.command}` fails on the base commit too; judged by its exit code alone, "
                "new failures cannot be told from old ones. Give a pytest test_command in "
                ".github/draftsmith.yml, or fix the suite on the default branch."
            )
        return None
    if LIMIT_MARK in report.failure_details and LIMIT_MARK in base_suite_report.failure_details:
        return f"the suite hits a sandbox limit, on the base too: {report.failure_details[:300]}"
    base_suite_problem = base_problem if base_problem and "suite" in base_problem else None
    problem = environment_problem(after, base_suite, base_suite_problem, touched)
    if problem is None:
        return None
    return f"{problem}\n\nWith the change: {report.failure_details.strip()[:1200]}"
