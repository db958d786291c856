"""Pull-request calls of the gateway: find, get, create draft, update, reviewers, labels, ready."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.github.answers import read, read_list, read_pages
from bot.github.models import RepoLike, repo_parts
from bot.github.objects import PullRequest, Review, ReviewComment
from bot.github.transport import API_VERSION, GitHubClient
from bot.shared.errors import GitHubError

logger = logging.getLogger(__name__)

MARK_READY = """
mutation($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
}
"""


def team_slug(team: str) -> str:
    """`@org/team`, `org/team` or `team` as the slug GitHub expects (`team`)."""
    return team.lstrip("@").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ReviewNote:
    """One line comment of a review: where, what, and whether it answers another comment."""

    path: str
    line: int | None
    body: str
    in_reply_to: int | None


class PullRequests:
    """The pull-request calls, made as one installation (`client.pulls`)."""

    def __init__(self, github: GitHubClient) -> None:
        self._github = github
        self._rest = github.rest(API_VERSION)

    def find_open(self, repo: RepoLike, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` of this repository, or None."""
        owner, name = repo_parts(repo)
        listed = self._rest.pulls.list(owner, name, state="open", head=f"{owner}:{branch}")
        return next(iter(read_list(PullRequest, listed, f"GET pulls?head={branch}")), None)

    def get(self, repo: RepoLike, number: int) -> PullRequest | None:
        """A pull request by number, or None when GitHub answers 404."""
        owner, name = repo_parts(repo)
        try:
            response = self._rest.pulls.get(owner, name, number)
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return read(PullRequest, response, f"GET pulls/{number}")

    def approvers(self, repo: RepoLike, number: int, head_sha: str) -> list[str]:
        """The logins whose standing review of the pull request approves commit `head_sha`.

        A person's standing review is their latest one that is not a plain comment (as on
        GitHub: a comment does not withdraw an approval, a dismissal or a change request does).
        """
        owner, name = repo_parts(repo)
        what = f"GET pulls/{number}/reviews"
        reviews = read_pages(
            self._github,
            self._rest.pulls.list_reviews,
            Review,
            what,
            owner=owner,
            repo=name,
            pull_number=number,
        )
        standing: dict[str, tuple[str, str]] = {}
        for review in reviews:
            state = review.state.upper()
            if review.user is not None and state != "COMMENTED":
                standing[review.user.login.lower()] = (state, review.commit_id or "")
        return [
            login
            for login, (state, commit) in standing.items()
            if state == "APPROVED" and commit == head_sha
        ]

    def review_comments(self, repo: RepoLike, number: int, review_id: int) -> list[ReviewNote]:
        """The line comments of one submitted review, oldest first."""
        owner, name = repo_parts(repo)
        what = f"GET pulls/{number}/reviews/{review_id}/comments"
        comments = read_pages(
            self._github,
            self._rest.pulls.list_comments_for_review,
            ReviewComment,
            what,
            owner=owner,
            repo=name,
            pull_number=number,
            review_id=review_id,
        )
        return [
            ReviewNote(c.path, c.line or c.original_line, c.body, c.in_reply_to_id)
            for c in comments
        ]

    def create_draft(
        self, repo: RepoLike, *, title: str, body: str, head: str, base: str
    ) -> PullRequest:
        """Open a draft pull request from `head` into `base`."""
        owner, name = repo_parts(repo)
        response = self._rest.pulls.create(
            owner, name, title=title, body=body, head=head, base=base, draft=True
        )
        pull = read(PullRequest, response, "POST pulls")
        logger.info("opened draft PR %s/%s#%d from %s", owner, name, pull.number, head)
        return pull

    def update(
        self, repo: RepoLike, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        """Change a pull request's title and/or body."""
        owner, name = repo_parts(repo)
        if title is None and body is None:
            raise GitHubError("nothing to update on the pull request", "pass a title or a body")
        if title is not None and body is not None:
            response = self._rest.pulls.update(owner, name, number, title=title, body=body)
        elif title is not None:
            response = self._rest.pulls.update(owner, name, number, title=title)
        else:
            response = self._rest.pulls.update(owner, name, number, body=body)
        return read(PullRequest, response, f"PATCH pulls/{number}")

    def request_reviewers(
        self, repo: RepoLike, number: int, users: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> None:
        """Ask users (logins) and teams (`@org/team` or slug) to review."""
        if not users and not teams:
            return
        owner, name = repo_parts(repo)
        self._rest.pulls.request_reviewers(
            owner,
            name,
            number,
            reviewers=[u.lstrip("@") for u in users],
            team_reviewers=[team_slug(t) for t in teams],
        )

    def add_labels(self, repo: RepoLike, number: int, labels: Sequence[str]) -> None:
        """Add labels to a pull request (or issue)."""
        if not labels:
            return
        owner, name = repo_parts(repo)
        self._rest.issues.add_labels(owner, name, number, labels=list(labels))

    def remove_label(self, repo: RepoLike, number: int, label: str) -> None:
        """Remove a label; a label that is not there is not an error."""
        owner, name = repo_parts(repo)
        try:
            self._rest.issues.remove_label(owner, name, number, label)
        except GitHubError as exc:
            if exc.status != 404:
                raise
            logger.info("label %r was not on %s/%s#%d", label, owner, name, number)

    def mark_ready_for_review(self, node_id: str) -> None:
        """Turn a draft pull request (by its GraphQL node id) into one ready for review."""
        data = self._github.graphql_data(MARK_READY, {"id": node_id})
        pull = (data.get("markPullRequestReadyForReview") or {}).get("pullRequest") or {}
        if pull.get("isDraft") is not False:
            raise GitHubError(
                f"pull request {node_id} is still a draft after markPullRequestReadyForReview",
                "check the App has pull_requests: write on the repository",
            )
