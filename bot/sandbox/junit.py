"""The one reader of JUnit XML reports (pytest, node --test): each test case and its outcome.

Reports are written by code under test, so they are untrusted: parsed with `defusedxml` (no
entity expansion, no external entities). `Outcome` is the one vocabulary of a test case's result.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

Outcome = Literal["passed", "skipped", "failed", "error"]
FAILING: frozenset[Outcome] = frozenset({"failed", "error"})


class JUnitReportError(ValueError):
    """The report is not well-formed XML, or uses what an untrusted report may not (entities)."""


@dataclass(frozen=True)
class JUnitCase:
    """One `<testcase>`: `classname::name`, its outcome and, when it failed, what it said."""

    name: str
    outcome: Outcome
    message: str = ""
    text: str = ""

    @property
    def failing(self) -> bool:
        """Whether the case failed or errored."""
        return self.outcome in FAILING


def junit_cases(xml_text: str) -> list[JUnitCase]:
    """Every test case of a JUnit XML report, in order; JUnitReportError when it is not one."""
    try:
        root = fromstring(xml_text)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise JUnitReportError(f"not a JUnit XML report: {exc}") from exc
    cases: list[JUnitCase] = []
    for case in root.iter("testcase"):
        name = "::".join(p for p in (case.get("classname"), case.get("name")) if p)
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            outcome: Outcome = "error" if problem.tag == "error" else "failed"
            cases.append(JUnitCase(name, outcome, problem.get("message") or "", problem.text or ""))
        elif case.find("skipped") is not None:
            cases.append(JUnitCase(name, "skipped"))
        else:
            cases.append(JUnitCase(name, "passed"))
    return cases
