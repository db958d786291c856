"""Per-case results from a runner's report (JUnit XML of pytest and node --test, go test -json
events), collection errors apart."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.sandbox.golang import go_outcomes
from bot.sandbox.junit import JUnitReportError, junit_cases

COLLECTION = "collection failure"  # the message of pytest's JUnit error for a module
MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


class CaseStatus(StrEnum):
    """How one test case ended."""

    passed = "passed"
    failed = "failed"
    error = "error"
    skipped = "skipped"


@dataclass
class CaseResults:
    """Every case of one run, and the test modules that could not be collected (with why)."""

    cases: dict[str, CaseStatus] = field(default_factory=dict)
    collection_errors: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the run reported no case and no collection error at all."""
        return not self.cases and not self.collection_errors

    def failing(self) -> set[str]:
        """Failed or errored cases, and `<module> (collection)` for modules not collected."""
        bad = {n for n, s in self.cases.items() if s in (CaseStatus.failed, CaseStatus.error)}
        return bad | {collection_name(m) for m in self.collection_errors}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (kept in the base-suite cache)."""
        return {"cases": dict(self.cases), "collection_errors": self.collection_errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResults:
        """Read back `to_dict`."""
        cases = {k: CaseStatus(v) for k, v in dict(data.get("cases") or {}).items()}
        return cls(cases, dict(data.get("collection_errors") or {}))


def collection_name(module: str) -> str:
    """How a module that could not be collected is named among failures."""
    return f"{module} (collection)"


def read_cases(xml_text: str | None) -> CaseResults:
    """Cases of a JUnit report, named `classname::name`; an unreadable report gives none."""
    results = CaseResults()
    if not xml_text or not xml_text.strip():
        return results
    try:
        cases = junit_cases(xml_text)
    except JUnitReportError:
        return results
    for case in cases:
        # pytest names a module it could not collect by its path alone, with no classname.
        if "::" not in case.name and case.outcome == "error" and case.message == COLLECTION:
            results.collection_errors[case.name] = case.text[-2000:]
            continue
        results.cases[case.name] = CaseStatus(case.outcome)
    return results


def read_go_cases(events: str | None) -> CaseResults:
    """Cases of `go test -json` events (`package.TestName`); a package that failed with no test
    run (it did not build) is a collection error, as a module pytest could not collect."""
    tests, broken = go_outcomes(events or "")
    status = {"pass": CaseStatus.passed, "fail": CaseStatus.failed, "skip": CaseStatus.skipped}
    return CaseResults({name: status[action] for name, action in tests.items()}, broken)


def module_of(path: str) -> str:
    """The dotted module pytest names a test file by (`tests/test_x.py` -> `tests.test_x`)."""
    return path.removesuffix(".py").replace("/", ".")


def in_module(case: str, module: str) -> bool:
    """Whether a case (`classname::name`) belongs to a dotted test module."""
    classname = case.split("::", 1)[0]
    return classname == module or classname.startswith(module + ".")


def missing_module(message: str) -> str | None:
    """The module a `ModuleNotFoundError` in a collection error names, if it is one."""
    match = MISSING_MODULE.search(message)
    return match.group(1) if match else None


SIGNATURE_ERRORS = re.compile(
    r"TypeError: .*(?:unexpected keyword argument|positional arguments? but"
    r"|missing \d+ required (?:positional|keyword-only) argument)"
)


def import_failure(message: str) -> bool:
    """Whether a collection error is the use of something that does not exist (yet): an import,
    an attribute, or a parameter the test module's own top-level code passes (a decorator
    called with a keyword argument the change adds)."""
    markers = ("ModuleNotFoundError", "ImportError", "cannot import name", "AttributeError")
    return any(m in message for m in markers) or SIGNATURE_ERRORS.search(message) is not None
