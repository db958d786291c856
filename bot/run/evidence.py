"""The run's evidence, read back from its stored artifacts, and the summary of a stopped run."""

from __future__ import annotations

import logging

from bot.agents.deployer import Evidence, write_evidence
from bot.policy.decide import Decision
from bot.run import artifacts
from bot.run.artifacts import Artifacts
from bot.run.budgets import wall_time
from bot.run.candidates import verdict_lines
from bot.run.checkout import issue_text
from bot.run.context import Services
from bot.store.tables import Run, RunEvent
from bot.store.vocabulary import EventKind

logger = logging.getLogger(__name__)


def usage_by_role(events: list[RunEvent]) -> dict[str, dict[str, float]]:
    """Calls, tokens and cost of each role, from the run's `model_call` events."""
    usage: dict[str, dict[str, float]] = {}
    for event in events:
        if event.kind != EventKind.model_call:
            continue
        totals = usage.setdefault(
            event.message, {"tokens": 0, "cost_usd": 0.0, "calls": 0, "unpriced": 0}
        )
        totals["tokens"] += int(event.data.get("total_tokens", 0))
        totals["cost_usd"] += float(event.data.get("cost_usd", 0.0))
        totals["calls"] += 1
        totals["unpriced"] += 0 if event.data.get("priced", True) else 1
    return usage


def collect(services: Services, run: Run, decision: Decision) -> Evidence:
    """Everything the PR body shows, for the run's current revision (its artifacts and its
    events each read in one query)."""
    stored, rev = Artifacts(services.store, run.id).snapshot(), run.revision
    events = services.store.events(run.id)
    spent = wall_time(services.store, run)
    verdict = stored.load(artifacts.CANDIDATES, rev)
    transcript = artifacts.of_candidate(artifacts.TRANSCRIPT, verdict.winner if verdict else None)
    issue = stored.load(artifacts.ISSUE)
    return Evidence(
        run=run,
        decision=decision,
        issue=issue if issue is not None else issue_text(services.store, run),
        plan=stored.load(artifacts.PLAN),
        change=stored.load(artifacts.CHANGE, rev),
        review=stored.load(artifacts.REVIEW, rev),
        test_plan=stored.load(artifacts.TEST_PLAN, rev),
        tests=stored.load(artifacts.TEST_OUTCOME, rev),
        analysis=stored.load(artifacts.ANALYSIS, rev),
        diff=stored.text(artifacts.DIFF, rev),
        usage=usage_by_role(events),
        wall_time=(spent.attempts, spent.current_s, spent.total_s),
        notes=[
            e.message
            for kind in (EventKind.note, EventKind.cost_unknown)
            for e in events
            if e.kind == kind
        ],
        instructions=stored.load(artifacts.INSTRUCTIONS) or [],
        loop=list(stored.all(transcript, rev)),
        candidates=verdict_lines(verdict) if verdict is not None else [],
    )


def keep_best(services: Services, run: Run, phase: str, status: str, reason: str | None) -> None:
    """Leave the work on its branch with a summary of where the run stopped."""
    summary = (
        f"# Draftsmith run {run.id} stopped\n\nPhase: {phase}\n"
        f"Status: {status}\nReason: {reason}\n"
        f"Branch: {run.branch} (revision {run.revision} kept)\n"
    )
    Artifacts(services.store, run.id).save(artifacts.STOPPED_SUMMARY, summary)
    try:
        write_evidence(services.run_dir(run) / "evidence.md", summary)
    except OSError as exc:
        logger.warning("could not write the stop summary: %s", exc)
