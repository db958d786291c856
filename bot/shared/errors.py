"""The one exception hierarchy of Draftsmith: every error a user can hit says what to do."""

from __future__ import annotations


class DraftsmithError(Exception):
    """Base of every error Draftsmith raises on purpose; `hint` tells the reader what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(DraftsmithError):
    """Settings or a repository's configuration are missing or invalid."""


class StoreError(DraftsmithError):
    """The run store cannot be reached or refused an operation."""


class QueueError(DraftsmithError):
    """The task queue cannot be reached."""


class GitHubError(DraftsmithError):
    """GitHub answered with an error we could not recover from."""

    def __init__(self, message: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class SandboxError(DraftsmithError):
    """No sandbox is available, or the sandbox itself failed (not the command inside it)."""


class ModelError(DraftsmithError):
    """The model endpoint failed or is not configured."""


class ModelUnavailable(ModelError):
    """The model endpoint is rate-limited, down or unreachable after the openai client's retries.

    Not the run's fault: the run waits (`waiting_for_model`) and resumes by itself.
    `cause` is a short reason for people ("rate limited (429)"); `retry_after_s` is the wait
    the endpoint asked for (`Retry-After`), None when it said none.
    """

    def __init__(
        self, message: str, hint: str = "", *, cause: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, hint)
        self.cause = cause
        self.retry_after_s = retry_after_s


class ContractError(DraftsmithError):
    """A model's answer did not validate against its contract, even after re-asking."""


class WorkspaceError(DraftsmithError):
    """A git operation or an edit on the run's workspace failed or was refused."""


class PolicyError(DraftsmithError):
    """A policy file is invalid."""


class TransitionError(DraftsmithError):
    """A move between run states that the run core's transition table does not allow."""


class ActiveRunConflict(StoreError):
    """A run cannot become active again: another run of the same issue is active."""


class RunStopped(DraftsmithError):
    """The run was stopped (`/draftsmith stop`) while a step was working on it."""


class BudgetExhausted(DraftsmithError):
    """A budget of the run (tokens, cost, tool calls, wall time) leaves no room to go on."""
