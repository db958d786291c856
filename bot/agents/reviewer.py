"""The reviewer: plan + diff + static analysis + test results -> ReviewResult.

Deterministic findings (static-analysis errors, hard-coded credentials) are added to whatever the
model says, and any high or critical issue forces `needs_revision` (the contract enforces it).
"""

from __future__ import annotations

import json

from bot.agents.prompting import condense, messages
from bot.contracts import ImplementationPlan, ReviewIssue, ReviewResult, TestReport
from bot.llm import Completion, ModelClient
from bot.security.untrusted import as_data


class Reviewer:
    """Reviews evidence; it cannot write anything."""

    def __init__(self, llm: ModelClient) -> None:
        self.llm = llm

    async def run(
        self,
        *,
        plan: ImplementationPlan,
        diff: str,
        analysis: str,
        test_report: TestReport | None,
        deterministic: list[ReviewIssue],
        guidance: str = "",
    ) -> Completion[ReviewResult]:
        """Ask for the review, then merge in the deterministic findings.

        `guidance` is the repository's instruction files, already wrapped as data."""
        sections = [
            guidance,
            "The plan:",
            json.dumps(plan.model_dump(mode="json"), indent=2),
            "The diff:",
            as_data(condense(diff, 40_000), source="the change's diff", kind="diff"),
            "Static analysis, run in the sandbox:",
            as_data(analysis, source="static analysis output", kind="log"),
        ]
        if test_report is not None:
            sections += [
                "Test results, parsed from the runner's own output:",
                as_data(test_report.model_dump_json(indent=2), source="test report", kind="log"),
            ]
        completion = await self.llm.complete(
            "reviewer", messages("reviewer", *sections), ReviewResult
        )
        if deterministic:
            merged = completion.value.model_dump()
            merged["issues"] = [i.model_dump() for i in deterministic] + merged["issues"]
            completion.value = ReviewResult.model_validate(merged)
        return completion
