"""The model port: what the run core and the agents ask of a model (`Model`), and its types.

`bot.model.client.ModelClient` is the adapter (any OpenAI-compatible endpoint); a test's double
answers `complete` in process. `Tool` is a function the model may call, `CallGuard` what the run
core's budgets and stop flag answer around every call, `Completion` a validated answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from bot.model.usage import Price, Usage
from bot.shared.config import Role

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its JSON-schema parameters and a handler returning text."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[..., str | Awaitable[str]]
    final: bool = False
    """Calling it ends the exchange: its answer (unless an `error:`) is the final answer."""

    def spec(self) -> dict[str, Any]:
        """The Chat Completions `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class CallGuard(Protocol):
    """Asked around every request and tool call (the run core's budgets and stop flag)."""

    def before_call(self, role: str, model: str, request: Mapping[str, Any]) -> int:
        """Raise to refuse the call; else the `max_tokens` to send with it."""
        ...

    def after_call(self, usage: Usage) -> None:
        """Record a call's usage as soon as it is known."""
        ...

    def before_tool_call(self, name: str) -> None:
        """Raise to refuse a tool call; else count it."""
        ...


@dataclass
class Completion(Generic[T]):
    """A validated answer with the calls it took."""

    value: T
    model: str
    usages: list[Usage] = field(default_factory=list)
    tool_calls: int = 0
    attempts: int = 1


class Model(Protocol):
    """Answers a role's request with a value validating against a contract."""

    prices: dict[str, Price]
    """The price of each model by name (the run's cost budget reads them)."""
    guard: CallGuard | None
    """Asked around every request and tool call; the run core sets it per step."""

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
        """Ask `role`'s model for an answer validating against `contract`."""
        ...
