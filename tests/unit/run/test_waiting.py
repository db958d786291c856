"""Waiting on the model endpoint and concurrency caps, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import openai

from bot.model.errors import outage_cause, retry_after
from bot.observe.progress import render
from bot.policy.decide import load_default_policy
from bot.run import budgets, waiting
from bot.run.capacity import Room, room_for, start_when_room
from bot.run.lifecycle import Lifecycle
from bot.run.states import Status
from bot.run.transitions import Move
from bot.shared.config import Settings
from bot.shared.errors import ModelUnavailable
from bot.store.runs import Store
from bot.store.tables import Run, as_aware, utcnow

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def running_run(store: Store, issue: int = 7, installation: int | None = 1) -> Run:
    run, _ = store.create_run(
        repo="octo/widgets",
        issue_number=issue,
        clone_url="file:///x",
        title="t",
        request="r",
        installation_id=installation,
    )
    started = Lifecycle(store).finish(run, Move.start)
    assert started is not None
    return started


def outage(retry_after: float | None = None, cause: str = "server error (503)") -> ModelUnavailable:
    return ModelUnavailable("down", cause=cause, retry_after_s=retry_after)


def settings(**values: object) -> Settings:
    return Settings(model_wait_backoff_s=30, model_wait_limit_s=3600, **values)  # type: ignore[arg-type]


def wait_once(store: Store, run: Run, exc: ModelUnavailable, now: datetime) -> Run:
    result = waiting.plan_wait(store, run, exc, settings(), now)
    assert result.move is Move.await_model
    moved = Lifecycle(store).finish(run, result.move, reason=result.reason)
    assert moved is not None and moved.status == Status.waiting_for_model
    return moved


def test_a_wait_honours_retry_after_and_otherwise_doubles_its_backoff(
    sqlite_store: Store,
) -> None:
    run = running_run(sqlite_store)
    waiting_run = wait_once(sqlite_store, run, outage(7, "rate limited (429)"), NOW)
    first = waiting.current_wait(sqlite_store, run.id)
    assert first is not None and first.number == 1 and first.resume_at == NOW + timedelta(seconds=7)
    assert waiting_run.status_reason is not None
    assert "rate limited (429)" in waiting_run.status_reason
    assert "resumes by itself at 2026-11-29 08:00:07 UTC" in waiting_run.status_reason

    resumed = waiting.resume(Lifecycle(sqlite_store), run.id, 1, NOW + timedelta(seconds=8))
    assert isinstance(resumed, Run) and resumed.status == Status.queued
    again = Lifecycle(sqlite_store).finish(resumed, Move.start)
    assert again is not None
    wait_once(sqlite_store, again, outage(), NOW + timedelta(seconds=10))
    second = waiting.current_wait(sqlite_store, run.id)
    assert second is not None and second.number == 2 and second.since == NOW
    assert second.resume_at == NOW + timedelta(seconds=10 + 60)  # 30s doubled, no Retry-After


def test_an_outage_longer_than_the_limit_gives_the_run_to_a_person(sqlite_store: Store) -> None:
    run = running_run(sqlite_store)
    wait_once(sqlite_store, run, outage(), NOW)
    resumed = waiting.resume(Lifecycle(sqlite_store), run.id, 1, NOW + timedelta(seconds=31))
    assert isinstance(resumed, Run)
    started = Lifecycle(sqlite_store).finish(resumed, Move.start)
    assert started is not None
    result = waiting.plan_wait(
        sqlite_store, started, outage(), settings(), NOW + timedelta(hours=2)
    )
    assert result.move is Move.give_up and result.reason is not None
    assert "unavailable for 2h 00m (limit 1h 00m" in result.reason


def test_a_new_outage_after_a_recovery_starts_counting_again(sqlite_store: Store) -> None:
    run = running_run(sqlite_store)
    wait_once(sqlite_store, run, outage(), NOW)
    waiting.end_outage(sqlite_store, run.id)
    assert waiting.current_wait(sqlite_store, run.id) is None


def test_a_duplicate_stale_or_early_resume_does_nothing(sqlite_store: Store) -> None:
    run = running_run(sqlite_store)
    wait_once(sqlite_store, run, outage(5), NOW)
    lifecycle = Lifecycle(sqlite_store)
    early = waiting.resume(lifecycle, run.id, 1, NOW + timedelta(seconds=1))
    assert isinstance(early, waiting.Wait)  # the caller schedules it for its time again
    assert waiting.resume(lifecycle, run.id, 2, NOW + timedelta(seconds=6)) is None  # stale
    assert isinstance(waiting.resume(lifecycle, run.id, 1, NOW + timedelta(seconds=6)), Run)
    assert waiting.resume(lifecycle, run.id, 1, NOW + timedelta(seconds=7)) is None  # duplicate


def test_a_waiting_run_can_be_stopped_or_retried_by_a_person(sqlite_store: Store) -> None:
    lifecycle = Lifecycle(sqlite_store)
    run = wait_once(sqlite_store, running_run(sqlite_store), outage(), NOW)
    assert lifecycle.can(run, Move.stop) and lifecycle.can(run, Move.retry)
    assert not lifecycle.can(run, Move.advance)


def test_time_spent_waiting_does_not_count_as_wall_time(sqlite_store: Store) -> None:
    run = running_run(sqlite_store)
    limits = load_default_policy().budgets.model_copy(update={"max_wall_time_s": 60})
    created = as_aware(run.created_at)
    assert created is not None
    started = budgets.attempt_started(sqlite_store, run)
    assert started == created
    assert "wall-time budget" in (
        budgets.exceeded(run, limits, started - timedelta(seconds=100)) or ""
    )
    sqlite_store.add_event(run.id, waiting.RESUMED_EVENT, "resumed", {"number": 1, "waited_s": 90})
    shifted = budgets.attempt_started(sqlite_store, run)
    assert shifted == created + timedelta(seconds=90)  # the 90s of waiting are not wall time


def test_the_progress_comment_says_the_run_waits_and_when_it_resumes() -> None:
    body = render(
        run_id=3,
        phase="planning",
        status="waiting_for_model",
        reason="waiting for the model endpoint (rate limited (429)); resumes by itself at X",
    )
    assert "- [ ] Plan (waiting for the model endpoint)" in body
    assert "Paused, nothing is lost: waiting for the model endpoint" in body


def test_concurrency_caps_hold_runs_over_the_total_and_per_installation_caps(
    sqlite_store: Store,
) -> None:
    lifecycle = Lifecycle(sqlite_store)
    caps = Settings(max_concurrent_runs=3, max_concurrent_runs_per_installation=1)

    def queued(issue: int, installation: int) -> Run:
        run, _ = sqlite_store.create_run(
            repo="octo/widgets",
            issue_number=issue,
            clone_url="file:///x",
            title="t",
            request="r",
            installation_id=installation,
        )
        return run

    assert start_when_room(lifecycle, queued(1, 10), caps) is not None
    held = queued(2, 10)
    assert start_when_room(lifecycle, held, caps) is None  # installation 10 is full
    assert room_for(sqlite_store, held, caps) == Room(
        False,
        "1 runs of installation 10 are working (DRAFTSMITH_MAX_CONCURRENT_RUNS_PER_INSTALLATION=1)",
    )
    assert start_when_room(lifecycle, queued(3, 20), caps) is not None
    assert start_when_room(lifecycle, queued(4, 30), caps) is not None
    fifth = queued(5, 40)
    assert start_when_room(lifecycle, fifth, caps) is None  # three working in total
    assert room_for(sqlite_store, fifth, caps).detail == (
        "3 runs are working (DRAFTSMITH_MAX_CONCURRENT_RUNS=3)"
    )
    assert sqlite_store.working_runs(excluding=1, installation_id=10) == (2, 0)
    uncapped = Settings(max_concurrent_runs=0, max_concurrent_runs_per_installation=0)
    assert start_when_room(lifecycle, queued(6, 10), uncapped) is not None


def _status_error(status: int, headers: dict[str, str]) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers, request=request)
    kind = openai.RateLimitError if status == 429 else openai.InternalServerError
    return kind("x", response=response, body=None)


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert retry_after(_status_error(429, {"retry-after": "12"})) == 12.0
    later = utcnow() + timedelta(seconds=90)
    dated = _status_error(503, {"retry-after": later.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    assert 85 <= (retry_after(dated) or 0) <= 90
    assert retry_after(_status_error(503, {})) is None
    assert outage_cause(_status_error(429, {})) == "rate limited (429)"
    assert outage_cause(_status_error(503, {})) == "server error (503)"
