"""How the gateway names repositories, and the few judgements it makes on githubkit's models.

Response objects are read into `bot.github.objects` (only the fields Draftsmith uses).
"""

from __future__ import annotations

from typing import Protocol

from bot.github.objects import CheckRun, HookDelivery, Permission
from bot.shared.errors import GitHubError

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
FAILING_CONCLUSIONS = frozenset({"failure", "timed_out", "action_required", "startup_failure"})


class NamedRepo(Protocol):
    """Anything naming a repository by `full_name` (`owner/name`), e.g. a command's repo."""

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        ...


RepoLike = str | NamedRepo
"""How the gateway's calls accept a repository: `"owner/name"` or anything with `full_name`."""


def repo_parts(repo: RepoLike) -> tuple[str, str]:
    """(owner, name) of `owner/name` or of anything with a `full_name`; GitHubError otherwise."""
    full_name = repo if isinstance(repo, str) else repo.full_name
    owner, _, name = full_name.partition("/")
    if not owner or not name or "/" in name:
        raise GitHubError(f"not a repository name: {full_name!r}", "write it as owner/name")
    return owner, name


def can_write(permission: Permission) -> bool:
    """True for admin, maintain and write (the fine-grained `role_name` counts too)."""
    return permission.permission in WRITE_ROLES or permission.role_name in WRITE_ROLES


def can_maintain(permission: Permission) -> bool:
    """True for the admin and maintain roles."""
    return permission.permission == "admin" or permission.role_name in ("admin", "maintain")


def check_failed(run: CheckRun) -> bool:
    """True when the check run completed with a failing conclusion."""
    return run.status == "completed" and (run.conclusion or "") in FAILING_CONCLUSIONS


def delivery_ok(delivery: HookDelivery) -> bool:
    """True when the receiver answered 2xx/3xx and GitHub recorded status OK."""
    return delivery.status_code < 400 and delivery.status == "OK"
