"""Readers of the JavaScript runners' own machine-readable reports: each test case and outcome.

- jest `--json --outputFile` and vitest `--reporter=json --outputFile` write the same shape:
  `testResults[]` (one per test file: `name`, `status`, `message`) each with
  `assertionResults[]` (`ancestorTitles`, `title`, `status`, `failureMessages`). A file that
  failed with no test result (a syntax error, an import that does not resolve) is a load error,
  like a module pytest could not collect.
- mocha `--reporter json`: `tests[]`, `passes[]`, `failures[]`, `pending[]` with `file`,
  `fullTitle` and `err` (before mocha 9.2 the report is on stdout, and before 8 it names no
  file). A file mocha cannot load ends the whole run before any report.
Cases are named `<file relative to the repository root>::<describe> > <title>`, so that one test
has the same name in every run (the whole suite, its file alone, on the base).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox.junit import JUnitCase, Outcome

JEST_OUTCOMES: dict[str, Outcome] = {
    "passed": "passed",
    "failed": "failed",
    "pending": "skipped",
    "skipped": "skipped",
    "todo": "skipped",
    "disabled": "skipped",
    "focused": "passed",
}
SEPARATOR = " > "


@dataclass
class FileResults:
    """The cases of a report, and the test files that failed to load (with what they said)."""

    cases: list[JUnitCase] = field(default_factory=list)
    load_errors: dict[str, str] = field(default_factory=dict)


UNKNOWN_FILE = "(unknown file)"


def relative_name(path: str, root: Path) -> str:
    """A report's file path relative to the repository root (as given when it is outside)."""
    if not path:
        return UNKNOWN_FILE
    absolute = Path(path) if os.path.isabs(path) else root / path
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def case_name(file: str, titles: list[str]) -> str:
    """`file::describe > title`."""
    return f"{file}::{SEPARATOR.join(t for t in titles if t)}"


def _object(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the report is not a JSON object")
    return data


def jest_results(text: str, root: Path) -> FileResults:
    """Cases of a jest or vitest JSON report; ValueError when it is not one."""
    data = _object(text)
    results = FileResults()
    for suite in data.get("testResults") or []:
        if not isinstance(suite, dict):
            continue
        file = relative_name(str(suite.get("name") or suite.get("testFilePath") or ""), root)
        assertions = [a for a in suite.get("assertionResults") or [] if isinstance(a, dict)]
        message = str(suite.get("message") or suite.get("failureMessage") or "")
        if not assertions and (suite.get("status") == "failed" or message.strip()):
            results.load_errors[file] = message.strip() or "the test file failed to run"
            continue
        for assertion in assertions:
            titles = [str(t) for t in assertion.get("ancestorTitles") or []]
            titles.append(str(assertion.get("title") or ""))
            outcome = JEST_OUTCOMES.get(str(assertion.get("status")), "failed")
            failures = "\n".join(str(m) for m in assertion.get("failureMessages") or [])
            first = failures.strip().splitlines()[0] if failures.strip() else ""
            results.cases.append(JUnitCase(case_name(file, titles), outcome, first, failures))
        failed_here = any(c.outcome == "failed" for c in results.cases if c.name.startswith(file))
        if assertions and suite.get("status") == "failed" and message.strip() and not failed_here:
            # a hook or the file itself failed after its tests passed
            results.cases.append(
                JUnitCase(case_name(file, ["(the test file)"]), "error", message[:200], message)
            )
    return results


def mocha_stdout_report(stdout: str) -> str | None:
    """The JSON report mocha before 9.2 writes on stdout (its json reporter had no `output`
    option then), after whatever the tests printed; None when there is none."""
    start = stdout.rfind('{\n  "stats": {')
    return stdout[start:] if start >= 0 else None


def mocha_results(text: str, root: Path, only_file: str | None = None) -> FileResults:
    """Cases of a mocha JSON report (`tests`, `failures`, `pending`); ValueError if not one.
    mocha before 8 names no test's file: `only_file`, the one file that ran, when known."""
    data = _object(text)
    if "stats" not in data and "tests" not in data:
        raise ValueError("not a mocha JSON report")

    def key(test: dict[str, Any]) -> tuple[str, str]:
        file = str(test.get("file") or only_file or "")
        return relative_name(file, root), str(test.get("fullTitle") or "")

    def entries(name: str) -> list[dict[str, Any]]:
        return [t for t in data.get(name) or [] if isinstance(t, dict)]

    failed = {key(t): t for t in entries("failures")}
    pending = {key(t) for t in entries("pending")}
    results = FileResults()
    seen: set[tuple[str, str]] = set()
    for test in [*entries("tests"), *entries("failures")]:
        file, title = key(test)
        if (file, title) in seen:
            continue
        seen.add((file, title))
        if (file, title) in failed:
            err = failed[(file, title)].get("err") or {}
            message = str(err.get("message") or "") if isinstance(err, dict) else ""
            stack = str(err.get("stack") or message) if isinstance(err, dict) else ""
            results.cases.append(JUnitCase(case_name(file, [title]), "failed", message, stack))
        elif (file, title) in pending:
            results.cases.append(JUnitCase(case_name(file, [title]), "skipped"))
        else:
            results.cases.append(JUnitCase(case_name(file, [title]), "passed"))
    return results


def mocha_load_error(output: str, files: list[str]) -> dict[str, str]:
    """The files a mocha run that ended before its report names in its error (all when none)."""
    marker = "Exception during run"
    if marker not in output and "Error" not in output:
        return {}
    text = output[output.find(marker) :] if marker in output else output
    named = [f for f in files if f in text] or files
    return {f: text.strip()[-2000:] for f in named}
