"""Pull-request calls of the gateway: find, create draft, update, reviewers, labels, ready."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.errors import GitHubError
from bot.github.models import PullRequest, RepoLike, RepoRef

if TYPE_CHECKING:
    from bot.github.calls import RestClient

logger = logging.getLogger(__name__)

MARK_READY = """
mutation($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
}
"""


def _pull(item: Mapping[str, Any]) -> PullRequest:
    return PullRequest.model_validate(
        {**item, "head_ref": item["head"]["ref"], "base_ref": item["base"]["ref"]}
    )


def team_slug(team: str) -> str:
    """`@org/team`, `org/team` or `team` as the slug GitHub expects (`team`)."""
    return team.lstrip("@").rsplit("/", 1)[-1]


class PullRequests:
    """The pull-request calls, made as one installation (`client.pulls`)."""

    def __init__(self, client: RestClient) -> None:
        self._client = client

    def _repo(self, repo: RepoLike) -> RepoRef:
        from bot.github.models import parse_repo

        return parse_repo(repo)

    def find_open(self, repo: RepoLike, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` of this repository, or None."""
        ref = self._repo(repo)
        params = {"state": "open", "head": f"{ref.owner}:{branch}"}
        for item in self._client.paginate(f"/repos/{ref.full_name}/pulls", params):
            return _pull(item)
        return None

    def create_draft(
        self, repo: RepoLike, *, title: str, body: str, head: str, base: str
    ) -> PullRequest:
        """Open a draft pull request from `head` into `base`."""
        ref = self._repo(repo)
        payload = {"title": title, "body": body, "head": head, "base": base, "draft": True}
        pull = _pull(
            self._client.request("POST", f"/repos/{ref.full_name}/pulls", json=payload).json()
        )
        logger.info("opened draft PR %s#%d from %s", ref.full_name, pull.number, head)
        return pull

    def update(
        self,
        repo: RepoLike,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
    ) -> PullRequest:
        """Change a pull request's title and/or body."""
        ref = self._repo(repo)
        payload = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        if not payload:
            raise GitHubError("nothing to update on the pull request", "pass a title or a body")
        path = f"/repos/{ref.full_name}/pulls/{number}"
        return _pull(self._client.request("PATCH", path, json=payload).json())

    def request_reviewers(
        self,
        repo: RepoLike,
        number: int,
        users: Sequence[str] = (),
        teams: Sequence[str] = (),
    ) -> None:
        """Ask users (logins) and teams (`@org/team` or slug) to review."""
        if not users and not teams:
            return
        ref = self._repo(repo)
        payload = {
            "reviewers": [u.lstrip("@") for u in users],
            "team_reviewers": [team_slug(t) for t in teams],
        }
        path = f"/repos/{ref.full_name}/pulls/{number}/requested_reviewers"
        self._client.request("POST", path, json=payload)

    def add_labels(self, repo: RepoLike, number: int, labels: Sequence[str]) -> None:
        """Add labels to a pull request (or issue)."""
        if not labels:
            return
        ref = self._repo(repo)
        path = f"/repos/{ref.full_name}/issues/{number}/labels"
        self._client.request("POST", path, json={"labels": list(labels)})

    def remove_label(self, repo: RepoLike, number: int, label: str) -> None:
        """Remove a label; a label that is not there is not an error."""
        ref = self._repo(repo)
        path = f"/repos/{ref.full_name}/issues/{number}/labels/{quote(label, safe='')}"
        try:
            self._client.request("DELETE", path)
        except GitHubError as exc:
            if exc.status != 404:
                raise
            logger.info("label %r was not on %s#%d", label, ref.full_name, number)

    def mark_ready_for_review(self, node_id: str) -> None:
        """Turn a draft pull request (by its GraphQL node id) into one ready for review."""
        data = self._client.graphql(MARK_READY, {"id": node_id})
        pull = (data.get("markPullRequestReadyForReview") or {}).get("pullRequest") or {}
        if pull.get("isDraft") is not False:
            raise GitHubError(
                f"pull request {node_id} is still a draft after markPullRequestReadyForReview",
                "check the App has pull_requests: write on the repository",
            )
