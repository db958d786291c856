"""Small typed views of the GitHub REST responses the gateway reads (only the fields we use)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.errors import GitHubError

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
FAILING_CONCLUSIONS = frozenset({"failure", "timed_out", "action_required", "startup_failure"})


class GitHubModel(BaseModel):
    """Base of the response views: unknown fields are ignored, values are immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class NamedRepo(Protocol):
    """Anything naming a repository by `full_name` (`owner/name`), e.g. a command's repo."""

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        ...


@dataclass(frozen=True)
class RepoRef:
    """A repository named `owner/name`."""

    owner: str
    name: str

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


RepoLike = str | NamedRepo
"""How the gateway's calls accept a repository: `"owner/name"` or anything with `full_name`."""


class InstallationToken(GitHubModel):
    """An installation access token and what it may do."""

    token: str
    expires_at: datetime
    permissions: dict[str, str] = {}
    repository_selection: str | None = None

    def __repr__(self) -> str:
        return f"InstallationToken(expires_at={self.expires_at.isoformat()}, token=***)"

    __str__ = __repr__


class UserPermission(GitHubModel):
    """A user's permission on a repository (`role_name` is the fine-grained role)."""

    permission: str
    role_name: str | None = None

    @property
    def can_write(self) -> bool:
        """True for admin, maintain and write."""
        return self.permission in WRITE_ROLES or (self.role_name or "") in WRITE_ROLES


class Repository(GitHubModel):
    """The repository facts a run needs."""

    id: int
    node_id: str
    full_name: str
    default_branch: str
    clone_url: str
    private: bool = False


class IssueComment(GitHubModel):
    """A comment on an issue or pull request."""

    id: int
    body: str | None = None
    html_url: str = ""
    user_login: str | None = None


class PullRequest(GitHubModel):
    """A pull request (only the fields Draftsmith acts on)."""

    id: int
    node_id: str
    number: int
    html_url: str
    state: str
    draft: bool = False
    title: str
    body: str | None = None
    head_ref: str
    base_ref: str


class Annotation(GitHubModel):
    """One check-run annotation (a line in a file with a message)."""

    path: str
    start_line: int
    end_line: int
    annotation_level: Literal["notice", "warning", "failure"]
    message: str
    title: str | None = None


class CheckOutput(GitHubModel):
    """The output section of a check run."""

    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations_count: int = 0


class CheckRun(GitHubModel):
    """A check run; `annotations` are filled only when fetched for a failing run."""

    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    details_url: str | None = None
    output: CheckOutput = CheckOutput()
    annotations: tuple[Annotation, ...] = ()

    @property
    def failed(self) -> bool:
        """True when the run completed with a failing conclusion."""
        return self.status == "completed" and (self.conclusion or "") in FAILING_CONCLUSIONS


class WebhookDelivery(GitHubModel):
    """One delivery attempt of the App's webhook."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None = None
    installation_id: int | None = None
    repository_id: int | None = None

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx/3xx and GitHub recorded status OK."""
        return self.status_code < 400 and self.status == "OK"


@dataclass
class DeliveryPage:
    """One page of webhook deliveries and the cursor of the next page, if any."""

    deliveries: list[WebhookDelivery] = field(default_factory=list)
    next_cursor: str | None = None


def parse_repo(repo: RepoLike) -> RepoRef:
    """`owner/name` (or anything with a `full_name`) as a RepoRef; raises GitHubError otherwise."""
    if isinstance(repo, RepoRef):
        return repo
    full_name = repo if isinstance(repo, str) else repo.full_name
    owner, _, name = full_name.partition("/")
    if not owner or not name or "/" in name:
        raise GitHubError(f"not a repository name: {full_name!r}", "write it as owner/name")
    return RepoRef(owner, name)
