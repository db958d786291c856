"""The one reader of JUnit XML reports (pytest, node --test): each test case and its outcome."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["passed", "skipped", "failed", "error"]


@dataclass(frozen=True)
class JUnitCase:
    """One `<testcase>`: `classname::name`, its outcome and, when it failed, what it said."""

    name: str
    outcome: Outcome
    message: str = ""
    text: str = ""


def junit_cases(xml_text: str) -> list[JUnitCase]:
    """Every test case of a JUnit XML report, in order; ET.ParseError when it is not XML."""
    cases: list[JUnitCase] = []
    for case in ET.fromstring(xml_text).iter("testcase"):
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
