"""The cross-check's rules on recorded witness streams (the real plugin runs in the bwrap tests)."""

from __future__ import annotations

import json
from typing import Any

from bot.sandbox.base import LimitHit
from bot.sandbox.witness import Witness, cross_check, junit_outcomes

JUNIT = (
    '<testsuites><testsuite><testcase classname="tests.test_a" name="test_one"/>'
    '<testcase classname="tests.test_a" name="test_two"><failure message="x"/></testcase>'
    "</testsuite></testsuites>"
)


def _stream(*records: dict[str, Any]) -> Witness:
    return Witness.parse("".join(json.dumps(r) + "\n" for r in records).encode())


def _case(name: str, outcome: str, when: str = "call", raised: bool = False) -> dict[str, Any]:
    return {"event": "case", "junit": f"tests.test_a::{name}", "nodeid": name, "when": when,
            "outcome": outcome, "raised": raised, "xfail": False}  # fmt: skip


START = {"event": "start", "pid": 1, "pytest": "9"}
HONEST = [START, _case("test_one", "passed"), _case("test_two", "failed", raised=True)]


def test_an_honest_stream_agrees_with_its_report() -> None:
    witness = _stream(*HONEST, {"event": "finish", "exitstatus": 1, "testsfailed": 1})
    assert cross_check(witness, JUNIT, 1, None) is None


def test_a_report_that_turns_a_failure_into_a_pass_disagrees() -> None:
    forged = JUNIT.replace('<failure message="x"/>', "")
    witness = _stream(*HONEST, {"event": "finish", "exitstatus": 1, "testsfailed": 1})
    why = cross_check(witness, forged, 0, None)
    assert why is not None
    assert "says tests.test_a::test_two passed; pytest saw failed" in why
    assert "exit status 1, the process exited 0" in why


def test_an_exit_before_pytest_finished_disagrees() -> None:
    why = cross_check(_stream(*HONEST), JUNIT, 0, None)
    assert why is not None and "exited 0 before pytest finished" in why


def test_a_raised_exception_reported_as_a_pass_counts_as_a_failure() -> None:
    witness = _stream(START, _case("test_one", "passed"), _case("test_two", "passed", raised=True))
    assert witness.cases()["tests.test_a::test_two"] == "failed"


def test_conflicting_or_foreign_lines_in_the_stream_disagree() -> None:
    witness = _stream(*HONEST, _case("test_two", "passed"))
    assert "both failed and passed" in (cross_check(witness, JUNIT, 1, None) or "")
    garbage = Witness.parse(b'{"event": "start"}\nnot json\n')
    assert "line 2 of the witness stream" in (cross_check(garbage, JUNIT, 1, None) or "")


def test_a_report_without_the_witness_disagrees() -> None:
    why = cross_check(Witness(), JUNIT, 1, None)
    assert why is not None and "without Draftsmith's witness" in why


def test_cases_the_report_invents_or_hides_disagree() -> None:
    witness = _stream(START, _case("test_one", "passed"), _case("test_three", "failed"),
                      {"event": "finish", "exitstatus": 1, "testsfailed": 1})  # fmt: skip
    why = cross_check(witness, JUNIT, 1, None) or ""
    assert "lists tests.test_a::test_two, which pytest never ran" in why
    assert "leaves out tests.test_a::test_three (failed)" in why


def test_a_run_the_sandbox_stopped_is_not_judged_on_its_exit() -> None:
    assert cross_check(_stream(*HONEST), None, 137, LimitHit.wall_time) is None


def test_junit_outcomes_keep_the_worst_of_duplicate_cases() -> None:
    text = JUNIT.replace("</testsuite>", '<testcase classname="tests.test_a" name="test_one">'
                         '<error message="teardown"/></testcase></testsuite>')  # fmt: skip
    assert junit_outcomes(text) == {
        "tests.test_a::test_one": "failed",
        "tests.test_a::test_two": "failed",
    }
