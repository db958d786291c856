"""Deciding with a policy: `evaluate` a change's Gate, and who may steer (`Authorisation`).

`evaluate` is pure: it decides the Gate of a change from its paths, their code owners and the
policy; acting on the decision is the run core's job. Loading and merging policies and a
repository's config is `bot/policy/config.py` (its names are re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

from pydantic import Field

from bot.policy.config import (
    DEFAULT_POLICY_RESOURCE,
    REPO_CONFIG_PATH,
    REPO_RISKY_REASON,
    STEER_PERMISSIONS,
    BudgetLimits,
    Budgets,
    Policy,
    RepoConfig,
    RoleModels,
    StrictModel,
    load_default_policy,
    load_policy,
    merge,
    parse_policy,
    parse_repo_config,
)
from bot.policy.pathglob import matching, normalise_path
from bot.sandbox.phases import allowed
from bot.shared.contracts import Gate

__all__ = [
    "Authorisation",
    "BudgetLimits",
    "Budgets",
    "DEFAULT_POLICY_RESOURCE",
    "Decision",
    "Policy",
    "REPO_CONFIG_PATH",
    "REPO_RISKY_REASON",
    "RepoConfig",
    "RoleModels",
    "STEER_PERMISSIONS",
    "TEST_INFRASTRUCTURE_REASON",
    "evaluate",
    "is_test_infrastructure",
    "load_default_policy",
    "load_policy",
    "merge",
    "parse_policy",
    "parse_repo_config",
    "setup_command_allowed",
]

logger = logging.getLogger(__name__)

TEST_INFRASTRUCTURE_REASON = "changes how tests run"
"""Why a change to `Policy.test_infrastructure` is gated (shown in the PR and the check run)."""


def is_test_infrastructure(path: str, policy: Policy) -> bool:
    """Whether `path` changes how tests are collected, run or reported (see the policy file)."""
    normal = normalise_path(path)
    return normal is not None and bool(matching(normal, policy.test_infrastructure))


def setup_command_allowed(argv: Sequence[str], policy: Policy) -> bool:
    """Whether a setup command (argv) matches the policy's allow-list (the sandbox's own check)."""
    return allowed(list(argv), policy.setup_allow)


# ---------------------------------------------------------------------------- deciding


class Decision(StrictModel):
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
        if matching(path, policy.test_infrastructure):
            why.append(TEST_INFRASTRUCTURE_REASON)
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
