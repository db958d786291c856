"""Best of N: the ranking of candidates on their evidence, each rule deciding a tie the one
before it left, and the reason every loser is given."""

from __future__ import annotations

import pytest

from bot.run.candidates import (
    Trial,
    choose,
    code_size,
    disqualified,
    rank,
    trial_of,
    verdict_lines,
)
from bot.shared.contracts import TestOutcome, TestReport, TestStatus


def trial(number: int, **fields: object) -> Trial:
    values: dict[str, object] = {
        "proven": True,
        "new_findings": 0,
        "coverage": 1.0,
        "size": 10,
        **fields,
    }
    if not values["proven"]:
        values.setdefault("not_proven", "no new test fails before the change")
    return Trial(number=number, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("better", "worse", "why"),
    [
        pytest.param(
            trial(2, proven=True, new_findings=3, coverage=0.1, size=90),
            trial(1, proven=False, not_proven="New test `t` fails with the change."),
            "not proven: New test `t` fails with the change.",
            id="proof-first",
        ),
        pytest.param(
            trial(2, new_findings=0, coverage=0.1, size=90),
            trial(1, new_findings=2),
            "2 new static-analysis finding(s) against 0",
            id="then-fewer-findings",
        ),
        pytest.param(
            trial(2, coverage=0.75, size=90),
            trial(1, coverage=0.5),
            "lower coverage of the change: 50% of its changed lines run against 75% of its "
            "changed lines run",
            id="then-higher-coverage",
        ),
        pytest.param(
            trial(2, coverage=0.0),
            trial(1, coverage=None),
            "lower coverage of the change: coverage unknown against 0% of its changed lines run",
            id="known-coverage-beats-unavailable",
        ),
        pytest.param(
            trial(2, size=4),
            trial(1, size=5),
            "larger: 5 changed lines against 4",
            id="then-smaller",
        ),
        pytest.param(
            trial(1),
            trial(2),
            "tied with candidate 1 on every rule; the earlier one is kept",
            id="then-the-earlier",
        ),
    ],
)
def test_each_rule_decides_a_tie_the_rules_before_it_left(
    better: Trial, worse: Trial, why: str
) -> None:
    for order in ([better, worse], [worse, better]):
        verdict = choose(order)
        assert verdict.winner == better.number
        assert [(loss.number, loss.why) for loss in verdict.losses] == [(worse.number, why)]


def test_an_unproven_loser_beaten_on_a_later_rule_says_it_is_not_proven_either() -> None:
    verdict = choose([trial(1, proven=False, size=3), trial(2, proven=False, new_findings=1)])
    assert verdict.winner == 1
    assert verdict.losses[0].why == (
        "1 new static-analysis finding(s) against 0 (not proven either: no new test fails "
        "before the change)"
    )


def test_a_candidate_without_evidence_ranks_after_every_candidate_with_some() -> None:
    untested = disqualified(1, "its edits could not be applied: no match")
    worst = trial(2, proven=False, new_findings=9, coverage=None, size=500)
    assert [t.number for t in rank([untested, worst])] == [2, 1]
    assert choose([untested, worst]).losses[0].why == "its edits could not be applied: no match"


def test_the_verdict_says_how_many_were_tried_and_why_each_other_lost() -> None:
    verdict = choose([trial(1, proven=False), trial(2), trial(3, size=11)])
    text = "\n".join(verdict_lines(verdict))
    assert "3 candidates were tried" in text and "this change is candidate 2" in text
    assert "- candidate 1 lost: not proven: no new test fails before the change" in text
    assert "- candidate 3 lost: larger: 11 changed lines against 10" in text


def test_no_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        choose([])


def outcome(**fields: object) -> TestOutcome:
    report = TestReport(
        status=TestStatus.passed, tests_passed=1, tests_failed=0, command="pytest", duration_s=0.1
    )
    return TestOutcome(report=report, **fields)  # type: ignore[arg-type]


def test_a_trial_reads_the_proof_from_the_tests_own_results() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    assert code_size(diff) == 3
    proven = trial_of(
        1,
        outcome(new_tests=["t"], pinned=["t"], after={"t": True}, before={"t": False}),
        None,
        diff,
    )
    assert (proven.proven, proven.not_proven, proven.size) == (True, "", 3)
    passes_on_base = trial_of(2, outcome(new_tests=["t"], after={"t": True}), None, diff)
    assert not passes_on_base.proven
    assert passes_on_base.not_proven.startswith("Every new test also passes on the code before")
    refused = trial_of(3, outcome(refused="not a test file: x.py"), None, diff)
    assert refused.disqualified == "no evidence: not a test file: x.py"
