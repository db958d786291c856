"""The run core's GitHub side effects (`bot.run.ports.GitHubEffects`) through one installation.

`InstallationEffects` wraps an `InstallationClient` scoped to the run's repository: git's
credentials for its clone URL, the issue comments the run posts, write-access checks of the
people who steered it, and publishing (`bot.github.publish`). The composition root
(`bot/runtime/__init__.py`) builds one per run; the run core sees only the port.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.github.client import InstallationClient, git_credentials
from bot.github.objects import Published
from bot.github.publish import publish
from bot.policy.decide import Decision
from bot.repo.workspace import Workspace
from bot.shared.contracts import PullRequestDraft, ReviewResult


class InstallationEffects:
    """A run's effects on GitHub, made through one installation's client."""

    def __init__(self, client: InstallationClient) -> None:
        self.client = client

    def git_credentials(self, clone_url: str) -> dict[str, str]:
        """git's environment sending the installation token to `clone_url`'s host only."""
        return git_credentials(clone_url, self.client.token())

    def upsert_comment(self, repo: str, issue_number: int, marker: str, body: str) -> None:
        """Update the issue comment carrying `marker`, or create it."""
        self.client.upsert_comment(repo, issue_number, marker, body)

    def has_write_access(self, repo: str, login: str) -> bool:
        """Whether `login` may write to `repo` (admin, maintainer or writer)."""
        return self.client.has_write_access(repo, login)

    def publish(
        self,
        workspace: Workspace,
        *,
        repo: str,
        clone_url: str,
        draft: PullRequestDraft,
        issue_number: int,
        base_branch: str,
        existing_pr: int | None,
        decision: Decision,
        review: ReviewResult | None,
        head_sha: str | None = None,
        changed_paths: Sequence[str] | None = None,
        author: str | None = None,
        bot_login: str | None = None,
        run_id: int | None = None,
        incomplete: str | None = None,
        base_sha: str | None = None,
    ) -> Published:
        """Push the run's branch, open (or update) its draft PR, request owners, set the check
        run (`bot.github.publish.publish`)."""
        return publish(
            self.client,
            workspace,
            repo=repo,
            clone_url=clone_url,
            draft=draft,
            issue_number=issue_number,
            base_branch=base_branch,
            existing_pr=existing_pr,
            decision=decision,
            review=review,
            head_sha=head_sha,
            changed_paths=changed_paths,
            author=author,
            bot_login=bot_login,
            run_id=run_id,
            incomplete=incomplete,
            base_sha=base_sha,
        )
