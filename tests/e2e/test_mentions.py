"""`@draftsmith <what to do>` in a comment: through the webhook server, the worker, a scripted
model, the bwrap sandbox, a real git remote, and GitHub's API at the HTTP boundary."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bot.policy.decide import load_default_policy
from bot.run.states import Status
from bot.shared.config import Settings
from bot.steering.replies import NOT_A_WRITER
from tests.helpers.draftsmith import draftsmith
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.payloads import load_payload
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import with_revisions

ISSUE_BODY = "The calculator cannot subtract."


def mention(
    body: str, login: str, remote: str, *, number: int = 8, pull_request: bool = False
) -> dict[str, Any]:
    """GitHub's issue_comment.created payload for a comment by `login`."""
    issue: dict[str, Any] = {"number": number, "title": "Subtract", "body": ISSUE_BODY}
    if pull_request:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/octo/widgets/pulls/{number}"}
    return load_payload(
        "issue_comment.created",
        installation={"id": 4242},
        repository={"full_name": "octo/widgets", "clone_url": remote, "default_branch": "main"},
        issue=issue,
        comment={"body": body, "id": 700 + number},
        sender={"login": login, "id": 9, "type": "User"},
    )


def test_a_writers_mention_starts_a_run_and_on_its_pr_revises_it(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"carol": "write", "mallory": "read"})
    model = ScriptedModel(with_revisions(1))
    with draftsmith(settings, model, monkeypatch, worker=True) as h:
        store = h.runtime.store
        # A reader's mention starts nothing and gets one polite reply.
        assert h.deliver("issue_comment", mention("@draftsmith fix it", "mallory", remote)) == 202
        h.handled()
        assert store.list_runs() == []
        assert fake_github.comment_bodies(8) == [NOT_A_WRITER.format(login="mallory")]

        # A writer's mention on the (unlabelled) issue starts a run: the issue plus the comment.
        delivery = str(uuid.uuid4())
        asked = "@draftsmith please add subtract(a, b) to calc"
        assert h.deliver("issue_comment", mention(asked, "carol", remote), delivery) == 202
        h.settle()
        [run] = store.list_runs()
        assert run.issue_number == 8 and run.requested_by == "carol", run.status_reason
        assert run.status == Status.approved, run.status_reason
        assert ISSUE_BODY in run.request and "please add subtract(a, b) to calc" in run.request
        assert "@draftsmith" not in run.request.split("comment:")[-1]
        planner_prompt = json.dumps(model.bodies[0]["messages"])
        assert ISSUE_BODY in planner_prompt
        assert "please add subtract(a, b) to calc" in planner_prompt
        assert (708, "eyes") in fake_github.reactions
        assert len(fake_github.pulls) == 1

        # GitHub redelivering the same delivery starts nothing.
        assert h.deliver("issue_comment", mention(asked, "carol", remote), delivery) == 200
        assert len(store.list_runs()) == 1 and len(fake_github.pulls) == 1

        # A writer's mention on Draftsmith's PR is a revision of the same run.
        pr_number = next(iter(fake_github.pulls))
        steer = mention(
            "@Draftsmith add a comment", "carol", remote, number=pr_number, pull_request=True
        )
        assert h.deliver("issue_comment", steer) == 202
        h.settle()
        revised = store.get_run(run.id)
        assert revised.status == Status.approved and revised.revision == run.revision + 1
        assert len(store.list_runs()) == 1 and len(fake_github.pulls) == 1
        assert "add a comment" in json.dumps(model.bodies[-3]["messages"])
    assert fake_github.unexpected == []


def test_mentions_past_the_hourly_limit_get_one_reply_and_start_nothing(
    settings: Settings, fake_github: FakeGitHub, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.permissions.update({"mallory": "read"})
    limit = load_default_policy().max_commands_per_hour_per_sender
    with draftsmith(settings, ScriptedModel({}), monkeypatch, worker=False) as h:
        deliveries = [str(uuid.uuid4()) for _ in range(limit + 3)]
        for i, delivery in enumerate(deliveries):
            body = mention(f"@draftsmith attempt {i}", "mallory", remote)
            assert h.deliver("issue_comment", body, delivery) == 202
        for delivery in deliveries:  # what the worker does with each stored delivery
            h.runtime.handle_delivery(delivery)
        assert h.runtime.store.list_runs() == []
    bodies = fake_github.comment_bodies(8)
    assert len([b for b in bodies if "commands an hour from one person" in b]) == 1
    assert len([b for b in bodies if "only people with write access" in b]) == 1
    assert len(bodies) == 2  # one refusal an hour for a non-writer, one rate-limit reply
