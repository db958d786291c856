"""Coverage of the change: which changed lines and changed functions the test run executed.

Read from coverage.py's JSON report with contexts of the run that measured the changed source
files alone (`changed_sources`; bot.sandbox.coverage_contexts, in the pytest process), each
context named after the test that ran (its node id). When the change has new test files, that is
their run alone with the change (`NEW_TESTS`: tracing every test would double the suite's time),
else the suite's run, every test measured (`SUITE`). For every
added line of a changed Python source file (test files are not the code under test): whether the
run executed it and which tests did; for every changed function or method (the AST list of
`bot.repo.changes`): which tests executed its body. Lines of a `def`/`class` header run when the
module is imported, not when a test calls the code, so they never attribute a line to a test.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.repo.changes import added_lines, python_symbols
from bot.sandbox.runners import COVERAGE_JSON, read_report

SUITE = "the tests"
NEW_TESTS = "the new tests"


@dataclass(frozen=True)
class ChangedLine:
    """An added executable line: whether the test run executed it, and which tests did."""

    path: str
    line: int
    executed: bool
    tests: list[str] = field(default_factory=list)
    at_import: bool = False
    """Executed outside any test only, and not a def/class header: module or class level code
    run at import (`__hash__ = ...`). Tests depend on it without any context naming them."""


@dataclass(frozen=True)
class ChangedFunction:
    """A changed function or method and the tests that executed its body."""

    path: str
    name: str
    start: int
    end: int
    executed: bool
    tests: list[str] = field(default_factory=list)


@dataclass
class ChangeCoverage:
    """Coverage of the changed code, or why it is unavailable (then no rule relies on it)."""

    available: bool
    reason: str = ""
    scope: str = SUITE
    """Which tests ran under coverage: the whole suite (`SUITE`) or the new tests (`NEW_TESTS`)."""
    lines: list[ChangedLine] = field(default_factory=list)
    functions: list[ChangedFunction] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)
    """Changed Python files the coverage data does not mention (never imported, or omitted)."""

    @property
    def executed(self) -> list[ChangedLine]:
        """The changed lines the test run executed."""
        return [line for line in self.lines if line.executed]

    @property
    def missed(self) -> list[ChangedLine]:
        """The changed lines no test executed."""
        return [line for line in self.lines if not line.executed]

    def tests_executing_change(self) -> set[str]:
        """Node ids of the tests that executed a changed line or a changed function's body."""
        tests = {t for line in self.lines for t in line.tests}
        return tests | {t for function in self.functions for t in function.tests}

    def to_dict(self) -> dict[str, Any]:
        """Stored inside the run's test outcome."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeCoverage:
        """Read back a stored coverage."""
        return cls(
            available=bool(data["available"]),
            reason=str(data.get("reason", "")),
            scope=str(data.get("scope", SUITE)),
            lines=[ChangedLine(**line) for line in data.get("lines", [])],
            functions=[ChangedFunction(**f) for f in data.get("functions", [])],
            unmeasured=list(data.get("unmeasured", [])),
        )


def unavailable(reason: str) -> ChangeCoverage:
    """Coverage that could not be measured (node, Go, a runner without coverage data)."""
    return ChangeCoverage(available=False, reason=reason)


def junit_name(nodeid: str) -> str:
    """pytest's node id as the `classname::name` of its JUnit XML report (how the tester names
    new tests): `tests/test_a.py::TestX::test_b` -> `tests.test_a.TestX::test_b`."""
    path, *rest = nodeid.split("::")
    names = [path.replace("/", ".").removesuffix(".py"), *rest]
    return f"{'.'.join(names[:-1])}::{names[-1]}" if len(names) > 1 else names[0]


def line_ranges(lines: Iterable[int]) -> str:
    """`3, 7-9` for lines 3, 7, 8, 9."""
    ordered = sorted(set(lines))
    parts: list[str] = []
    start = prev = None
    for n in [*ordered, None]:
        if start is not None and (n is None or prev is None or n != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None:
            start = n if start is None else start
            prev = n
    return ", ".join(parts)


def changed_sources(diff: str, is_test: Callable[[str], bool]) -> list[str]:
    """The Python source files (not tests) to which the diff adds lines: what coverage measures."""
    return sorted(p for p in added_lines(diff) if p.endswith(".py") and not is_test(p))


def measure(
    root: Path,
    diff: str,
    coverage_json: str | None,
    is_test: Callable[[str], bool],
    scope: str = SUITE,
) -> ChangeCoverage:
    """The coverage of the diff's added Python source lines, from the run's JSON report."""
    if coverage_json is None:
        return unavailable("the test run wrote no coverage report")
    try:
        files: dict[str, Any] = json.loads(coverage_json)["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return unavailable(f"the coverage report is unreadable ({exc.__class__.__name__})")
    # The test run controlled the workdir: sources are read as reports (no symlink, no FIFO).
    sources = {
        path: (lines, read_report(root, path))
        for path, lines in added_lines(diff).items()
        if path.endswith(".py") and not is_test(path)
    }
    result = ChangeCoverage(available=True, scope=scope)
    for path, (lines, source) in sorted(sources.items()):
        entry = files.get(path)
        if source is None:
            continue  # deleted by the change, or not a plain file any more
        if entry is None:
            result.unmeasured.append(path)
            continue
        executed = set(entry.get("executed_lines", []))
        executable = executed | set(entry.get("missing_lines", []))
        contexts: dict[str, list[str]] = entry.get("contexts") or {}
        defs = _definitions(source)
        headers = {n for start, body, _end in defs.values() for n in range(start, body)}
        bodies = _function_bodies(source)
        for n in sorted(lines & executable):
            tests = [] if n in headers else sorted(c for c in contexts.get(str(n), []) if c)
            at_import = (
                n in executed and not tests and n not in headers
                and not any(n in body for body in bodies)
            )  # fmt: skip
            result.lines.append(ChangedLine(path, n, n in executed, tests, at_import))
        for symbol in python_symbols(path, source, lines):
            if symbol.kind not in ("function", "method"):
                continue
            _start, body, end = defs.get((symbol.start, symbol.end), (0, symbol.start + 1, 0))
            span = range(body, symbol.end + 1)
            tests = sorted({c for n in span for c in contexts.get(str(n), []) if c})
            ran = any(n in executed for n in span)
            result.functions.append(
                ChangedFunction(path, symbol.name, symbol.start, symbol.end, ran, tests)
            )
    return result


def _function_bodies(source: str) -> list[range]:
    """The body lines of every function and method: code that runs when it is called."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def _definitions(source: str) -> dict[tuple[int, int], tuple[int, int, int]]:
    """(start, end) of every def/class (decorators included) -> (start, first body line, end)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[tuple[int, int], tuple[int, int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            end = node.end_lineno or node.lineno
            found[(start, end)] = (start, node.body[0].lineno, end)
    return found


def suite_coverage(
    kind: str, root: Path, diff: str, is_test: Callable[[str], bool], scope: str = SUITE
) -> ChangeCoverage:
    """The change's coverage from the run under coverage that just finished in `root` (pytest
    only): `scope` says whether that run was the suite or the new tests alone."""
    if kind == "node":
        return unavailable(
            "measured on the run of new test files by the project's runner, and no such run "
            "measured it (no new test files, or a test_command judged by its exit code)"
        )
    if kind != "python":
        return unavailable(f"the {kind} test runner records no coverage")
    return measure(root, diff, read_report(root, COVERAGE_JSON), is_test, scope)
