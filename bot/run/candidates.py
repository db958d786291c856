"""Best of N: candidates of one revision, their evidence, and which one the PR carries.

With `DRAFTSMITH_CANDIDATES=N` (N > 1) N coders work on a revision independently (each with its
own seed, each on a clean tree from the revision's start), and the tester's evidence is gathered
for every candidate exactly as for a single change. The ranking is pure and reads that evidence
only, never what a coder claimed or ran:

1. fail-before/pass-after proven (new tests that fail on the base and pass with the change, no
   failing test, every new test executing the changed code: `bot.analysis.rules.test_issues`);
2. fewer new findings of the differential static analysis;
3. higher coverage of the change (the share of its changed lines the tests executed);
4. smaller size (changed lines of the code, tests left out);
then the earlier candidate. A candidate without evidence at all (no edit, a forbidden path, edits
that do not apply, refused tests, an environment that could not be prepared) ranks after every
candidate with evidence. Each loser gets the first rule that decided against it, in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.analysis.differential import DifferentialAnalysis
from bot.analysis.render import coverage_of
from bot.analysis.rules import test_issues
from bot.shared.contracts import CodeChange, TestOutcome, TestPlan


@dataclass(frozen=True)
class Candidate:
    """One coder's submission for a revision (`change` None: it has `problem` instead)."""

    number: int
    change: CodeChange | None
    problem: str | None = None
    steps: int = 0


@dataclass(frozen=True)
class Trial:
    """What the ranking reads of one candidate's evidence."""

    number: int
    proven: bool
    not_proven: str = ""
    """Why the candidate is not proven (the first test rule it breaks), "" when it is."""
    new_findings: int = 0
    coverage: float | None = None
    """Share of the changed lines the tests executed; None when coverage is unavailable."""
    size: int = 0
    disqualified: str | None = None
    """Why the candidate has no evidence to rank (then it ranks last)."""


@dataclass(frozen=True)
class Evaluated:
    """A candidate's evidence as gathered by the testing step (the winner's becomes the run's)."""

    trial: Trial
    test_plan: TestPlan | None = None
    outcome: TestOutcome | None = None
    analysis: DifferentialAnalysis | None = None
    code_diff: str = ""


@dataclass(frozen=True)
class Loss:
    """A candidate that lost, and the first rule that decided against it."""

    number: int
    why: str


@dataclass(frozen=True)
class Verdict:
    """Which candidate of a revision the PR carries, why, and why each other one lost."""

    tried: int
    winner: int
    why: str
    losses: list[Loss] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)


def disqualified(number: int, why: str) -> Trial:
    """A candidate without evidence to rank, and why."""
    return Trial(number=number, proven=False, not_proven=why, disqualified=why)


def code_size(diff: str) -> int:
    """Changed lines of a unified diff (added plus removed, headers left out)."""
    return sum(
        1 for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def trial_of(
    number: int, outcome: TestOutcome, analysis: DifferentialAnalysis | None, code_diff: str
) -> Trial:
    """A candidate's trial from its test outcome, its analysis and its code diff."""
    for problem in (outcome.tampered, outcome.refused, outcome.environment_problem):
        if problem:
            return disqualified(number, f"no evidence: {problem}"[:500])
    coverage = coverage_of(outcome)
    issues = test_issues(outcome, coverage)
    if issues:
        not_proven = issues[0].problem.splitlines()[0]
    elif not outcome.pinned:
        not_proven = "no new test fails before the change"
    else:
        not_proven = ""
    share = None
    if coverage.available and coverage.lines:
        share = len(coverage.executed) / len(coverage.lines)
    return Trial(
        number=number,
        proven=not not_proven,
        not_proven=not_proven,
        new_findings=len(analysis.new) if analysis is not None else 0,
        coverage=share,
        size=code_size(code_diff),
    )


def _key(trial: Trial) -> tuple[bool, bool, int, float, int, int]:
    coverage = -1.0 if trial.coverage is None else trial.coverage
    return (
        trial.disqualified is not None,
        not trial.proven,
        trial.new_findings,
        -coverage,
        trial.size,
        trial.number,
    )


def rank(trials: Sequence[Trial]) -> list[Trial]:
    """The trials best first."""
    return sorted(trials, key=_key)


def _percent(share: float | None) -> str:
    return "coverage unknown" if share is None else f"{share:.0%} of its changed lines run"


def why_lost(loser: Trial, winner: Trial) -> str:
    """The first rule that ranks `loser` below `winner`, in words."""
    if loser.disqualified is not None:
        return loser.disqualified
    if winner.proven and not loser.proven:
        return f"not proven: {loser.not_proven}"
    also = "" if loser.proven else f" (not proven either: {loser.not_proven})"
    if loser.new_findings != winner.new_findings:
        return (
            f"{loser.new_findings} new static-analysis finding(s) against "
            f"{winner.new_findings}{also}"
        )
    if loser.coverage != winner.coverage:
        return f"lower coverage of the change: {_percent(loser.coverage)} against " + (
            _percent(winner.coverage) + also
        )
    if loser.size != winner.size:
        return f"larger: {loser.size} changed lines against {winner.size}{also}"
    return f"tied with candidate {winner.number} on every rule; the earlier one is kept{also}"


def describe(trial: Trial) -> str:
    """A candidate's standing on the rules, in words."""
    if trial.disqualified is not None:
        return trial.disqualified
    proof = "fail-before/pass-after proven" if trial.proven else f"not proven: {trial.not_proven}"
    return (
        f"{proof}; {trial.new_findings} new static-analysis finding(s); "
        f"{_percent(trial.coverage)}; {trial.size} changed lines"
    )


def choose(trials: Sequence[Trial]) -> Verdict:
    """The best trial and, for every other one, why it lost."""
    if not trials:
        raise ValueError("no candidate to choose from")
    ranked = rank(trials)
    winner = ranked[0]
    losses = [Loss(t.number, why_lost(t, winner)) for t in sorted(ranked[1:], key=_number)]
    return Verdict(
        tried=len(trials),
        winner=winner.number,
        why=describe(winner),
        losses=losses,
        trials=sorted(trials, key=_number),
    )


def _number(trial: Trial) -> int:
    return trial.number


def verdict_lines(verdict: Verdict) -> list[str]:
    """The verdict as Markdown lines (the caller makes repository-controlled text inert)."""
    lines = [
        f"{verdict.tried} candidates were tried (`DRAFTSMITH_CANDIDATES={verdict.tried}`), each "
        f"coded independently and tested on its own; this change is candidate {verdict.winner}: "
        f"{verdict.why}.",
        "",
    ]
    lines += [f"- candidate {loss.number} lost: {loss.why}" for loss in verdict.losses]
    lines += [
        "",
        "Ranked by: fail-before/pass-after proven, then fewer new findings, then higher "
        "coverage of the change, then smaller size.",
    ]
    return lines
