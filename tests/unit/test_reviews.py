"""A writer's review is one revision with its comments; side discussion is not an instruction."""

from __future__ import annotations

import pytest

from bot.github.pulls import ReviewNote
from bot.run.intents import Feedback
from bot.steering.commands import Actor, RepoRef, ReviewSubmitted
from bot.steering.reviews import review_feedback

APP = "draftsmith"


def submitted(state: str, body: str = "", mentions_app: bool = False) -> ReviewSubmitted:
    return ReviewSubmitted(
        repo=RepoRef(full_name="octo/widgets", installation_id=1, clone_url="x"),
        pr_number=5, review_id=88, state=state, body=body, head_sha="h", author_login="bot",
        sender=Actor(login="carol", id=3), mentions_app=mentions_app,
    )  # fmt: skip


def note(body: str, line: int | None = 3, reply_to: int | None = None) -> ReviewNote:
    return ReviewNote("calc.py", line, body, reply_to)


def test_changes_requested_brings_every_comment_in_one_feedback() -> None:
    feedback = review_feedback(
        submitted("changes_requested", "see below"), [note("rename x"), note("add a test", 9)], APP
    )
    assert isinstance(feedback, Feedback)
    assert "rename x" in feedback.text and "calc.py:9: add a test" in feedback.text
    assert feedback.details == {"comments": [{"file": "calc.py", "line": 3},
                                             {"file": "calc.py", "line": 9}]}  # fmt: skip


@pytest.mark.parametrize(
    ("review", "notes", "acts"),
    [
        (submitted("commented"), [note("looks odd")], False),
        (submitted("commented", "@draftsmith fix these", mentions_app=True), [note("odd")], True),
        (submitted("commented"), [note("@draftsmith use a set here")], True),
        (submitted("commented"), [note("`@draftsmith` is quoted code")], False),
        (submitted("commented"), [note("I agree", reply_to=1)], False),
        (submitted("commented"), [note("@draftsmith do it as she says", reply_to=1)], True),
        (submitted("changes_requested"), [], False),
    ],
    ids=[
        "comment-not-addressed",
        "body-mentions",
        "comment-mentions",
        "mention-in-code",
        "reply-between-people",
        "reply-to-the-app",
        "empty-changes-requested",
    ],  # fmt: skip
)
def test_a_review_acts_only_when_it_asks_something_of_draftsmith(
    review: ReviewSubmitted, notes: list[ReviewNote], acts: bool
) -> None:
    assert isinstance(review_feedback(review, notes, APP), Feedback) is acts


def test_a_reply_between_people_is_left_out_of_a_review_that_acts() -> None:
    notes = [note("rename x"), note("I prefer y", reply_to=1)]
    feedback = review_feedback(submitted("changes_requested"), notes, APP)
    assert isinstance(feedback, Feedback) and "I prefer y" not in feedback.text
