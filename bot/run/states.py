"""Where a run is (`Phase`) and how it stands (`Status`): str enums, stored as their values.

This module imports nothing of ours, so the store's tables, the contracts and the dashboard can
all use it. The stored strings never change: `Status.needs_human_review == "needs_human_review"`.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """The step a run is at (or stopped at)."""

    planning = "planning"
    plan_approval = "plan_approval"
    coding = "coding"
    setup = "setup"  # the repository's own environment (bot.environment)
    reviewing = "reviewing"
    testing = "testing"
    deploying = "deploying"
    done = "done"


class Status(StrEnum):
    """How a run stands; the last six are terminal (design.md's terminal states)."""

    queued = "queued"
    running = "running"
    waiting = "waiting"  # for a person: plan approval
    waiting_for_model = "waiting_for_model"  # the model endpoint is down: resumes by itself
    approved = "approved"
    needs_approval = "needs_approval"
    needs_human_review = "needs_human_review"
    blocked_by_policy = "blocked_by_policy"
    failed = "failed"
    stopped = "stopped"


TERMINAL: frozenset[Status] = frozenset(
    {
        Status.approved,
        Status.needs_approval,
        Status.needs_human_review,
        Status.blocked_by_policy,
        Status.failed,
        Status.stopped,
    }
)
ACTIVE: frozenset[Status] = frozenset({Status.queued, Status.running})
DELIVERED: frozenset[Status] = frozenset({Status.approved, Status.needs_approval})
