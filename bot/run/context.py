"""What a step gets (`RunContext`, `Services`) and what it gives back (`StepResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from bot.model.usage import Usage
from bot.policy.decide import Policy, RepoConfig
from bot.repo.workspace import Workspace
from bot.run import artifacts
from bot.run.artifacts import ArtifactKind, Artifacts
from bot.run.guard import GuardedSandbox, StepGuard
from bot.run.ports import GitHubEffects, Model, RunStore
from bot.run.states import Phase
from bot.run.transitions import Move
from bot.sandbox.base import Limits, Sandbox
from bot.security.screening import PATTERNS, screen, screen_file
from bot.shared.config import Settings
from bot.store.tables import Run

BOT_LOGIN = "draftsmith[bot]"
Kinds = tuple[ArtifactKind[Any], ...]


@dataclass
class Services:
    """The collaborators of every run of a process, built once at the composition root."""

    settings: Settings
    store: RunStore
    sandbox_factory: Callable[[], Sandbox]
    llm_factory: Callable[[RepoConfig | None], Model]
    base_policy: Policy
    limits: Limits
    github_for_run: Callable[[Run], GitHubEffects] | None = None
    _sandbox: Sandbox | None = None

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox every repository command runs in (chosen once)."""
        if self._sandbox is None:
            self._sandbox = self.sandbox_factory()
        return self._sandbox

    def run_dir(self, run: Run) -> Path:
        """Where a run's clone and reports live."""
        return (self.settings.work_dir / f"run-{run.id}").resolve()

    def github(self, run: Run) -> GitHubEffects | None:
        """The run's GitHub side effects, when it came from GitHub and the App is configured."""
        if self.github_for_run is None or run.installation_id is None:
            return None
        return self.github_for_run(run)


@dataclass
class RunContext:
    """What the steps of one run share while one worker advances it."""

    run: Run
    workspace: Workspace
    policy: Policy
    repo_config: RepoConfig | None
    llm: Model
    services: Services
    guard: StepGuard

    @property
    def usages(self) -> list[Usage]:
        """The model calls of this step so far (recorded as they happen)."""
        return self.guard.usages

    @property
    def tool_calls(self) -> int:
        """The tool calls of this step so far."""
        return self.guard.tool_calls

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox, checking the stop flag and wall time before every command."""
        return GuardedSandbox(self.services.sandbox, self.guard)

    @property
    def store(self) -> RunStore:
        """The run store."""
        return self.services.store

    @property
    def artifacts(self) -> Artifacts:
        """Typed access to this run's artifacts."""
        return Artifacts(self.services.store, self.run.id)

    @property
    def base(self) -> str:
        """The commit the change is made on."""
        return self.run.base_sha or "HEAD~1"

    def screen(self, text: str, source: str, patterns: tuple[str, ...] = tuple(PATTERNS)) -> None:
        """Flag injection patterns in text an agent reads; a flag gates the change."""
        for flag in screen(text, source=source, patterns=patterns):
            self.artifacts.save(artifacts.FLAG, flag)

    def screen_file(self, path: str, text: str) -> None:
        """Flag a repository file an agent reads (prose and code each as what it is)."""
        for flag in screen_file(path, text, source=f"file {path}"):
            self.artifacts.save(artifacts.FLAG, flag)


@dataclass(frozen=True)
class StepResult:
    """How a step ends: the move to make, why, and (for `revise`) the coder's feedback.

    `move` is None when the run was moved by someone else meanwhile (stopped), or when the
    step did part of its work and is to be performed again (`again`): nothing to move.
    """

    move: Move | None
    reason: str | None = None
    outcome: str = "done"
    feedback: str | None = None

    @classmethod
    def advance(cls) -> StepResult:
        """The step is done; on to the next phase."""
        return cls(Move.advance)

    @classmethod
    def again(cls, outcome: str) -> StepResult:
        """Part of the step's work is done and stored; the same step runs again for the rest
        (one candidate at a time, so each one's usage is recorded when it ends)."""
        return cls(None, None, outcome)

    @classmethod
    def send_back(cls, feedback: str, why: str) -> StepResult:
        """Back to the coder with `feedback` (the engine checks revisions are left)."""
        return cls(Move.send_back, None, why, feedback)


class Step(Protocol):
    """One phase's work: reads its inputs from artifacts, stores its outputs, returns a move."""

    phase: ClassVar[Phase]
    reads: ClassVar[Kinds]
    writes: ClassVar[Kinds]

    async def run(self, ctx: RunContext) -> StepResult:
        """Do the phase's work (idempotently: stored outputs are reused, never redone)."""
        ...


def usage_dict(usage: Usage) -> dict[str, Any]:
    """A model call's usage as stored in the run's event log."""
    return {**asdict(usage), "total_tokens": usage.total_tokens}
