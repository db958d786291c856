"""Model outages never lose a run: it waits (`waiting_for_model`) and resumes by itself.

When the model endpoint stays rate-limited, down or unreachable after the client's bounded
retries (`ModelUnavailable`), the step's result is `await_model`: the run keeps its phase and
every stored artifact, and a `model_wait` event records the outage (when it started, which wait
this is, why, and when the run resumes: the endpoint's `Retry-After`, else a doubling backoff).
A delayed queue task (`resume_run`) moves it back to `queued` at that time; a restarted worker
schedules it again from the store (`Runtime.recover`). An outage longer than
`DRAFTSMITH_MODEL_WAIT_LIMIT_S` ends the run `needs_human_review` with the reason. Time spent
waiting is recorded (`model_resumed` events) and does not count against the wall-time budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.run.context import StepResult
from bot.run.lifecycle import Lifecycle
from bot.run.ports import RunStore
from bot.run.states import Status
from bot.run.transitions import Move
from bot.shared.config import Settings
from bot.shared.errors import ModelUnavailable
from bot.store.tables import Run, as_aware, utcnow
from bot.store.vocabulary import EventKind

WAIT_EVENT = EventKind.model_wait
RESUMED_EVENT = EventKind.model_resumed
RECOVERED_EVENT = EventKind.model_recovered
_EARLY_TOLERANCE = timedelta(milliseconds=50)


@dataclass(frozen=True)
class Wait:
    """The current wait of a run on the model endpoint."""

    number: int
    since: datetime
    began: datetime
    resume_at: datetime
    cause: str


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def current_wait(store: RunStore, run_id: int) -> Wait | None:
    """The wait of the ongoing outage, or None when the run is not in one."""
    latest = None
    for event in store.events(run_id):
        if event.kind in (WAIT_EVENT, RECOVERED_EVENT):
            latest = event
    if latest is None or latest.kind != WAIT_EVENT:
        return None
    data = latest.data or {}
    return Wait(
        number=int(data["number"]),
        since=datetime.fromisoformat(str(data["since"])),
        began=as_aware(latest.at) or utcnow(),
        resume_at=datetime.fromisoformat(str(data["resume_at"])),
        cause=str(data.get("cause", "")),
    )


def plan_wait(
    store: RunStore, run: Run, exc: ModelUnavailable, settings: Settings, now: datetime
) -> StepResult:
    """The step result of an outage: wait until a resume time, or give up past the limit."""
    previous = current_wait(store, run.id)
    number = previous.number + 1 if previous is not None else 1
    since = previous.since if previous is not None else now
    waited = (now - since).total_seconds()
    limit = settings.model_wait_limit_s
    if waited >= limit:
        reason = (
            f"the model endpoint has been unavailable for {_duration(waited)} (limit "
            f"{_duration(limit)}, DRAFTSMITH_MODEL_WAIT_LIMIT_S): {exc.cause}; the work so far "
            "is kept, `/draftsmith retry` resumes it"
        )
        return StepResult(Move.give_up, reason, "model unavailable")
    backoff = settings.model_wait_backoff_s * 2 ** (number - 1)
    delay = exc.retry_after_s if exc.retry_after_s is not None else backoff
    delay = min(delay, max(1.0, limit - waited))
    resume_at = now + timedelta(seconds=delay)
    reason = (
        f"waiting for the model endpoint ({exc.cause}); resumes by itself at "
        f"{resume_at:%Y-%m-%d %H:%M:%S} UTC (wait {number} of this outage; after "
        f"{_duration(limit)} of waiting a person takes over)"
    )
    store.add_event(
        run.id,
        WAIT_EVENT,
        reason,
        {
            "number": number,
            "since": since.isoformat(),
            "resume_at": resume_at.isoformat(),
            "cause": exc.cause,
            "retry_after_s": exc.retry_after_s,
        },
    )
    return StepResult(Move.await_model, reason, "model unavailable")


def end_outage(store: RunStore, run_id: int) -> None:
    """A step got past the model after waiting: the outage is over (the next one starts anew)."""
    if current_wait(store, run_id) is not None:
        store.add_event(run_id, RECOVERED_EVENT, "the model endpoint answers again")


def waited_s(store: RunStore, run_id: int, since: datetime | None = None) -> float:
    """Seconds the run spent waiting on the model endpoint (since `since`): not wall time."""
    total = 0.0
    for event in store.events(run_id, RESUMED_EVENT):
        at = as_aware(event.at)
        if since is None or (at is not None and at >= since):
            total += float((event.data or {}).get("waited_s", 0.0))
    return total


def resume(lifecycle: Lifecycle, run_id: int, number: int, now: datetime) -> Run | Wait | None:
    """The resume task: back to `queued` when wait `number` is due.

    Returns the moved run; the `Wait` when it fired early (schedule it again); None when there
    is nothing to do (the run was stopped, retried or already resumed: a duplicate task).
    """
    store = lifecycle.store
    run = store.get_run(run_id)
    wait = current_wait(store, run_id)
    if run.status != Status.waiting_for_model or wait is None or wait.number != number:
        return None
    if now + _EARLY_TOLERANCE < wait.resume_at:
        return wait
    waited = (now - wait.began).total_seconds()
    reason = f"resumed after waiting {_duration(waited)} for the model endpoint"
    moved = lifecycle.request(run_id, Move.resume, reason=reason)
    if moved is not None:
        store.add_event(run_id, RESUMED_EVENT, reason, {"number": number, "waited_s": waited})
    return moved


def waiting_runs(store: RunStore) -> list[tuple[Run, Wait]]:
    """Runs waiting on the model endpoint with their waits (a restarted worker reschedules)."""
    found: list[tuple[Run, Wait]] = []
    for run in store.list_runs(status=Status.waiting_for_model, limit=10_000):
        wait = current_wait(store, run.id)
        if wait is not None:
            found.append((run, wait))
    return found


def seconds_until(moment: datetime, now: datetime | None = None) -> float:
    """Seconds from `now` until `moment` (0 when it has passed)."""
    return max(0.0, (moment - (now or utcnow())).total_seconds())
