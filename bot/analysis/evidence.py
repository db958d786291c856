"""Gathering the reviewer's evidence for one revision of a run (called by the run core)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.analysis.coverage import ChangeCoverage
from bot.analysis.differential import DifferentialAnalysis, analyse_change
from bot.analysis.render import coverage_of
from bot.analysis.rules import analysis_issues, test_issues
from bot.repo.changes import added_lines
from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.toolbox import toolbox_program
from bot.security.credentials import find_credentials, to_review_issue
from bot.shared.contracts import ImplementationPlan, ReviewIssue, ReviewResult, TestOutcome


@dataclass
class ReviewEvidence:
    """Everything the reviewer judges, read from the run's stored artifacts."""

    plan: ImplementationPlan
    diff: str
    analysis: DifferentialAnalysis | None
    tests: TestOutcome | None
    coverage: ChangeCoverage | None
    deciding: list[ReviewIssue] = field(default_factory=list)
    """Issues decided by rules before the model is asked; they stand whatever it answers."""
    previous: ReviewResult | None = None
    guidance: str = ""
    """The repository's instruction files, already wrapped as data."""


async def run_analysis(
    sandbox: Sandbox, root: Path, base: str, diff: str, limits: Limits
) -> DifferentialAnalysis:
    """The differential static analysis of the change at `root` against `base`."""
    return await analyse_change(
        sandbox,
        root,
        base,
        added_lines(diff),
        limits,
        toolbox_ruff=toolbox_program(sandbox, "ruff"),
    )


def review_evidence(
    *,
    plan: ImplementationPlan,
    diff: str,
    analysis: DifferentialAnalysis | None,
    tests: TestOutcome | None,
    previous: ReviewResult | None,
    guidance: str = "",
) -> ReviewEvidence:
    """The evidence with the issues the rules decide (findings, tests, coverage, credentials)."""
    coverage = coverage_of(tests) if tests is not None else None
    deciding = analysis_issues(analysis) if analysis is not None else []
    if tests is not None:
        deciding += test_issues(tests, coverage)
    deciding += [to_review_issue(f) for f in find_credentials(diff)]
    return ReviewEvidence(plan, diff, analysis, tests, coverage, deciding, previous, guidance)
