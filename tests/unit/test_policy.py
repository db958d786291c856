"""The policy engine: what is gated or blocked, tighten-only repo config, who may release."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.decide import (
    REPO_RISKY_REASON,
    Authorisation,
    Policy,
    RepoConfig,
    evaluate,
    load_default_policy,
    load_policy,
    merge,
    parse_policy,
    parse_repo_config,
    setup_command_allowed,
)
from bot.policy.pathglob import compile_glob, normalise_path, path_matches
from bot.shared.contracts import Gate
from bot.shared.errors import PolicyError

REPO_ROOT = Path(__file__).resolve().parents[2]
BOT = "draftsmith[bot]"


@pytest.fixture(scope="module")
def default() -> Policy:
    return load_default_policy()


# ---------------------------------------------------------------- the built-in policy


def test_documented_policy_file_is_the_packaged_one(default: Policy) -> None:
    documented = REPO_ROOT / "policies" / "default.yml"
    assert documented.resolve() == (REPO_ROOT / "bot" / "policy" / "default.yml").resolve()
    assert load_policy(documented) == default


def test_default_policy_values(default: Policy) -> None:
    assert default.budgets.max_revisions == 3
    assert default.require_plan_approval is False
    assert default.max_runs_per_hour_per_installation > 0
    assert default.max_commands_per_hour_per_installation > 0


# ---------------------------------------------------------------- evaluate


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        pytest.param(".github/workflows/ci.yml", "workflow", id="workflow"),
        pytest.param(".github/workflows/nested/deploy.yaml", "workflow", id="nested-workflow"),
        pytest.param("CODEOWNERS", "code owners", id="root-codeowners"),
        pytest.param(".github/CODEOWNERS", "code owners", id="github-codeowners"),
        pytest.param("docs/CODEOWNERS", "code owners", id="docs-codeowners"),
        pytest.param(".github/draftsmith.yml", "draftsmith config", id="draftsmith-config"),
        pytest.param("pyproject.toml", "dependency manifest", id="pyproject"),
        pytest.param("setup.py", "dependency manifest", id="setup-py"),
        pytest.param("setup.cfg", "dependency manifest", id="setup-cfg"),
        pytest.param("requirements-dev.txt", "dependency manifest", id="requirements-glob"),
        pytest.param("web/package.json", "dependency manifest", id="nested-package-json"),
        pytest.param("package-lock.json", "dependency manifest", id="package-lock"),
        pytest.param("yarn.lock", "dependency manifest", id="yarn-lock"),
        pytest.param("pnpm-lock.yaml", "dependency manifest", id="pnpm-lock"),
        pytest.param("go.mod", "dependency manifest", id="go-mod"),
        pytest.param("go.sum", "dependency manifest", id="go-sum"),
        pytest.param("Cargo.toml", "dependency manifest", id="cargo-toml"),
        pytest.param("Cargo.lock", "dependency manifest", id="cargo-lock"),
        pytest.param("Gemfile.lock", "dependency manifest", id="gemfile-lock"),
        pytest.param("services/api/Dockerfile.prod", "container build", id="dockerfile"),
        pytest.param("src/auth/login.py", "authentication", id="auth-dir"),
        pytest.param("lib/OAuth.java", "authentication", id="oauth-any-case"),
        pytest.param("app/payments/refund.py", "payment", id="payments"),
        pytest.param("billing.go", "payment", id="billing"),
        pytest.param("infra/terraform/main.tf", "infrastructure", id="terraform"),
        pytest.param("app/migrations/0002_add.py", "database migration", id="migrations"),
    ],
)
def test_risky_path_is_gated_with_its_reason(default: Policy, path: str, reason: str) -> None:
    decision = evaluate([path, "src/util.py"], {}, default)
    assert decision.gate is Gate.needs_approval
    assert decision.risky_paths == [path]
    assert decision.reasons == [f"touches {path} ({reason})"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(".git/config", id="git-dir"),
        pytest.param("vendor/lib/.git/hooks/pre-commit", id="nested-git-dir"),
        pytest.param(".env", id="root-env"),
        pytest.param("config/.env", id="nested-env"),
        pytest.param("certs/server.pem", id="pem"),
        pytest.param("tls/server.KEY", id="key-any-case"),
        pytest.param("home/.ssh/id_rsa.pub", id="ssh-key"),
        pytest.param("deploy/secrets/db.yaml", id="secrets-dir"),
        pytest.param("store.p12", id="p12"),
        pytest.param("../outside.py", id="parent-escape"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("src/../../x.py", id="escape-after-normalising"),
    ],
)
def test_forbidden_path_blocks_the_change(default: Policy, path: str) -> None:
    decision = evaluate(["src/util.py", path, ".github/workflows/ci.yml"], {}, default)
    assert decision.gate is Gate.blocked
    assert len(decision.forbidden_paths) == 1
    assert any("forbidden" in r or "outside the repository" in r for r in decision.reasons)


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param(["src/app.py", "tests/test_app.py"], id="plain-code"),
        pytest.param(["README.md", "docs/usage.md"], id="docs"),
        pytest.param(["src/author.py", "src/env.py"], id="near-misses"),
        pytest.param([], id="no-change"),
    ],
)
def test_ordinary_change_is_not_gated(default: Policy, paths: list[str]) -> None:
    decision = evaluate(paths, {}, default)
    assert decision.gate is Gate.none
    assert decision.reasons == [] and decision.approvers == []


def test_approvers_are_the_code_owners_of_the_risky_paths(default: Policy) -> None:
    owners = {
        "src/auth/login.py": ["@alice", "@acme/security"],
        ".github/workflows/ci.yml": ["@bob"],
        "src/app.py": ["@carol"],  # not risky: not an approver
    }
    changed = ["src/auth/login.py", ".github/workflows/ci.yml", "src/app.py", "go.mod"]
    decision = evaluate(changed, owners, default)
    assert decision.gate is Gate.needs_approval
    assert decision.approvers == ["@alice", "@acme/security", "@bob"]
    assert decision.approver_teams == ["@acme/security"]
    assert decision.unowned_paths == ["go.mod"]
    assert decision.owners_by_path["go.mod"] == []


def test_flagged_reasons_gate_an_otherwise_plain_change(default: Policy) -> None:
    decision = evaluate(
        ["src/app.py"],
        {"src/app.py": ["@carol"]},
        default,
        flagged_reasons=["adds dependency requests"],
    )
    assert decision.gate is Gate.needs_approval
    assert decision.reasons == ["adds dependency requests"]
    assert decision.gated_paths == ["src/app.py"]
    assert decision.approvers == ["@carol"]


def test_duplicate_and_dotted_paths_are_reported_once(default: Policy) -> None:
    decision = evaluate(["./go.mod", "go.mod"], {}, default)
    assert decision.risky_paths == ["go.mod"]
    assert len(decision.reasons) == 1


# ---------------------------------------------------------------- repository config


def test_repo_config_adds_risky_and_forbidden_paths(default: Policy) -> None:
    config = parse_repo_config("risky_paths: ['src/core/**']\nforbidden_paths: ['fixtures/prod']\n")
    merged = merge(default, config)
    risky = evaluate(["src/core/engine.py"], {}, merged)
    assert risky.gate is Gate.needs_approval
    assert risky.reasons == [f"touches src/core/engine.py ({REPO_RISKY_REASON})"]
    assert evaluate(["fixtures/prod/dump.sql"], {}, merged).gate is Gate.blocked
    assert evaluate(["src/core/engine.py"], {}, default).gate is Gate.none  # default untouched


@pytest.mark.parametrize(
    ("text", "path"),
    [
        pytest.param("risky_paths: []\n", ".github/workflows/ci.yml", id="empty-risky-list"),
        pytest.param("forbidden_paths: []\n", ".env", id="empty-forbidden-list"),
        pytest.param("risky_paths: ['docs/**']\n", "pyproject.toml", id="replacing-risky-list"),
    ],
)
def test_repo_config_cannot_remove_a_default_path(default: Policy, text: str, path: str) -> None:
    merged = merge(default, parse_repo_config(text))
    assert evaluate([path], {}, merged).gate is evaluate([path], {}, default).gate
    assert evaluate([path], {}, merged).gate is not Gate.none


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        pytest.param("budgets: {max_tokens: 1000}\n", "max_tokens", 1000, id="lower-tokens"),
        pytest.param("budgets: {max_tokens: 99999999}\n", "max_tokens", None, id="raise-tokens"),
        pytest.param("budgets: {max_cost_usd: 0.5}\n", "max_cost_usd", 0.5, id="lower-cost"),
        pytest.param("budgets: {max_cost_usd: 500}\n", "max_cost_usd", None, id="raise-cost"),
        pytest.param("max_revisions: 1\n", "max_revisions", 1, id="lower-revisions"),
        pytest.param("max_revisions: 10\n", "max_revisions", None, id="raise-revisions"),
        pytest.param(
            "budgets: {max_revisions: 2}\nmax_revisions: 9\n", "max_revisions", 2, id="both-min"
        ),
        pytest.param(
            "budgets: {max_wall_time_s: 99999}\n", "max_wall_time_s", None, id="raise-wall-time"
        ),
        pytest.param("budgets: {max_tool_calls: 5}\n", "max_tool_calls", 5, id="lower-tools"),
    ],
)
def test_repo_budgets_can_only_be_lowered(
    default: Policy, text: str, field: str, expected: float | None
) -> None:
    merged = merge(default, parse_repo_config(text))
    want = getattr(default.budgets, field) if expected is None else expected
    assert getattr(merged.budgets, field) == want
    assert getattr(merged.budgets, field) <= getattr(default.budgets, field)


@pytest.mark.parametrize(
    ("base", "repo", "expected"),
    [(False, False, False), (False, True, True), (True, False, True), (True, True, True)],
    ids=["neither", "repo-asks", "policy-asks-repo-silent", "both"],
)
def test_plan_approval_is_ored(default: Policy, base: bool, repo: bool, expected: bool) -> None:
    policy = default.model_copy(update={"require_plan_approval": base})
    merged = merge(policy, RepoConfig(require_plan_approval=repo))
    assert merged.require_plan_approval is expected


@pytest.mark.parametrize(
    ("repo_allow", "expected"),
    [
        pytest.param(None, "default", id="unset-keeps-default"),
        pytest.param(["npm ci"], ["npm ci"], id="subset"),
        pytest.param(
            ["npm ci --ignore-scripts"], ["npm ci --ignore-scripts"], id="literal-narrower"
        ),
        pytest.param(["curl * | sh", "npm ci"], ["npm ci"], id="new-pattern-dropped"),
        pytest.param(["npm *"], [], id="wider-wildcard-dropped"),
        pytest.param([], [], id="empty-allows-nothing"),
    ],
)
def test_setup_allow_can_only_shrink(
    default: Policy, repo_allow: list[str] | None, expected: list[str] | str
) -> None:
    merged = merge(default, RepoConfig(setup_allow=repo_allow))
    assert merged.setup_allow == (default.setup_allow if expected == "default" else expected)


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        pytest.param(["python", "-m", "venv", ".venv"], True, id="venv"),
        pytest.param([".venv/bin/pip", "install", "-e", ".[dev]"], True, id="pip-install"),
        pytest.param(["npm", "ci"], True, id="npm-ci"),
        pytest.param(["go", "mod", "download"], True, id="go-mod-download"),
        pytest.param(["curl", "https://x", "-o", "a.sh"], False, id="curl"),
        pytest.param(["pip", "install", "x"], False, id="global-pip"),
        pytest.param(["npm", "install", "left-pad"], False, id="npm-install-package"),
    ],
)
def test_setup_command_allow_list(default: Policy, argv: list[str], allowed: bool) -> None:
    assert setup_command_allowed(argv, default) is allowed


def test_repo_config_reads_every_documented_key() -> None:
    config = parse_repo_config(
        """
trigger_label: ai-draft
test_command: pytest -q
setup_commands: ["python -m venv .venv", ".venv/bin/pip install -e ."]
models: {planner: big, coder: small}
risky_paths: [src/core]
forbidden_paths: [data/prod]
setup_allow: ["npm ci"]
require_plan_approval: true
budgets: {max_tokens: 1000, max_cost_usd: 1}
max_revisions: 1
"""
    )
    assert config.trigger_label == "ai-draft"
    assert config.models.planner == "big" and config.models.tester is None
    assert config.setup_commands[1] == ".venv/bin/pip install -e ."
    assert config.budgets.max_cost_usd == 1.0


def test_empty_repo_config_changes_nothing(default: Policy) -> None:
    assert merge(default, parse_repo_config("")) == default
    assert merge(default, parse_repo_config("# only a comment\n")) == default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("risky_paths: [a\n", r"not valid YAML at line 2", id="bad-yaml"),
        pytest.param("- a\n- b\n", r"must be a mapping.*not a list", id="not-a-mapping"),
        pytest.param(
            "risky_path: [x]\n", r"unknown key 'risky_path'.*did you mean 'risky_paths'", id="typo"
        ),
        pytest.param(
            "budgets: {max_token: 5}\n",
            r"unknown key 'budgets.max_token'.*did you mean 'max_tokens'",
            id="nested-typo",
        ),
        pytest.param(
            "models: {deployer: x}\n", r"unknown key 'models.deployer' \(known: planner", id="role"
        ),
        pytest.param(
            "require_plan_approval: 'yes please'\n",
            r"require_plan_approval: Input should be a valid boolean",
            id="wrong-bool",
        ),
        pytest.param(
            "max_revisions: '3'\n", r"max_revisions: Input should be a valid integer", id="str-int"
        ),
        pytest.param(
            "budgets: {max_tokens: -1}\n", r"budgets.max_tokens: .*greater than or equal", id="neg"
        ),
        pytest.param(
            "risky_paths: src/**\n", r"risky_paths: Input should be a valid list", id="str"
        ),
        pytest.param("setup_commands: ['npm \"ci']\n", r"cannot split", id="unbalanced-quote"),
        pytest.param("test_command: ''\n", r"test_command", id="empty-test-command"),
    ],
)
def test_invalid_repo_config_raises_a_precise_policy_error(text: str, expected: str) -> None:
    with pytest.raises(PolicyError, match=expected) as info:
        parse_repo_config(text)
    assert ".github/draftsmith.yml" in info.value.message
    assert info.value.hint


def test_invalid_policy_file_raises_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text("risky_paths: {}\nforbidden_paths: []\n")
    with pytest.raises(PolicyError, match=r"setup_allow: Field required"):
        load_policy(path)
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "missing.yml")
    with pytest.raises(PolicyError, match="unknown key 'extra'"):
        parse_policy((REPO_ROOT / "policies" / "default.yml").read_text() + "extra: 1\n")


# ---------------------------------------------------------------- path patterns


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("CODEOWNERS", "a/b/CODEOWNERS", True),
        ("/CODEOWNERS", "a/CODEOWNERS", False),
        ("/CODEOWNERS", "CODEOWNERS", True),
        ("infra", "infra/terraform/main.tf", True),
        ("docs/CODEOWNERS", "x/docs/CODEOWNERS", False),
        (".github/workflows/**", ".github/workflows/a/b.yml", True),
        ("**/.env", "a/b/.env", True),
        ("**/.env", "a/b/.envrc", False),
        ("*.tf", "modules/vpc/main.tf", True),
        ("*.tf", "main.tfstate", False),
        ("a/*/c", "a/b/c", True),
        ("a/*/c", "a/b/x/c", False),
        ("a/**/c", "a/c", True),
        ("file[0-9].txt", "file7.txt", True),
        ("file[!0-9].txt", "file7.txt", False),
    ],
    ids=lambda v: str(v),
)
def test_path_pattern_semantics(pattern: str, path: str, matches: bool) -> None:
    assert path_matches(pattern, path) is matches


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("auth/", "src/Auth/login.py", True),
        ("*.PEM", "keys/server.pem", True),
        ("auth/", "auth", False),  # a trailing slash names directories only, as in gitignore
        ("Dockerfile", "services/api/dockerfile", True),
    ],
    ids=lambda v: str(v),
)
def test_path_patterns_follow_gitignore_and_ignore_case(
    pattern: str, path: str, matches: bool
) -> None:
    assert path_matches(pattern, path) is matches


@pytest.mark.parametrize("pattern", ["!secrets/", "", "   ", "# a comment"])
def test_path_patterns_without_a_meaning_in_a_rule_list_are_refused(pattern: str) -> None:
    with pytest.raises(PolicyError):
        compile_glob(pattern)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("./a/b.py", "a/b.py"), ("a//b", "a/b"), ("a\\b.py", "a/b.py"), ("", None), (".", None)],
    ids=["dot-prefix", "double-slash", "backslash", "empty", "dot"],
)
def test_paths_are_normalised(raw: str, normal: str | None) -> None:
    assert normalise_path(raw) == normal


# ---------------------------------------------------------------- authorisation


@pytest.mark.parametrize(
    ("permission", "allowed"),
    [
        ("admin", True),
        ("maintain", True),
        ("write", True),
        ("WRITE", True),
        ("triage", False),
        ("read", False),
        ("none", False),
        ("", False),
    ],
    ids=lambda v: str(v) or "empty",
)
def test_only_writers_can_steer(permission: str, allowed: bool) -> None:
    assert Authorisation.can_steer(permission) is allowed


OWNERS = {"src/auth/login.py": ["@alice", "@acme/security"], "go.mod": ["@Alice", "dev@x.org"]}


@pytest.mark.parametrize(
    ("reviewer", "author", "teams", "allowed"),
    [
        pytest.param("alice", "dave", (), True, id="owner-of-every-gated-path"),
        pytest.param("ALICE", "dave", (), True, id="owner-any-case"),
        pytest.param("alice", "alice", (), False, id="author-cannot-release-own-change"),
        pytest.param("draftsmith[bot]", "dave", (), False, id="bot-cannot-release"),
        pytest.param("mallory", "dave", (), False, id="non-owner"),
        pytest.param("erin", "dave", ("@acme/security",), False, id="team-member-owns-only-part"),
        pytest.param("dev@x.org", "dave", (), False, id="email-owner-is-no-login"),
    ],
)
def test_release_rules(reviewer: str, author: str, teams: tuple[str, ...], allowed: bool) -> None:
    assert Authorisation.can_release(reviewer, author, BOT, OWNERS, reviewer_teams=teams) is allowed


def test_team_membership_checked_by_caller_releases_team_owned_paths() -> None:
    owners = {"src/auth/login.py": ["@acme/security"]}
    assert Authorisation.can_release("erin", "dave", BOT, owners) is False
    assert Authorisation.can_release("erin", "dave", BOT, owners, reviewer_teams=["@acme/security"])
    partial = Authorisation.releasable_paths(
        "erin", "dave", BOT, OWNERS, reviewer_teams=["@ACME/Security"]
    )
    assert partial == ["src/auth/login.py"]


def test_nothing_to_release_when_no_path_is_gated() -> None:
    assert Authorisation.can_release("alice", "dave", BOT, {}) is False


def test_bot_owned_paths_cannot_be_released_by_the_bot() -> None:
    owners = {"go.mod": ["@draftsmith[bot]"]}
    assert Authorisation.can_release("Draftsmith[bot]", "dave", BOT, owners) is False
