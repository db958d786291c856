"""Which of the base's tests must run, when its whole suite is not already cached.

The base's suite answers three questions about the change's run (bot.testing.proof): which of
the change's failures were already failing, whether the base could run at all, and which cases
of the test files the change touches the base already had. When the change's whole suite passed
(pytest, judged per case), the first has no failure to ask about, and the other two are answered
by the base's own versions of the test modules the change touches: only those run on the base,
not its whole suite. When the change touches no existing test module, nothing on the base can
change the verdict, and nothing runs there but the new test files (the proof's own run). Any
failure in the change's run, another runner, or a suite judged by its exit code runs the whole
suite on the base, as before, and that result is cached per base commit. The evidence says which
was done (`describe`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from bot.github.markdown import code
from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import CaseResults


def test_module(path: str) -> bool:
    """Whether a path is a module pytest collects by its default name (`test_*.py`, `*_test.py`)."""
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def base_selection(
    report: TestReport,
    after: CaseResults,
    touched: Iterable[str],
    base_paths: Iterable[str],
    *,
    per_case: bool,
) -> list[str] | None:
    """The base's test modules to run instead of its whole suite, or None for the whole suite.

    `per_case`: the suite is pytest judged case by case (not an exit code, not another runner)."""
    if not per_case or report.status is not TestStatus.passed or after.failing() or after.empty:
        return None
    on_base = set(base_paths)
    return sorted(p for p in set(touched) if test_module(p) and p in on_base)


def describe(selected: list[str]) -> str:
    """What ran on the base instead of its whole suite, for the evidence (Markdown: our words,
    the paths as code spans)."""
    if not selected:
        return (
            "The base's whole suite did not run: the change's suite passed and the change edits "
            "none of the base's test modules, so no result there could change the verdict."
        )
    listed = ", ".join(code(p) for p in selected[:5])  # repository paths: data, quoted inertly
    more = f" and {len(selected) - 5} more" if len(selected) > 5 else ""
    return (
        f"The base's whole suite did not run: the change's suite passed, so only the base's own "
        f"versions of the test modules the change edits ran there ({listed}{more}), to tell the "
        "tests they already had from the new ones."
    )
