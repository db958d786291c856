"""Git Data API calls of the gateway: refs, commits, trees and blobs, read tolerantly.

Commits an App installation creates through these calls are signed by GitHub ("Verified").
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.github.answers import Answer, read
from bot.github.models import RepoLike, repo_parts
from bot.github.transport import API_VERSION, GitHubClient
from bot.shared.errors import GitHubError

MAX_TEXT_BLOB = 1_000_000
"""Larger blobs (and any that is not UTF-8) are sent base64-encoded."""


class Sha(Answer):
    """An object named by its sha."""

    sha: str


class Verification(Answer):
    """GitHub's verdict on a commit's signature."""

    verified: bool = False
    reason: str | None = None


class GitCommit(Answer):
    """A commit as the Git Data API describes it (the fields Draftsmith reads)."""

    sha: str
    tree: Sha
    parents: list[Sha] = []
    verification: Verification | None = None


class RefObject(Answer):
    """What a ref points at."""

    sha: str
    type: str = "commit"


class GitRef(Answer):
    """A reference (`refs/heads/...`)."""

    ref: str
    object: RefObject


class TreeEntry(BaseModel):
    """One entry of a tree to create: a path with a mode and a blob (`sha` None deletes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    mode: str
    type: str
    sha: str | None


class GitData:
    """The Git Data API, made as one installation (`client.git`)."""

    def __init__(self, github: GitHubClient) -> None:
        self._rest = github.rest(API_VERSION)

    def branch_head(self, repo: RepoLike, branch: str) -> str | None:
        """The commit `refs/heads/<branch>` points at, or None when the branch does not exist."""
        owner, name = repo_parts(repo)
        try:
            response = self._rest.git.get_ref(owner, name, f"heads/{branch}")
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return read(GitRef, response, f"GET git/ref/heads/{branch}").object.sha

    def commit(self, repo: RepoLike, sha: str) -> GitCommit:
        """A commit by sha (its tree, parents and verification)."""
        owner, name = repo_parts(repo)
        response = self._rest.git.get_commit(owner, name, sha)
        return read(GitCommit, response, f"GET git/commits/{sha[:12]}")

    def create_blob(self, repo: RepoLike, data: bytes) -> str:
        """Store `data` as a blob; UTF-8 text under 1 MB as text, anything else base64."""
        owner, name = repo_parts(repo)
        text: str | None = None
        if len(data) <= MAX_TEXT_BLOB:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is not None:
            response = self._rest.git.create_blob(owner, name, content=text, encoding="utf-8")
        else:
            encoded = base64.b64encode(data).decode()
            response = self._rest.git.create_blob(owner, name, content=encoded, encoding="base64")
        return read(Sha, response, "POST git/blobs").sha

    def create_tree(self, repo: RepoLike, base_tree: str, entries: list[TreeEntry]) -> str:
        """A tree: `base_tree` with `entries` added, replaced or (sha None) deleted."""
        owner, name = repo_parts(repo)
        tree: list[Any] = [entry.model_dump() for entry in entries]
        response = self._rest.git.create_tree(owner, name, tree=tree, base_tree=base_tree)
        return read(Sha, response, "POST git/trees").sha

    def create_commit(
        self, repo: RepoLike, *, message: str, tree: str, parents: list[str]
    ) -> GitCommit:
        """A commit of `tree` on `parents`, authored and committed by the App (so signed)."""
        owner, name = repo_parts(repo)
        response = self._rest.git.create_commit(
            owner, name, message=message, tree=tree, parents=parents
        )
        return read(GitCommit, response, "POST git/commits")

    def create_branch(self, repo: RepoLike, branch: str, sha: str) -> None:
        """Create `refs/heads/<branch>` at `sha` (GitHub answers 422 when it exists)."""
        owner, name = repo_parts(repo)
        self._rest.git.create_ref(owner, name, ref=f"refs/heads/{branch}", sha=sha)

    def move_branch(self, repo: RepoLike, branch: str, sha: str, *, force: bool) -> None:
        """Point `refs/heads/<branch>` at `sha`; without `force` only as a fast-forward."""
        owner, name = repo_parts(repo)
        self._rest.git.update_ref(owner, name, f"heads/{branch}", sha=sha, force=force)
