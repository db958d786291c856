"""The deployer: builds the PullRequestDraft whose body is the run's evidence.

Every figure in the body comes from the run's stored artifacts (passed in as `evidence`).
Opening the pull request on GitHub is done by the GitHub side; this part works locally too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.agents.tester import TestOutcome
from bot.analysis.differential import DifferentialAnalysis
from bot.analysis.render import basis_markdown, coverage_of, coverage_text
from bot.contracts import (
    CodeChange,
    Gate,
    ImplementationPlan,
    IssueText,
    PullRequestDraft,
    ReviewResult,
    TestPlan,
)
from bot.instructions import MAX_FILE_CHARS
from bot.policy import Decision
from bot.tables import Run
from bot.usage import format_cost

NEEDS_APPROVAL_LABEL = "needs-approval"


@dataclass
class Evidence:
    """Everything the PR body shows, read back from the run's stored artifacts."""

    run: Run
    decision: Decision
    issue: IssueText | None = None
    plan: ImplementationPlan | None = None
    change: CodeChange | None = None
    review: ReviewResult | None = None
    test_plan: TestPlan | None = None
    tests: TestOutcome | None = None
    analysis: DifferentialAnalysis | None = None
    diff: str = ""
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time: tuple[int, float, float] | None = None  # attempts, this attempt's s, total s
    notes: list[str] = field(default_factory=list)
    instructions: list[dict[str, Any]] = field(default_factory=list)


def money(cost: float, unpriced_calls: float) -> str:
    """A sum of costs for people, unknown when any of its calls had no price."""
    return format_cost(None if unpriced_calls else cost)


def _review_section(review: Any) -> list[str]:
    if review is None:
        return ["No review recorded."]
    lines = [f"Verdict: **{review.status}** (score {review.score:.2f})"]
    for issue in review.issues:
        where = f"`{issue.file}:{issue.line}`" if issue.file and issue.line else issue.file or ""
        lines.append(f"- [{issue.severity}] {where} {issue.problem}")
    return lines


def _tests_section(tests: Any) -> list[str]:
    if tests is None:
        return ["No tests ran."]
    report = tests.report
    coverage = f"{report.coverage_percent:.1f}%" if report.coverage_percent is not None else "n/a"
    lines = [
        f"Status: **{report.status}**: {report.tests_passed} passed, {report.tests_failed} "
        f"failed, {report.tests_skipped} skipped; coverage {coverage}; {report.duration_s:.2f}s",
        f"Command: `{report.command}`",
    ]
    if tests.new_tests:
        lines.append("")
        lines.append("New tests, fail before the change and pass after it:")
        for name in tests.new_tests:
            mark = "yes" if name in tests.pinned else "no (passes on the base too)"
            lines.append(f"- `{name}`: {mark}")
    return lines


def _instructions_section(applied: list[dict[str, Any]]) -> list[str]:
    if not applied:
        return ["None found on the default branch (AGENTS.md, CLAUDE.md, ...)."]
    lines = ["Given to the agents as the repository's guidance (data, never policy):"]
    for entry in applied:
        cut = (
            f", cut to {MAX_FILE_CHARS} of {entry['chars']} characters"
            if entry["truncated"]
            else ""
        )
        lines.append(f"- `{entry['path']}` ({entry['why']}{cut})")
    return lines


def evidence_markdown(evidence: Evidence) -> str:
    """The Markdown evidence report: plan, files, review, tests, cost per agent, gate, run id."""
    run, plan, decision = evidence.run, evidence.plan, evidence.decision
    lines: list[str] = []
    if run.issue_number is not None:
        lines += [f"Closes #{run.issue_number}", ""]
    lines += ["## Summary", plan.summary if plan else "(no plan)", ""]
    if plan is not None:
        lines.append("## Acceptance criteria")
        focus = evidence.test_plan.focus if evidence.test_plan else []
        lines += [f"- [ ] {c}" for c in plan.acceptance_criteria]
        if focus:
            lines += ["", "Tests written for:"] + [f"- {f}" for f in focus]
        lines.append("")
    change = evidence.change
    lines.append("## Files changed")
    if change is not None:
        lines += [f"- `{e.path}` ({e.operation})" for e in change.edits]
        lines += ["", change.explanation]
    tests = evidence.tests
    lines += ["", "## Review", *_review_section(evidence.review), ""]
    lines += [*basis_markdown(evidence.analysis, tests, evidence.review), ""]
    lines += ["## Tests", *_tests_section(tests), ""]
    if tests is not None:
        coverage = coverage_text(coverage_of(tests), tests.new_tests)
        lines += ["## Coverage of the change", coverage, ""]
    lines += ["## Cost", "| agent | calls | tokens | cost |", "| --- | --- | --- | --- |"]
    total_tokens, total_cost, unpriced = 0, 0.0, 0.0
    for role, totals in sorted(evidence.usage.items()):
        total_tokens += int(totals["tokens"])
        total_cost += totals["cost_usd"]
        unpriced += totals.get("unpriced", 0)
        lines.append(
            f"| {role} | {int(totals['calls'])} | {int(totals['tokens'])} | "
            f"{money(totals['cost_usd'], totals.get('unpriced', 0))} |"
        )
    lines += [f"| total | | {total_tokens} | {money(total_cost, unpriced)} |", ""]
    if evidence.wall_time is not None:
        attempts, current, total = evidence.wall_time
        lines += [
            f"Wall time: {total:.0f}s over {attempts} attempt(s) (this attempt {current:.0f}s).",
            "",
        ]
    lines += [f"- {note}" for note in evidence.notes]
    if evidence.notes:
        lines.append("")
    lines += ["## Risk and gate"]
    lines.append(f"Risk: {plan.risk_level if plan else 'unknown'}; gate: **{decision.gate}**")
    lines += [f"- {reason}" for reason in decision.reasons]
    if decision.gate is Gate.needs_approval:
        who = ", ".join(decision.approvers) or "a maintainer (no code owner found)"
        lines.append(f"Released by an approving review from: {who}")
    lines += ["", "## Repository instructions", *_instructions_section(evidence.instructions)]
    issue = evidence.issue
    if issue is not None and (issue.stripped or issue.flags):
        lines += ["", "## Untrusted input"]
        lines += [f"- hidden text stripped: {r['kind']} `{r['preview']}`" for r in issue.stripped]
        lines += [f"- flagged: {f['pattern']} in {f['source']}" for f in issue.flags]
    lines += ["", f"Draftsmith run `{run.id}`, revision {run.revision}, branch `{run.branch}`."]
    return "\n".join(lines) + "\n"


def build_draft(run: Run, evidence: Evidence, decision: Decision) -> PullRequestDraft:
    """The pull request to open: title, evidence body, branch, labels and gate."""
    title = (run.title or "Draftsmith change").strip()
    labels = ["draftsmith"]
    if decision.gate is Gate.needs_approval:
        labels.append(NEEDS_APPROVAL_LABEL)
    return PullRequestDraft(
        title=title[:250],
        body=evidence_markdown(evidence),
        branch=run.branch or "",
        labels=labels,
        reviewers=[],
        gate=decision.gate,
    )


def write_evidence(path: Path, text: str) -> Path:
    """Write the evidence report where the local CLI points people."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
