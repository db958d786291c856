"""The evidence report lists what the setup phase's egress filter refused."""

from __future__ import annotations

from dataclasses import asdict

from bot.agents.deployer import Evidence, evidence_markdown
from bot.policy.decide import evaluate, load_default_policy
from bot.sandbox.phases import CommandRecord
from bot.shared.contracts import TestOutcome, TestReport, TestStatus
from bot.store.tables import Run


def _evidence(records: list[CommandRecord]) -> str:
    report = TestReport(
        status=TestStatus.passed, tests_passed=3, tests_failed=0, command="pytest", duration_s=1.0
    )
    decision = evaluate(["calc/__init__.py"], {}, load_default_policy())
    tests = TestOutcome(report=report, commands=[asdict(r) for r in records])
    run = Run(id="r1", revision=0, branch="draftsmith/x", issue_number=None)
    return evidence_markdown(Evidence(run=run, decision=decision, tests=tests))


def _setup(refused: list[str]) -> CommandRecord:
    return CommandRecord(
        command="pip install -e .", phase="setup", exit_code=0, duration_s=2.0, limit_hit=None,
        refused_egress=refused,
    )  # fmt: skip


def test_refused_setup_destinations_are_listed_in_the_evidence() -> None:
    text = _evidence([_setup(["example.com:443 (not on the setup egress allow-list)"]), _setup([])])
    assert "Setup network: destinations the egress filter refused:" in text
    assert "- `example.com:443 (not on the setup egress allow-list)`" in text


def test_a_setup_that_was_refused_nothing_says_nothing_about_it() -> None:
    assert "egress filter refused" not in _evidence([_setup([])])
