"""The reviewer: the plan and the whole evidence of a change -> ReviewResult.

It runs after the tests. Its prompt holds the diff, the findings of the differential static
analysis, the test report with each new test's result before and after the change, the coverage
of the changed lines and functions and, on a revision, its previous review. The issues the rules
of `bot.analysis.rules` decided (and hard-coded credentials) are merged into whatever the model
says; any high or critical issue forces `needs_revision` (the contract enforces it), so the model
may add issues but never remove those.
"""

from __future__ import annotations

import json

from bot.agents.prompting import condense, messages
from bot.analysis.evidence import ReviewEvidence
from bot.analysis.render import analysis_text, coverage_text, tests_text
from bot.model.base import Completion, Model
from bot.security.untrusted import as_data
from bot.shared.contracts import ReviewResult


class Reviewer:
    """Reviews evidence; it cannot write anything."""

    def __init__(self, llm: Model) -> None:
        self.llm = llm

    async def run(self, evidence: ReviewEvidence) -> Completion[ReviewResult]:
        """Ask for the review, then merge in the issues the rules decided."""
        new_tests = evidence.tests.new_tests if evidence.tests else []
        sections = [
            evidence.guidance,
            "The plan:",
            json.dumps(evidence.plan.model_dump(mode="json"), indent=2),
            "The diff:",
            as_data(condense(evidence.diff, 40_000), source="the change's diff", kind="diff"),
            "Static analysis, run in the sandbox on the base and on the change (only findings "
            "the change introduces count):",
            as_data(analysis_text(evidence.analysis), source="static analysis", kind="log"),
            "Test results, from the runner's own reports (new tests were also run on the base):",
            as_data(tests_text(evidence.tests), source="test report", kind="log"),
            "Coverage of the change, from the test run's coverage data:",
            as_data(
                coverage_text(evidence.coverage, new_tests), source="coverage report", kind="log"
            ),
        ]
        if evidence.deciding:
            decided = "\n".join(
                f"- [{i.severity}] {i.file or ''}{':' + str(i.line) if i.line else ''} {i.problem}"
                for i in evidence.deciding
            )
            sections += [
                "Issues already decided by rules (they stand whatever you answer; add others):",
                as_data(decided, source="review rules", kind="log"),
            ]
        if evidence.previous is not None:
            sections += [
                "Your review of the previous revision (check that its issues are resolved):",
                json.dumps(evidence.previous.model_dump(mode="json"), indent=2),
            ]
        completion = await self.llm.complete(
            "reviewer", messages("reviewer", *sections), ReviewResult
        )
        if evidence.deciding:
            merged = completion.value.model_dump()
            merged["issues"] = [i.model_dump() for i in evidence.deciding] + merged["issues"]
            completion.value = ReviewResult.model_validate(merged)
        return completion
