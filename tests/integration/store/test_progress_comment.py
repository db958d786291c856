"""One progress comment per run, whoever posts it: workers racing the first post leave one.

Two threads, each with its own GitHub client, post the first progress of one run at once. The
fake GitHub holds both listings of the issue's comments until both have asked (or a second has
passed), so without a claim in the store both would find nothing and both would create.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx
import pytest

from bot.github.client import GitHubGateway
from bot.observe.progress import CREATING, marker, post_progress
from bot.store.runs import Store
from tests.helpers.fake_github import FakeGitHub

REPO = "octo/widgets"


class RacingGitHub(FakeGitHub):
    """A fake whose comment listings wait for each other (at most a second)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.listings = threading.Barrier(2, timeout=1)

    def _list_comments(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        with contextlib.suppress(threading.BrokenBarrierError):  # only one worker listed
            self.listings.wait()
        return super()._list_comments(request, body, number)


def new_run(store: Store) -> int:
    run, _ = store.create_run(
        repo=REPO, issue_number=7, clone_url="file:///nowhere", title="t", request="r",
        installation_id=4242,
    )  # fmt: skip
    return run.id


def test_two_workers_racing_the_first_progress_comment_leave_exactly_one(
    store: Store, private_key: str
) -> None:
    github = RacingGitHub(repo=REPO)
    run_id = new_run(store)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            gh = GitHubGateway(42, private_key).installation(4242)
            post_progress(store, gh, store.get_run(run_id))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with github.mock():
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    bodies = [c["body"] for c in github.comments.get(7, [])]
    assert len(bodies) == 1 and marker(run_id) in bodies[0]
    assert store.get_run(run_id).progress_comment_id == github.comments[7][0]["id"]


def test_a_creation_left_by_a_killed_worker_is_finished_once(
    store: Store, private_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.observe.progress.CREATION_WAIT_S", 0.3)
    github = FakeGitHub(repo=REPO)
    run_id = new_run(store)
    assert store.claim_progress_comment(run_id, CREATING)  # claimed, then the worker died
    with github.mock():
        gh = GitHubGateway(42, private_key).installation(4242)
        post_progress(store, gh, store.get_run(run_id))
        post_progress(store, gh, store.get_run(run_id))
    assert len(github.comments.get(7, [])) == 1
    assert store.get_run(run_id).progress_comment_id == github.comments[7][0]["id"]


def test_a_progress_comment_a_person_deleted_is_made_again_once(
    store: Store, private_key: str
) -> None:
    github = FakeGitHub(repo=REPO)
    run_id = new_run(store)
    with github.mock():
        gh = GitHubGateway(42, private_key).installation(4242)
        post_progress(store, gh, store.get_run(run_id))
        github.comments[7].clear()  # deleted on GitHub
        post_progress(store, gh, store.get_run(run_id))
        post_progress(store, gh, store.get_run(run_id))
    assert len(github.comments[7]) == 1
    assert store.get_run(run_id).progress_comment_id == github.comments[7][0]["id"]
