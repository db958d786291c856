"""The deployer: builds the PullRequestDraft whose body is the run's evidence.

Every figure in the body comes from the run's stored artifacts (passed in as `evidence`).
Opening the pull request on GitHub is done by the GitHub side; this part works locally too.
Every string a model or the issue's author wrote (and every name the repository controls: file
paths, test names) goes through `bot.github.markdown`, so it cannot close issues, load images,
link elsewhere or mention anyone; the only live `Closes #N` is Draftsmith's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.agents.loop import LoopStep
from bot.analysis.differential import DifferentialAnalysis
from bot.analysis.render import basis_markdown, coverage_of, coverage_text
from bot.github.markdown import closes, code, host_of, inert, inert_line, title
from bot.model.usage import format_cost
from bot.policy.decide import TEST_INFRASTRUCTURE_REASON, Decision
from bot.repo.instructions import MAX_FILE_CHARS
from bot.shared.contracts import (
    CodeChange,
    Gate,
    ImplementationPlan,
    IssueText,
    PullRequestDraft,
    ReviewResult,
    TestOutcome,
    TestPlan,
)
from bot.store.tables import Run

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
    loop: list[LoopStep] = field(default_factory=list)  # the coder's steps of this revision
    candidates: list[str] = field(default_factory=list)
    """Best of N: how many candidates were tried and why each other one lost (Markdown lines)."""


def loop_line(run_id: int, steps: list[LoopStep]) -> str:
    """One sentence on the coder's loop, pointing at its transcript on the run page."""
    if not steps:
        return "The coder answered without working in its loop (no command ran)."
    edits = sum(1 for s in steps if s.tool == "edit" and not s.output_head.startswith("error:"))
    runs = [s for s in steps if s.tool == "run"]
    ran = f"{len(runs)} command(s) run in the sandbox"
    if runs and runs[-1].exit_code is not None:
        ran += f", the last exited {runs[-1].exit_code}"
    return (
        f"The coder worked in {len(steps)} step(s): {edits} edit(s), {ran}; every step is on "
        f"the run page (`/runs/{run_id}`, Coder's loop). Its commands are not evidence: the "
        "tests below ran on their own after it submitted."
    )


def money(cost: float, unpriced_calls: float) -> str:
    """A sum of costs for people, unknown when any of its calls had no price."""
    return format_cost(None if unpriced_calls else cost)


def _review_section(review: Any, host: str) -> list[str]:
    if review is None:
        return ["No review recorded."]
    lines = [f"Verdict: **{review.status}** (score {review.score:.2f})"]
    for issue in review.issues:
        where = f"{issue.file}:{issue.line}" if issue.file and issue.line else issue.file or ""
        place = f" {code(where)}" if where else ""
        lines.append(f"- \\[{issue.severity}\\]{place} {inert_line(issue.problem, host=host)}")
    return lines


def _tests_section(tests: Any, decision: Decision) -> list[str]:
    if tests is None:
        return ["No tests ran."]
    report = tests.report
    lines = _environment_lines(getattr(tests, "environment", None))
    if report.judged_by == "exit code":
        lines.append(
            f"Status: **{report.status}**, judged by the exit code of the repository's "
            f"test_command alone (counts unknown); {report.duration_s:.2f}s"
        )
    else:
        coverage = (
            f"{report.coverage_percent:.1f}%" if report.coverage_percent is not None else "unknown"
        )
        lines.append(
            f"Status: **{report.status}**: {report.tests_passed} passed, {report.tests_failed} "
            f"failed, {report.tests_skipped} skipped; coverage {coverage}; {report.duration_s:.2f}s"
        )
    lines.append(f"Command: {code(report.command)}")
    selection = getattr(tests, "base_selection", None)  # bot.testing.selection: our Markdown
    if selection:
        lines += ["", selection]
    already = getattr(tests, "already_failing", [])
    if already:
        lines += ["", "Already failing before the change (they fail on the base commit too):"]
        lines += [f"- {code(name)}" for name in already]
    instrumented = getattr(tests, "coverage_only_failures", [])
    if instrumented:
        lines += ["", "Failed only under coverage.py, passed in the same run without it (the "
                  "tracer changes what they see; not held against the change):"]  # fmt: skip
        lines += [f"- {code(name)}" for name in instrumented]
    base_problem = getattr(tests, "base_problem", None)
    if base_problem:
        lines += ["", f"Could not run on the base: {inert_line(base_problem)}. No test is claimed "
                  "to prove the change."]  # fmt: skip
    infrastructure = [r for r in decision.reasons if TEST_INFRASTRUCTURE_REASON in r]
    if tests.new_tests and infrastructure:
        lines += [
            "",
            "**Not evidence:** the change also changes how tests run, so these results prove "
            "nothing until a code owner has reviewed that part. New tests (unproven):",
        ]
        lines += [f"- {code(name)}: unproven" for name in tests.new_tests]
    elif tests.new_tests:
        why = getattr(tests, "pinned_why", {}) or {}
        lines.append("")
        lines.append("New tests, fail before the change and pass after it:")
        for name in tests.new_tests:
            if base_problem:
                mark = "unknown (could not run on the base)"
            elif name in tests.pinned:
                mark = f"yes ({inert_line(why[name])})" if name in why else "yes"
            elif name in already:
                mark = "no (already failing before the change: not the change's, not pinned)"
            else:
                mark = "no (does not fail on the base)"
            lines.append(f"- {code(name)}: {mark}")
    refused = [d for command in tests.commands for d in command.get("refused_egress", [])]
    if refused:
        lines += ["", "Setup network: destinations the egress filter refused:"]
        lines += [f"- {code(destination)}" for destination in dict.fromkeys(refused)]
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


def _environment_lines(environment: dict[str, Any] | None) -> list[str]:
    """How the environment was prepared: from what, with which installer, reused or not."""
    if not environment:
        return []
    plan = environment.get("plan") or {}
    sources = "; ".join(plan.get("sources") or []) or "nothing to install"
    if environment.get("reused"):
        how = "reused from an earlier run"
    else:
        how = f"prepared in {environment.get('duration_s', 0.0):.1f}s"
    lines = [f"Environment: {inert_line(sources)} ({environment.get('installer')}; {how})"]
    lines += [f"- {inert_line(note)}" for note in environment.get("notes") or []]
    return [*lines, ""]


def evidence_markdown(evidence: Evidence) -> str:
    """The Markdown evidence report: plan, files, review, tests, cost per agent, gate, run id."""
    run, plan, decision = evidence.run, evidence.plan, evidence.decision
    host = host_of(run.clone_url)
    lines: list[str] = []
    if run.issue_number is not None:
        lines += [closes(run.issue_number), ""]
    lines += ["## Summary", inert(plan.summary, host=host) if plan else "(no plan)", ""]
    if plan is not None:
        lines.append("## Acceptance criteria")
        focus = evidence.test_plan.focus if evidence.test_plan else []
        lines += [f"- [ ] {inert_line(c, host=host)}" for c in plan.acceptance_criteria]
        if focus:
            lines += ["", "Tests written for:"] + [f"- {inert_line(f, host=host)}" for f in focus]
        lines.append("")
    change = evidence.change
    lines.append("## Files changed")
    if change is not None:
        lines += [f"- {code(e.path)} ({e.operation})" for e in change.edits]
        lines += ["", inert(change.explanation, host=host)]
        lines += ["", loop_line(run.id, evidence.loop)]
    if evidence.candidates:
        lines += ["", "## Candidates", inert("\n".join(evidence.candidates), host=host)]
    tests = evidence.tests
    lines += ["", "## Review", *_review_section(evidence.review, host), ""]
    basis = "\n".join(basis_markdown(evidence.analysis, tests, evidence.review))
    lines += [inert(basis, host=host), ""]
    lines += ["## Tests", *_tests_section(tests, decision), ""]
    if tests is not None:
        coverage = coverage_text(coverage_of(tests), tests.new_tests)
        lines += ["## Coverage of the change", inert(coverage, host=host), ""]
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
    lines += [f"- {inert_line(reason, host=host)}" for reason in decision.reasons]
    if decision.gate is Gate.needs_approval:
        # Requested as reviewers already; named here as code so the body notifies nobody.
        who = ", ".join(map(code, decision.approvers)) or "a maintainer (no code owner found)"
        lines.append(f"Released by an approving review from: {who}")
    lines += ["", "## Repository instructions", *_instructions_section(evidence.instructions)]
    issue = evidence.issue
    if issue is not None and (issue.stripped or issue.flags):
        lines += ["", "## Untrusted input"]
        lines += [
            f"- hidden text stripped: {r['kind']} {code(r['preview'])}" for r in issue.stripped
        ]
        lines += [
            f"- flagged: {inert_line(f['pattern'])} in {inert_line(f['source'])}"
            for f in issue.flags
        ]
    branch = code(run.branch or "")
    lines += ["", f"Draftsmith run `{run.id}`, revision {run.revision}, branch {branch}."]
    return "\n".join(lines) + "\n"


def build_draft(run: Run, evidence: Evidence, decision: Decision) -> PullRequestDraft:
    """The pull request to open: title, evidence body, branch, labels and gate."""
    labels = ["draftsmith"]
    if decision.gate is Gate.needs_approval:
        labels.append(NEEDS_APPROVAL_LABEL)
    return PullRequestDraft(
        title=title(run.title, fallback="Draftsmith change", host=host_of(run.clone_url)),
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
