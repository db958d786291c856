"""Reviews as a whole: a writer's submitted review becomes one revision with all its comments.

GitHub submits every line comment inside a review (a single comment too: a review of one), and
sends a `pull_request_review_comment` delivery for each comment besides the review's own. Acting
on each comment would start a revision with the first and queue the rest; so line comments wait,
and the review, when submitted, brings all of them (read back from GitHub) as one feedback.

- "Changes requested" from a writer: always a revision.
- "Commented": only when it addresses Draftsmith (`@<app>` in its text or in one of its comments);
  otherwise it is people talking to people.
- A reply in a thread (`in_reply_to_id`) counts only when it mentions the App.
"""

from __future__ import annotations

from bot.github.pulls import ReviewNote
from bot.run.intents import Feedback
from bot.steering.commands import ReviewSubmitted
from bot.steering.verbs import parse_mention


def review_feedback(
    command: ReviewSubmitted, notes: list[ReviewNote], app_login: str | None
) -> Feedback | str:
    """The one feedback a writer's review gives, or why it gives none."""

    def addressed(body: str) -> bool:
        return bool(app_login) and parse_mention(body, app_login or "") is not None

    login = command.sender.login
    taken = [n for n in notes if n.in_reply_to is None or addressed(n.body)]
    if command.state == "commented" and not (
        command.mentions_app or any(addressed(n.body) for n in taken)
    ):
        return "a commented review that does not address Draftsmith"
    if not taken and not command.body.strip():
        return "an empty review"
    how = "requested changes" if command.state == "changes_requested" else "commented"
    lines = [f"Review by @{login} {how}:", command.body.strip()]
    lines += [f"- Comment on {_where(n)}: {n.body.strip()}" for n in taken]
    details = {"comments": [{"file": n.path, "line": n.line} for n in taken]}
    reason = f"review by @{login} ({len(taken)} line comment(s))"
    return Feedback(login, "\n".join(x for x in lines if x), "review", reason, details)


def _where(note: ReviewNote) -> str:
    return f"{note.path}:{note.line}" if note.line else note.path
