"""In-process doubles of the run core's ports (`bot.run.ports`): a step runs without HTTP.

- `FakeModel` (the `Model` port): answers each role from a script of contract values, in order,
  and asks the run's guard around every answer as `ModelClient` does (budgets and the stop flag
  hold; the usage is recorded by the engine).
- `FakeGitHubEffects` (the `GitHubEffects` port): keeps the comments, answers write access from
  a set of writers, records each publish and answers it with a `Published`.
- `FakeSandbox` (the `Sandbox` port): records each command and answers it with a scripted
  `ExecResult` (exit 0, empty output unless told otherwise).

The run store's double is the real `Store` on a SQLite file in a temporary directory: its
queries are the ones under test, and it needs no server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from bot.github.objects import Publication, Published
from bot.model.base import CallGuard, Completion, Tool
from bot.model.usage import Price, Usage, estimate_prompt_tokens, usage_of
from bot.repo.workspace import Workspace
from bot.sandbox.base import ExecResult, Limits
from bot.shared.config import Role

T = TypeVar("T", bound=BaseModel)


@dataclass
class FakeModel:
    """The model port in process: `answers[role]` are returned in order, one per call."""

    answers: dict[str, list[BaseModel]]
    model: str = "fake-model"
    completion_tokens: int = 50
    prices: dict[str, Price] = field(default_factory=dict)
    guard: CallGuard | None = None
    asked: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    """Every request: the role and its messages."""

    async def complete(
        self,
        role: Role,
        messages: list[dict[str, Any]],
        contract: type[T],
        *,
        tools: Sequence[Tool] = (),
        tool_budget: int = 20,
        sampling: Mapping[str, Any] | None = None,
    ) -> Completion[T]:
        """The next scripted answer of `role`; AssertionError when none is left or it is not a
        `contract`."""
        request = {"model": self.model, "messages": messages}
        if self.guard is not None:  # may refuse the call (a budget, a stop): nothing is asked
            self.guard.before_call(role, self.model, request)
        script = self.answers.get(role)
        if not script:
            raise AssertionError(f"FakeModel: no answer left for the {role}")
        answer = script.pop(0)
        if not isinstance(answer, contract):
            raise AssertionError(f"FakeModel: the {role} asked for {contract.__name__}")
        self.asked.append((role, messages))
        usage: Usage = usage_of(
            role,
            self.model,
            estimate_prompt_tokens(request),
            self.completion_tokens,
            0.0,
            self.prices,
        )
        if self.guard is not None:
            self.guard.after_call(usage)
        return Completion(answer, self.model, [usage])


@dataclass
class FakeGitHubEffects:
    """The GitHub port in process: comments by (repo, issue, marker), writers, publishes."""

    writers: set[str] = field(default_factory=set)
    comments: dict[tuple[str, int, str], str] = field(default_factory=dict)
    published: list[Publication] = field(default_factory=list)
    """What each publish was asked, in order."""
    pr_number: int = 7

    def git_credentials(self, clone_url: str) -> dict[str, str]:
        """No credentials: the doubles' runs clone from local paths."""
        return {}

    def upsert_comment(self, repo: str, issue_number: int, marker: str, body: str) -> None:
        """Keep the comment carrying `marker` (the newest body wins, as on GitHub)."""
        self.comments[(repo, issue_number, marker)] = body

    def has_write_access(self, repo: str, login: str) -> bool:
        """Whether `login` is one of the writers."""
        return login in self.writers

    def publish(self, workspace: Workspace, publication: Publication) -> Published:
        """Record the publish; the PR is `pr_number` (created the first time only)."""
        self.published.append(publication)
        return Published(
            pr_number=self.pr_number,
            pr_url=f"https://github.com/{publication.repo}/pull/{self.pr_number}",
            pr_node_id=f"PR_{self.pr_number}",
            check_run_id=len(self.published),
            created=publication.existing_pr is None,
            head_sha=publication.head_sha or "",
        )


Answer = Callable[[list[str]], ExecResult]


def ok(_command: list[str]) -> ExecResult:
    """Exit 0, no output."""
    return ExecResult(0, "", "", 0.0, False, None)


@dataclass
class FakeSandbox:
    """The sandbox port in process: records commands; `answer(command)` says how each ended."""

    answer: Answer = ok
    name: str = "fake"
    runtime: str = "fake: nothing runs"
    commands: list[list[str]] = field(default_factory=list)

    async def run(
        self,
        command: list[str],
        *,
        workdir: Path,
        limits: Limits,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        mount_at: Path | None = None,
    ) -> ExecResult:
        """Record `command` and answer it."""
        self.commands.append(command)
        return self.answer(command)
