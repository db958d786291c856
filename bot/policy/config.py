"""Policies and repository configuration as data: the models, loading, parsing and `merge`.

A repository's config may tighten the built-in policy, never loosen it (`merge`). Deciding on a
change from a policy is `bot/policy/decide.py`'s job.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import shlex
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.policy.pathglob import compile_glob
from bot.shared.errors import PolicyError

logger = logging.getLogger(__name__)

DEFAULT_POLICY_RESOURCE = "default.yml"
REPO_CONFIG_PATH = ".github/draftsmith.yml"
REPO_RISKY_REASON = "risky per .github/draftsmith.yml"
STEER_PERMISSIONS = frozenset({"admin", "maintain", "write"})


class StrictModel(BaseModel):
    """Base of policy models: unknown keys are refused, values are not coerced, frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_globs(patterns: Iterable[str]) -> None:
    for pattern in patterns:
        try:
            compile_glob(pattern)
        except PolicyError as exc:
            raise ValueError(exc.message) from exc


class Budgets(StrictModel):
    """Per-run limits; the pipeline stops a run when one is reached."""

    max_revisions: int = Field(ge=0, description="Coder revisions after the first attempt.")
    max_tokens: int = Field(ge=1, description="Prompt + completion tokens over the run.")
    max_cost_usd: float = Field(ge=0, description="Estimated model cost of the run, USD.")
    max_tool_calls: int = Field(ge=0, description="Tool (function) calls over the run.")
    max_wall_time_s: int = Field(ge=1, description="Wall-clock seconds of each attempt.")


class Policy(StrictModel):
    """A whole policy: what is risky, what is forbidden, what may run, and the limits."""

    risky_paths: dict[str, list[str]] = Field(
        description="Reason (e.g. 'workflow') -> path patterns that need a code owner's approval."
    )
    forbidden_paths: list[str] = Field(description="Path patterns a change may never touch.")
    test_infrastructure: list[str] = Field(
        default_factory=list,
        description="Files that change how tests are collected, run or reported: the tester may "
        "never write them; a coder change to them is gated as 'changes how tests run'.",
    )
    setup_allow: list[str] = Field(
        description="fnmatch patterns of allowed setup commands (the shlex-joined argv)."
    )
    budgets: Budgets
    require_plan_approval: bool = Field(description="Ask for approve-plan before coding.")
    max_runs_per_hour_per_installation: int = Field(ge=0)
    max_commands_per_hour_per_installation: int = Field(ge=0)
    max_commands_per_hour_per_sender: int = Field(
        default=20,
        ge=0,
        description="Comment commands one person may send an hour; past it they are dropped "
        "without asking GitHub anything and spend none of the installation's budget.",
    )

    @field_validator("risky_paths")
    @classmethod
    def _risky_globs_compile(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _check_globs(patterns)
        return value

    @field_validator("forbidden_paths", "test_infrastructure")
    @classmethod
    def _forbidden_globs_compile(cls, value: list[str]) -> list[str]:
        _check_globs(value)
        return value


class RoleModels(StrictModel):
    """Per-role model names a repository asks for."""

    planner: str | None = None
    coder: str | None = None
    reviewer: str | None = None
    tester: str | None = None


class BudgetLimits(StrictModel):
    """A repository's budgets: each may only lower the built-in one."""

    max_revisions: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_tool_calls: int | None = Field(default=None, ge=0)
    max_wall_time_s: int | None = Field(default=None, ge=1)


class RepoConfig(StrictModel):
    """`.github/draftsmith.yml` of a target repository (read from its default branch)."""

    trigger_label: str | None = Field(default=None, min_length=1, description="Starts a run.")
    test_command: str | None = Field(default=None, min_length=1, description="Runs the tests.")
    setup_commands: list[str] = Field(default_factory=list, description="Run before the tests.")
    models: RoleModels = Field(default_factory=RoleModels)
    risky_paths: list[str] = Field(default_factory=list, description="Extra risky patterns.")
    forbidden_paths: list[str] = Field(default_factory=list, description="Extra forbidden ones.")
    setup_allow: list[str] | None = Field(
        default=None, description="Narrows the built-in setup allow-list; None keeps it."
    )
    require_plan_approval: bool = False
    budgets: BudgetLimits = Field(default_factory=BudgetLimits)
    max_revisions: int | None = Field(default=None, ge=0, description="Same as budgets' one.")
    instructions: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="More instruction files for the agents (repository paths, default branch).",
    )

    @field_validator("instructions")
    @classmethod
    def _instruction_paths_inside(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.strip() or path.startswith("/") or ".." in path.split("/"):
                raise ValueError(f"{path!r} is not a path inside the repository")
        return value

    @field_validator("risky_paths", "forbidden_paths")
    @classmethod
    def _globs_compile(cls, value: list[str]) -> list[str]:
        _check_globs(value)
        return value

    @field_validator("setup_commands", "test_command")
    @classmethod
    def _commands_split(cls, value: Any) -> Any:
        for command in [value] if isinstance(value, str) else (value or []):
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise ValueError(f"cannot split {command!r} like a shell: {exc}") from exc
            if not argv:
                raise ValueError("a command may not be empty")
        return value


# ---------------------------------------------------------------------------- loading


def _known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    current: Any = model
    for part in loc:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        current = field.annotation
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
    return list(current.model_fields)


def _describe(model: type[BaseModel], exc: ValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        loc = [p for p in err["loc"]]
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"unknown key {where!r} (known: {', '.join(known)}){hint}")
        else:
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(problems)


def _parse(model: type[StrictModel], text: str, source: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(
            f"{source} is not valid YAML{where}: {problem}", f"fix the YAML syntax of {source}"
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source} must be a mapping of keys to values, not a {type(data).__name__}",
            f"write {source} as 'key: value' lines",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(
            f"{source} is invalid: {_describe(model, exc)}", f"correct the keys named in {source}"
        ) from exc


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Parse and validate a policy file's text; raises PolicyError naming what is wrong."""
    policy: Policy = _parse(Policy, text, source)
    return policy


def load_policy(path: Path) -> Policy:
    """Load a policy file; raises PolicyError if it cannot be read or is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}", "check the path") from exc
    return parse_policy(text, str(path))


def load_default_policy() -> Policy:
    """The built-in policy shipped in the package (`bot/policy/default.yml`)."""
    text = (
        resources.files("bot.policy").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
    )
    return parse_policy(text, f"built-in {DEFAULT_POLICY_RESOURCE}")


def parse_repo_config(text: str) -> RepoConfig:
    """Parse `.github/draftsmith.yml`; raises PolicyError with a precise message."""
    config: RepoConfig = _parse(RepoConfig, text, REPO_CONFIG_PATH)
    return config


# ---------------------------------------------------------------------------- merging


def _union(base: Sequence[str], extra: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*base, *extra]))


def command_allowed(line: str, allow: Sequence[str]) -> bool:
    """The one allow-list matcher: whether a shlex-joined command matches a pattern (fnmatch)."""
    return any(fnmatch.fnmatchcase(line, pattern) for pattern in allow)


def _narrow_allow_list(base: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Patterns of `wanted` that allow nothing `base` does not: identical, or literal & allowed."""
    kept: list[str] = []
    for pattern in wanted:
        literal = not any(ch in pattern for ch in "*?[")
        if pattern in base or (literal and command_allowed(pattern, base)):
            kept.append(pattern)
        else:
            logger.info(
                "repository setup_allow pattern %r is wider than the policy; ignored", pattern
            )
    return list(dict.fromkeys(kept))


def _lower(base: int | float, wanted: int | float | None) -> Any:
    return base if wanted is None else min(base, wanted)


def merge(policy: Policy, repo_config: RepoConfig) -> Policy:
    """The policy with a repository's config applied: it may tighten, never loosen."""
    risky = {reason: list(patterns) for reason, patterns in policy.risky_paths.items()}
    if repo_config.risky_paths:
        risky[REPO_RISKY_REASON] = _union(risky.get(REPO_RISKY_REASON, []), repo_config.risky_paths)
    wanted = repo_config.budgets
    revisions = _lower(policy.budgets.max_revisions, wanted.max_revisions)
    budgets = Budgets(
        max_revisions=_lower(revisions, repo_config.max_revisions),
        max_tokens=_lower(policy.budgets.max_tokens, wanted.max_tokens),
        max_cost_usd=_lower(policy.budgets.max_cost_usd, wanted.max_cost_usd),
        max_tool_calls=_lower(policy.budgets.max_tool_calls, wanted.max_tool_calls),
        max_wall_time_s=_lower(policy.budgets.max_wall_time_s, wanted.max_wall_time_s),
    )
    setup_allow = (
        list(policy.setup_allow)
        if repo_config.setup_allow is None
        else _narrow_allow_list(policy.setup_allow, repo_config.setup_allow)
    )
    return policy.model_copy(
        update={
            "risky_paths": risky,
            "forbidden_paths": _union(policy.forbidden_paths, repo_config.forbidden_paths),
            "setup_allow": setup_allow,
            "budgets": budgets,
            "require_plan_approval": policy.require_plan_approval
            or repo_config.require_plan_approval,
        }
    )
