"""The run store's stored vocabularies besides a run's Phase and Status: str enums, one each.

`DeliveryState` is a webhook delivery's lifecycle (`deliveries.outcome`); `EventKind` names the
events of a run's timeline (`events.kind`). Like `bot.run.states`, this module imports nothing of
ours, and the stored strings never change: `DeliveryState.queued == "queued"`.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    """Where a webhook delivery is, from the ack to its handler's end."""

    received = "received"  # the column's default; intake always stores one of the next two
    queued = "queued"  # accepted, waiting for the outbox
    ignored = "ignored"  # nothing to do (an event or action Draftsmith does not act on)
    refused = "refused"  # signed, but malformed: answered 400 and never handled
    dispatched = "dispatched"  # in the queue
    processing = "processing"  # a worker holds its lease
    processed = "processed"  # handled
    not_permitted = "not_permitted"  # a command from someone without write access: not counted
    throttled = "throttled"  # past its sender's hourly limit: dropped unasked, not counted
    failed = "failed"  # the handler raised; the error is stored beside it


PENDING: frozenset[DeliveryState] = frozenset({DeliveryState.queued, DeliveryState.dispatched})
UNCOUNTED: frozenset[DeliveryState] = frozenset(
    {DeliveryState.not_permitted, DeliveryState.throttled}
)  # commands that could never act: they spend no installation budget


class EventKind(StrEnum):
    """What an event of a run's timeline records."""

    created = "created"
    attempt = "attempt"  # a move of the run core (counted by the wall-time budget)
    phase = "phase"  # a step finished and the run moved
    input = "input"  # a person's steering text, taken by the next coder
    stopped = "stopped"
    reopened = "reopened"
    plan_approved = "plan_approved"
    ci_repair = "ci_repair"
    gate_kept = "gate_kept"
    gate_released = "gate_released"
    config_error = "config_error"
    model_call = "model_call"
    cost_unknown = "cost_unknown"
    model_wait = "model_wait"
    model_resumed = "model_resumed"
    model_recovered = "model_recovered"
    published = "published"
    note = "note"  # a fact the evidence must say (e.g. the model's answers were recorded)


def github_event_kind(command_kind: str) -> str:
    """The event kind recording a GitHub event about a run's PR (`github.<command kind>`)."""
    return f"github.{command_kind}"
