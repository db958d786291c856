"""The run core's ports: what bot/run uses of the run store, GitHub, the model and the sandbox.

Each port names only what the run core calls, with the adapter's own signatures, so mypy checks
that the adapter satisfies it (structurally: the adapters do not import this module). The
concrete adapters are built at the composition root (`bot/runtime/__init__.py`) and passed in;
nothing under bot/run imports them (`tests/unit/test_structure.py`).

- `RunStore`: `bot.store.runs.Store` (SQLAlchemy); its in-process double is the same Store on a
  SQLite file in a temporary directory (the real queries, no server).
- `GitHubEffects`: `bot.github.effects.InstallationEffects` (githubkit, one installation);
  double `tests.helpers.doubles.FakeGitHubEffects`.
- `Model` (`bot.model.base`): `bot.model.client.ModelClient` (openai); double
  `tests.helpers.doubles.FakeModel`.
- `Sandbox` (`bot.sandbox.base`): `bwrap.BwrapSandbox`, `docker.DockerSandbox`; double
  `tests.helpers.doubles.FakeSandbox`.

The run core enqueues nothing: an intent says `enqueue=True` and its caller queues (no queue port).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.model.base import Model
from bot.sandbox.base import Sandbox

if TYPE_CHECKING:  # names in signatures only: the store imports RunCaps from here, cheaply
    from bot.github.objects import Publication, Published
    from bot.repo.workspace import Workspace
    from bot.run.states import Phase
    from bot.store.tables import Artifact, PhaseRecord, Run, RunEvent

__all__ = ["GitHubEffects", "Model", "RunCaps", "RunStore", "Sandbox"]


@dataclass(frozen=True)
class RunCaps:
    """Concurrency caps a run's start must stay under (0: no cap)."""

    total: int = 0
    """Working (`running`) runs in all."""
    per_installation: int = 0
    """Working runs of the run's GitHub installation."""


class RunStore(Protocol):
    """The run store as the run core uses it: runs, their state moves, phases, events, artifacts.

    `transition_run` is called by `bot.run.lifecycle` only (the one writer of a run's state)."""

    def get_run(self, run_id: int) -> Run:
        """One run by id; StoreError when there is none."""
        ...

    def list_runs(
        self, *, status: str | None = None, repo: str | None = None, limit: int = 100
    ) -> list[Run]:
        """Runs, newest first, optionally filtered."""
        ...

    def update_run(self, run_id: int, **values: Any) -> Run:
        """Set fields of a run other than its state."""
        ...

    def transition_run(
        self,
        run_id: int,
        *,
        from_phase: str,
        from_status: str,
        values: dict[str, Any],
        caps: RunCaps | None = None,
    ) -> Run | None:
        """Move a run that is still at (`from_phase`, `from_status`); None when it moved since
        (or when `caps` are full)."""
        ...

    def working_runs(self, *, excluding: int, installation_id: int | None) -> tuple[int, int]:
        """Runs working other than `excluding`: in all, and of `installation_id`."""
        ...

    def add_usage(self, run_id: int, *, tokens: int, cost_usd: float, tool_calls: int = 0) -> None:
        """Add to a run's budgets used, atomically."""
        ...

    def start_phase(self, run_id: int, name: Phase, attempt: int) -> int:
        """Record that a phase began; returns its record id."""
        ...

    def finish_phase(
        self, phase_id: int, outcome: str, *, tokens: int = 0, cost_usd: float = 0.0
    ) -> None:
        """Record how a phase ended."""
        ...

    def phases(self, run_id: int) -> list[PhaseRecord]:
        """A run's phase records in order."""
        ...

    def add_event(
        self, run_id: int, kind: str, message: str = "", data: dict[str, Any] | None = None
    ) -> None:
        """Append to a run's event log."""
        ...

    def events(self, run_id: int, kind: str | None = None) -> list[RunEvent]:
        """A run's events in order, optionally of one kind."""
        ...

    def take_inputs(self, run_id: int) -> list[RunEvent]:
        """Steering inputs not yet consumed, marking them consumed."""
        ...

    def put_artifact(
        self,
        run_id: int,
        name: str,
        content: str | dict[str, Any] | list[Any],
        media_type: str | None = None,
    ) -> None:
        """Store an artifact (masked)."""
        ...

    def get_artifact(self, run_id: int, name: str) -> Artifact | None:
        """The newest artifact of that name."""
        ...

    def artifacts(self, run_id: int) -> list[Artifact]:
        """All artifacts of a run in order."""
        ...


class GitHubEffects(Protocol):
    """What a run does on GitHub, as one installation of the App."""

    def git_credentials(self, clone_url: str) -> dict[str, str]:
        """git's environment sending the installation token to `clone_url`'s host only."""
        ...

    def upsert_comment(self, repo: str, issue_number: int, marker: str, body: str) -> None:
        """Update the issue comment carrying `marker`, or create it."""
        ...

    def has_write_access(self, repo: str, login: str) -> bool:
        """Whether `login` may write to `repo` (admin, maintainer or writer)."""
        ...

    def publish(self, workspace: Workspace, publication: Publication) -> Published:
        """Push the run's branch, open (or update) its draft PR, request owners, set the check
        run (`bot.github.publish.publish`)."""
        ...
