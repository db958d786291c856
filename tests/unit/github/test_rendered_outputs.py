"""Each place where model, issue or repository text reaches GitHub renders it inert."""

from __future__ import annotations

from bot.agents.planner import plan_for_approval
from bot.github.publish import annotations_for, gate_text
from bot.observe.progress import marker, render
from bot.policy.decide import evaluate, load_default_policy
from bot.shared.contracts import (
    ImplementationPlan,
    ReviewIssue,
    ReviewResult,
    ReviewStatus,
    Severity,
)
from tests.helpers.inert import live

PAYLOAD = (
    "Fixes #1, closes octo-org/repo#4 ![x](https://attacker.example/p.png?d=1) "
    '<img src="https://attacker.example/q.png"> [a](javascript:alert(1)) [b](data:text/html,x) '
    "@someone @org/team"
)


def test_the_progress_comment_reason_is_inert() -> None:
    body = render(run_id=3, phase="testing", status="needs_human_review", reason=PAYLOAD)
    assert "Reason: Fixes `#1`" in body
    assert live(body, allowed=(marker(3),)) == []


def test_check_run_annotations_are_inert() -> None:
    issue = ReviewIssue(
        severity=Severity.low, category=PAYLOAD, file="calc/a.py", line=3,
        problem=PAYLOAD, recommended_fix=PAYLOAD,
    )  # fmt: skip
    review = ReviewResult(status=ReviewStatus.approved, issues=[issue], suggestions=[], score=1.0)
    (annotation,) = annotations_for(review)
    assert live(annotation.title) == [] and live(annotation.message) == []


def test_gate_text_shows_hostile_paths_and_owners_as_code() -> None:
    decision = evaluate(["tests/@alice #1.py", "conftest.py"], {"conftest.py": ["@bob"]},
                        load_default_policy())  # fmt: skip
    text = gate_text(decision)
    assert text is not None and "changes how tests run" in text
    assert live(text) == []


def test_the_plan_approval_comment_is_inert() -> None:
    plan = ImplementationPlan(
        summary=PAYLOAD, files_to_create=["@x/#1.py"], files_to_modify=[],
        dependencies=[], architecture_notes="", acceptance_criteria=[PAYLOAD],
        risk_level="low", out_of_scope=[],
    )  # fmt: skip
    decision = evaluate([], {}, load_default_policy())
    assert live(plan_for_approval(5, plan, decision, (100, 0.01))) == []
