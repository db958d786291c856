"""Policies as data: load the built-in policy and a repository's config, merge, and decide.

`evaluate` is pure: it decides the Gate of a change from its paths, their code owners and the
policy; acting on the decision is the pipeline's job. A repository's config may tighten the
built-in policy, never loosen it (`merge`).
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import shlex
from collections.abc import Collection, Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.contracts import Gate
from bot.errors import PolicyError
from bot.pathglob import compile_glob, matching, normalise_path

logger = logging.getLogger(__name__)

DEFAULT_POLICY_RESOURCE = "policy_default.yml"
REPO_CONFIG_PATH = ".github/draftsmith.yml"
REPO_RISKY_REASON = "risky per .github/draftsmith.yml"
STEER_PERMISSIONS = frozenset({"admin", "maintain", "write"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_globs(patterns: Iterable[str]) -> None:
    for pattern in patterns:
        try:
            compile_glob(pattern)
        except PolicyError as exc:
            raise ValueError(exc.message) from exc


class Budgets(_Strict):
    """Per-run limits; the pipeline stops a run when one is reached."""

    max_revisions: int = Field(ge=0, description="Coder revisions after the first attempt.")
    max_tokens: int = Field(ge=1, description="Prompt + completion tokens over the run.")
    max_cost_usd: float = Field(ge=0, description="Estimated model cost of the run, USD.")
    max_tool_calls: int = Field(ge=0, description="Tool (function) calls over the run.")
    max_wall_time_s: int = Field(ge=1, description="Wall-clock seconds for the whole run.")


class Policy(_Strict):
    """A whole policy: what is risky, what is forbidden, what may run, and the limits."""

    risky_paths: dict[str, list[str]] = Field(
        description="Reason (e.g. 'workflow') -> path patterns that need a code owner's approval."
    )
    forbidden_paths: list[str] = Field(description="Path patterns a change may never touch.")
    setup_allow: list[str] = Field(
        description="fnmatch patterns of allowed setup commands (the shlex-joined argv)."
    )
    budgets: Budgets
    require_plan_approval: bool = Field(description="Ask for approve-plan before coding.")
    max_runs_per_hour_per_installation: int = Field(ge=0)
    max_commands_per_hour_per_installation: int = Field(ge=0)

    @field_validator("risky_paths")
    @classmethod
    def _risky_globs_compile(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _check_globs(patterns)
        return value

    @field_validator("forbidden_paths")
    @classmethod
    def _forbidden_globs_compile(cls, value: list[str]) -> list[str]:
        _check_globs(value)
        return value


class RoleModels(_Strict):
    """Per-role model names a repository asks for."""

    planner: str | None = None
    coder: str | None = None
    reviewer: str | None = None
    tester: str | None = None


class BudgetLimits(_Strict):
    """A repository's budgets: each may only lower the built-in one."""

    max_revisions: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_tool_calls: int | None = Field(default=None, ge=0)
    max_wall_time_s: int | None = Field(default=None, ge=1)


class RepoConfig(_Strict):
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


def _parse(model: type[_Strict], text: str, source: str) -> Any:
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
    """The built-in policy shipped in the package (`bot/policy_default.yml`)."""
    text = resources.files("bot").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
    return parse_policy(text, f"built-in {DEFAULT_POLICY_RESOURCE}")


def parse_repo_config(text: str) -> RepoConfig:
    """Parse `.github/draftsmith.yml`; raises PolicyError with a precise message."""
    config: RepoConfig = _parse(RepoConfig, text, REPO_CONFIG_PATH)
    return config


# ---------------------------------------------------------------------------- merging


def _union(base: Sequence[str], extra: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*base, *extra]))


def _narrow_allow_list(base: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Patterns of `wanted` that allow nothing `base` does not: identical, or literal & allowed."""
    kept: list[str] = []
    for pattern in wanted:
        literal = not any(ch in pattern for ch in "*?[")
        if pattern in base or (literal and any(fnmatch.fnmatchcase(pattern, b) for b in base)):
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


def setup_command_allowed(argv: Sequence[str], policy: Policy) -> bool:
    """Whether a setup command (argv) matches the policy's allow-list."""
    command = shlex.join(argv)
    return any(fnmatch.fnmatchcase(command, pattern) for pattern in policy.setup_allow)


# ---------------------------------------------------------------------------- deciding


class Decision(_Strict):
    """The policy's verdict on a change; `approvers` are who can release a needs_approval gate."""

    gate: Gate
    reasons: list[str] = Field(description="Human-readable, one per finding.")
    risky_paths: list[str] = Field(description="Changed paths that need approval.")
    forbidden_paths: list[str] = Field(description="Changed paths the change may not touch.")
    gated_paths: list[str] = Field(
        description="Paths whose owners can release the gate (risky, else all when only flagged)."
    )
    owners_by_path: dict[str, list[str]] = Field(description="Code owners of each gated path.")
    approvers: list[str] = Field(description="Code owners of the gated paths (@user, @org/team).")
    approver_teams: list[str] = Field(
        description="The @org/team approvers: the caller must check a reviewer's membership."
    )
    unowned_paths: list[str] = Field(description="Gated paths with no code owner at all.")


def _owners_of(path: str, owners: Mapping[str, Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(owners.get(path, ())))


def evaluate(
    changed_paths: Iterable[str],
    owners: Mapping[str, Sequence[str]],
    policy: Policy,
    *,
    flagged_reasons: Sequence[str] = (),
) -> Decision:
    """Decide the gate of a change from its paths, their code owners and the policy."""
    reasons: list[str] = []
    risky: list[str] = []
    forbidden: list[str] = []
    seen: list[str] = []
    for raw in changed_paths:
        path = normalise_path(raw)
        if path is None:
            forbidden.append(raw)
            reasons.append(f"touches {raw!r} (outside the repository)")
            continue
        if path in seen:
            continue
        seen.append(path)
        hits = matching(path, policy.forbidden_paths)
        if hits:
            forbidden.append(path)
            reasons.append(f"touches {path} (forbidden: {', '.join(hits)})")
            continue
        why = [reason for reason, globs in policy.risky_paths.items() if matching(path, globs)]
        if why:
            risky.append(path)
            reasons.append(f"touches {path} ({', '.join(why)})")
    reasons.extend(flagged_reasons)
    if forbidden:
        gate = Gate.blocked
    elif risky or flagged_reasons:
        gate = Gate.needs_approval
    else:
        gate = Gate.none
    # Owners of the risky paths release the gate; a gate raised only by flags needs an owner
    # of the code that changed.
    gated = risky if risky else (seen if gate is Gate.needs_approval else [])
    owners_by_path = {path: _owners_of(path, owners) for path in gated}
    approvers = list(dict.fromkeys(o for found in owners_by_path.values() for o in found))
    return Decision(
        gate=gate,
        reasons=reasons,
        risky_paths=risky,
        forbidden_paths=forbidden,
        gated_paths=list(gated),
        owners_by_path=owners_by_path,
        approvers=approvers,
        approver_teams=[a for a in approvers if a.startswith("@") and "/" in a],
        unowned_paths=[p for p, found in owners_by_path.items() if not found],
    )


# ---------------------------------------------------------------------------- who may act


def _login(name: str) -> str:
    return name.strip().removeprefix("@").lower()


class Authorisation:
    """Who may steer a run and who may release a gated change."""

    @staticmethod
    def can_steer(permission: str) -> bool:
        """Whether a collaborator permission (GitHub's admin/maintain/write/...) may steer."""
        return permission.strip().lower() in STEER_PERMISSIONS

    @staticmethod
    def releasable_paths(
        reviewer: str,
        author: str,
        bot_login: str,
        owners_of_risky: Mapping[str, Sequence[str]],
        *,
        reviewer_teams: Collection[str] = (),
    ) -> list[str]:
        """The gated paths this reviewer's approval releases (none for the author or the bot).

        `reviewer_teams` are the `@org/team` owners the caller has verified the reviewer is a
        member of; e-mail owners never match a login.
        """
        who = _login(reviewer)
        if not who or who in (_login(author), _login(bot_login)):
            return []
        teams = {_login(t) for t in reviewer_teams}
        released: list[str] = []
        for path, path_owners in owners_of_risky.items():
            logins = {_login(o) for o in path_owners}
            if who in logins or teams & logins:
                released.append(path)
        return released

    @classmethod
    def can_release(
        cls,
        reviewer: str,
        author: str,
        bot_login: str,
        owners_of_risky: Mapping[str, Sequence[str]],
        *,
        reviewer_teams: Collection[str] = (),
    ) -> bool:
        """Whether this reviewer's approval alone releases every gated path."""
        if not owners_of_risky:
            return False
        released = cls.releasable_paths(
            reviewer, author, bot_login, owners_of_risky, reviewer_teams=reviewer_teams
        )
        return len(released) == len(owners_of_risky)
