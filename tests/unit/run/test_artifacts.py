"""The artifact registry: typed round trips under the names stored before it existed."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.run import artifacts
from bot.run.artifacts import KINDS, Artifacts
from bot.run.steps import STEPS
from bot.shared.contracts import ReviewResult, ReviewStatus
from bot.store.runs import Store


def test_per_revision_kinds_keep_their_stored_names() -> None:
    assert artifacts.DIFF.key(2) == "diff.r2"
    assert artifacts.TEST_COMMANDS.key(0) == "commands.test.r0"
    assert artifacts.PLAN.key() == "plan"
    with pytest.raises(ValueError, match="per revision"):
        artifacts.REVIEW.key()


def test_every_step_reads_and_writes_registered_kinds() -> None:
    for step in STEPS.values():
        for kind in (*step.reads, *step.writes):
            assert KINDS[kind.name] is kind


def test_a_typed_artifact_round_trips_and_is_stored_as_json(sqlite_store: Store) -> None:
    run, _ = sqlite_store.create_run(
        repo="o/r", issue_number=1, clone_url="file:///x", title="t", request="r"
    )
    stored = Artifacts(sqlite_store, run.id)
    review = ReviewResult(status=ReviewStatus.approved, score=0.9)
    stored.save(artifacts.REVIEW, review, 1)
    assert stored.load(artifacts.REVIEW, 1) == review
    assert stored.load(artifacts.REVIEW, 0) is None
    raw = sqlite_store.get_artifact(run.id, "review.r1")
    assert raw is not None and raw.media_type == "application/json"
    assert json.loads(raw.content)["status"] == "approved"


def test_a_corrupt_artifact_is_refused_not_guessed(sqlite_store: Store) -> None:
    run, _ = sqlite_store.create_run(
        repo="o/r", issue_number=1, clone_url="file:///x", title="t", request="r"
    )
    sqlite_store.put_artifact(run.id, "review.r0", {"status": "maybe"})
    with pytest.raises(ValidationError):
        Artifacts(sqlite_store, run.id).load(artifacts.REVIEW, 0)


def test_a_snapshot_reads_what_the_queries_read(sqlite_store: Store) -> None:
    run, _ = sqlite_store.create_run(
        repo="o/r", issue_number=1, clone_url="file:///x", title="t", request="r"
    )
    stored = Artifacts(sqlite_store, run.id)
    stored.save(artifacts.REVIEW, ReviewResult(status=ReviewStatus.approved, score=0.5), 1)
    stored.save(artifacts.REVIEW, ReviewResult(status=ReviewStatus.approved, score=0.9), 1)
    stored.save(artifacts.DIFF, "diff --git a/x b/x\n", 1)
    stored.save(artifacts.FEEDBACK, "first", 1)
    stored.save(artifacts.FEEDBACK, "second", 1)
    snapshot = stored.snapshot()
    for kind in (artifacts.REVIEW, artifacts.DIFF, artifacts.CHANGE):
        assert snapshot.load(kind, 1) == stored.load(kind, 1)  # the newest, or None
    newest = snapshot.load(artifacts.REVIEW, 1)
    assert newest is not None and newest.score == 0.9
    assert snapshot.text(artifacts.DIFF, 2) == stored.text(artifacts.DIFF, 2) == ""
    assert list(snapshot.all(artifacts.FEEDBACK, 1)) == ["first", "second"]
    assert list(snapshot.all(artifacts.FEEDBACK, 1)) == list(stored.all(artifacts.FEEDBACK, 1))
