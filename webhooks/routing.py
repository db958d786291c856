"""(event, action, payload) -> a command for bot/, or the reason it is ignored.

Pure and fast: no I/O. Everything a handler needs is copied into a typed command here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.steering.commands import (
    Actor,
    CheckSuiteCompleted,
    Command,
    CommentCommand,
    InstallationChanged,
    Mention,
    RepoRef,
    ReviewComment,
    ReviewSubmitted,
    StartRun,
)
from bot.steering.verbs import parse_comment_command, parse_mention


@dataclass(frozen=True)
class Ignored:
    """A delivery Draftsmith does not act on, and why."""

    reason: str


@dataclass(frozen=True)
class Pong:
    """GitHub's ping: the hook is set up."""

    zen: str


Route = Command | Ignored | Pong


class MalformedPayload(ValueError):
    """The payload lacks a field GitHub always sends for this event."""


def _actor(payload: dict[str, Any]) -> Actor:
    sender = payload.get("sender") or {}
    return Actor(login=str(sender["login"]), id=int(sender["id"]), type=str(sender.get("type", "")))


def _repo(payload: dict[str, Any]) -> RepoRef:
    repo = payload["repository"]
    installation = payload.get("installation") or {}
    return RepoRef(
        full_name=str(repo["full_name"]),
        clone_url=str(repo["clone_url"]),
        default_branch=str(repo.get("default_branch") or "main"),
        installation_id=installation.get("id"),
    )


def _is_bot(payload: dict[str, Any], app_id: int | None) -> bool:
    """Judged by the sender's account type and the App's own id, never by a login's suffix."""
    if (payload.get("sender") or {}).get("type") == "Bot":
        return True
    for key in ("comment", "review", "issue"):
        via = (payload.get(key) or {}).get("performed_via_github_app") or {}
        if app_id is not None and via.get("id") == app_id:
            return True
    return False


def route(
    event: str,
    payload: dict[str, Any],
    *,
    app_id: int | None = None,
    mention_login: str | None = None,
) -> Route:
    """Decide what a delivery means; raises MalformedPayload when GitHub's fields are missing.

    `mention_login` is the App's login as people mention it (`@<slug>`); None turns the mention
    trigger off.
    """
    try:
        return _route(event, payload, app_id, mention_login)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise MalformedPayload(f"{event} payload is missing or has a bad field: {exc}") from exc


def _route(
    event: str, payload: dict[str, Any], app_id: int | None, mention_login: str | None
) -> Route:
    action = payload.get("action")
    if event == "ping":
        return Pong(zen=str(payload.get("zen", "")))
    if event in ("installation", "installation_repositories"):
        inst = payload["installation"]
        account = inst.get("account") or {}
        added = [r["full_name"] for r in payload.get("repositories_added") or []]
        if event == "installation" and action == "created":
            added = [r["full_name"] for r in payload.get("repositories") or []]
        return InstallationChanged(
            action=f"{event}.{action}",
            installation_id=int(inst["id"]),
            account_login=str(account.get("login", "")),
            account_type=str(account.get("type", "")),
            repos_added=added,
            repos_removed=[r["full_name"] for r in payload.get("repositories_removed") or []],
        )
    if _is_bot(payload, app_id) and event in (
        "issues",
        "issue_comment",
        "pull_request_review",
        "pull_request_review_comment",
    ):
        return Ignored(f"{event}.{action} by a bot ({payload['sender']['login']})")
    if event == "issues" and action == "labeled":
        issue = payload["issue"]
        return StartRun(
            repo=_repo(payload),
            issue_number=int(issue["number"]),
            title=str(issue.get("title") or ""),
            body=str(issue.get("body") or ""),
            label=str(payload["label"]["name"]),
            sender=_actor(payload),
        )
    if event == "issue_comment" and action == "created":
        body = str(payload["comment"].get("body") or "")
        parsed = parse_comment_command(body)
        issue = payload["issue"]
        mentioned = parse_mention(body, mention_login) if mention_login else None
        if parsed is None and mentioned is not None:
            return Mention(
                repo=_repo(payload),
                issue_number=int(issue["number"]),
                is_pull_request=bool(issue.get("pull_request")),
                comment_id=int(payload["comment"]["id"]),
                issue_title=str(issue.get("title") or ""),
                issue_body=str(issue.get("body") or ""),
                text=mentioned,
                sender=_actor(payload),
            )
        if parsed is None:
            return Ignored("comment without a /draftsmith command or a mention")
        verb, argument = parsed
        return CommentCommand(
            repo=_repo(payload),
            issue_number=int(issue["number"]),
            is_pull_request=bool(issue.get("pull_request")),
            comment_id=int(payload["comment"]["id"]),
            verb=verb,
            argument=argument,
            sender=_actor(payload),
        )
    if event == "pull_request_review" and action == "submitted":
        review = payload["review"]
        pr = payload["pull_request"]
        return ReviewSubmitted(
            repo=_repo(payload),
            pr_number=int(pr["number"]),
            review_id=int(review["id"]),
            state=str(review.get("state") or "").lower(),
            body=str(review.get("body") or ""),
            head_sha=(pr.get("head") or {}).get("sha"),
            author_login=(pr.get("user") or {}).get("login"),
            sender=_actor(payload),
            mentions_app=mention_login is not None
            and parse_mention(str(review.get("body") or ""), mention_login) is not None,
        )
    if event == "pull_request_review_comment" and action == "created":
        comment = payload["comment"]
        return ReviewComment(
            repo=_repo(payload),
            pr_number=int(payload["pull_request"]["number"]),
            comment_id=int(comment["id"]),
            path=str(comment["path"]),
            line=comment.get("line") or comment.get("original_line"),
            body=str(comment.get("body") or ""),
            sender=_actor(payload),
            review_id=comment.get("pull_request_review_id"),
            in_reply_to=comment.get("in_reply_to_id"),
        )
    if event == "check_suite" and action == "completed":
        suite = payload["check_suite"]
        return CheckSuiteCompleted(
            repo=_repo(payload),
            check_suite_id=int(suite["id"]),
            head_sha=str(suite["head_sha"]),
            head_branch=suite.get("head_branch"),
            conclusion=suite.get("conclusion"),
            pr_numbers=[int(p["number"]) for p in suite.get("pull_requests") or []],
            app_slug=(suite.get("app") or {}).get("slug"),
        )
    return Ignored(f"{event}.{action} is not handled" if action else f"{event} is not handled")
