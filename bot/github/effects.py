"""The run core's GitHub side effects (`bot.run.ports.GitHubEffects`) through one installation.

`InstallationEffects` wraps an `InstallationClient` scoped to the run's repository: git's
credentials for its clone URL, the issue comments the run posts, write-access checks of the
people who steered it, and publishing (`bot.github.publish`). The composition root
(`bot/runtime/__init__.py`) builds one per run; the run core sees only the port.
"""

from __future__ import annotations

from bot.github.client import InstallationClient, git_credentials
from bot.github.objects import Publication, Published
from bot.github.publish import publish
from bot.repo.workspace import Workspace


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

    def publish(self, workspace: Workspace, publication: Publication) -> Published:
        """Push the run's branch, open (or update) its draft PR, request owners, set the check
        run (`bot.github.publish.publish`)."""
        return publish(self.client, workspace, publication)
