"""Steps of the run core against in-process doubles of its ports: no HTTP, no real sandbox.

The model, GitHub and the sandbox are the doubles of tests/helpers/doubles.py; the store is the
real one on a SQLite file (its queries are part of what runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.policy.decide import Policy, load_default_policy
from bot.repo.workspace import Workspace
from bot.run.context import RunContext, Services
from bot.run.engine import Engine
from bot.run.guard import Spent, StepGuard
from bot.run.ports import GitHubEffects, Model, RunStore, Sandbox
from bot.run.states import Phase, Status
from bot.run.steps.deploying import steering_revoked
from bot.sandbox.base import Limits
from bot.shared.config import Settings
from bot.shared.contracts import ImplementationPlan
from bot.store.runs import Store
from bot.store.tables import Run
from bot.store.vocabulary import EventKind
from tests.helpers.doubles import FakeGitHubEffects, FakeModel, FakeSandbox
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripts import PLAN

REPO = "octo/calc"
ISSUE = 3


@dataclass
class World:
    """A GitHub run on the calc repository, its engine and the doubles it talks to."""

    store: Store
    run: Run
    engine: Engine
    model: FakeModel
    github: FakeGitHubEffects
    sandbox: FakeSandbox


def world(tmp_path: Path, store: Store, policy: Policy) -> World:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    run, _ = store.create_run(
        repo=REPO,
        issue_number=ISSUE,
        clone_url=str(repo),
        title="Add subtract",
        request="Please add subtract(a, b) to calc.",
        installation_id=11,
        requested_by="alice",
    )
    model = FakeModel({"planner": [ImplementationPlan.model_validate(PLAN)]})
    github = FakeGitHubEffects(writers={"alice"})
    sandbox = FakeSandbox()
    settings = Settings(database_url="sqlite://", work_dir=tmp_path / "work", model="fake-model")
    engine = Engine(
        settings,
        store,
        sandbox_factory=lambda: sandbox,
        llm_factory=lambda _config: model,
        github_for_run=lambda _run: github,
        base_policy=policy,
    )
    return World(store, run, engine, model, github, sandbox)


def test_the_doubles_are_the_ports(tmp_path: Path, sqlite_store: Store) -> None:
    """`make lint` runs mypy --strict on this file: these assignments check that the doubles
    satisfy the Protocols structurally, as the adapters do where the composition root wires them."""
    model: Model = FakeModel({})
    github: GitHubEffects = FakeGitHubEffects()
    sandbox: Sandbox = FakeSandbox()
    store: RunStore = sqlite_store
    assert (model.guard, github.has_write_access(REPO, "x"), sandbox.name) == (None, False, "fake")
    assert store.list_runs() == []


def test_planning_posts_the_plan_for_approval_through_the_github_port(
    tmp_path: Path, sqlite_store: Store
) -> None:
    policy = load_default_policy().model_copy(update={"require_plan_approval": True})
    w = world(tmp_path, sqlite_store, policy)

    run = w.engine.advance(w.run.id)

    assert (run.phase, run.status) == (Phase.plan_approval, Status.waiting)
    marker = f"<!-- draftsmith:plan:{run.id} -->"
    assert list(w.github.comments) == [(REPO, ISSUE, marker)]
    assert PLAN["summary"] in w.github.comments[(REPO, ISSUE, marker)]
    assert [role for role, _ in w.model.asked] == ["planner"]
    calls = w.store.events(run.id, EventKind.model_call)
    assert [e.message for e in calls] == ["planner"]
    assert run.tokens_used == calls[0].data["total_tokens"] > 0
    assert w.github.published == []


def test_a_model_call_over_the_token_budget_ends_the_run_before_the_model_answers(
    tmp_path: Path, sqlite_store: Store
) -> None:
    default = load_default_policy()
    budgets = default.budgets.model_copy(update={"max_tokens": 10})
    w = world(tmp_path, sqlite_store, default.model_copy(update={"budgets": budgets}))

    run = w.engine.advance(w.run.id)

    assert run.status == Status.needs_human_review
    assert run.status_reason is not None and "token budget reached" in run.status_reason
    assert w.model.asked == []  # the guard refused the call: nothing was asked or spent
    assert run.tokens_used == 0
    assert w.github.published == []  # no code yet: nothing to publish


def test_deploying_finds_a_steerer_who_lost_write_access(
    tmp_path: Path, sqlite_store: Store
) -> None:
    w = world(tmp_path, sqlite_store, load_default_policy())
    store, run = w.store, w.run
    store.add_event(run.id, EventKind.input, "faster", {"author": "dana", "source": "comment"})
    store.add_event(run.id, EventKind.input, "red", {"author": "ci", "source": "check_suite"})
    services = Services(
        settings=w.engine.services.settings,
        store=store,
        sandbox_factory=lambda: w.sandbox,
        llm_factory=lambda _config: w.model,
        base_policy=load_default_policy(),
        limits=Limits(),
        github_for_run=lambda _run: w.github,
    )
    guard = StepGuard(
        store, run.id, services.base_policy.budgets, Spent(0, 0.0, 0), datetime.now(UTC), {}
    )
    workspace = Workspace(tmp_path / "calc")
    ctx = RunContext(run, workspace, services.base_policy, None, w.model, services, guard)

    assert steering_revoked(ctx, w.github) == "dana"  # CI is no person steering the run
    w.github.writers.add("dana")
    assert steering_revoked(ctx, w.github) is None
