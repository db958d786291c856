"""The policy gate on GitHub: released only by a code owner's approval; CI repair context."""

from __future__ import annotations

import pytest
import respx

from bot.github.client import GitHubGateway, InstallationClient
from bot.github.gate import ReleaseOutcome, release_on_review, repair_context
from bot.policy.decide import Decision, evaluate, load_default_policy
from bot.shared.errors import GitHubError
from tests.helpers import github_objects as objects
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_objects import annotation, check_run
from tests.unit.github.support import pull

REPO = "octo/widgets"
HEAD = "ce587453ced02b1526dfb4cb910479d431683101"
WORKFLOW = ".github/workflows/ci.yml"
MANIFEST = "pyproject.toml"


@pytest.fixture
def client(fake_github: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77."""
    return gateway.installation(77, ["widgets"])


@pytest.fixture
def api(fake_github: FakeGitHub) -> FakeGitHub:
    """A gated draft PR #100 with its action_required check run 501."""
    state = fake_github
    state.pulls[100] = pull(100, draft=True)
    state.labels[100] = ["draftsmith", "needs-approval"]
    state.check_runs[501] = check_run(
        501,
        name="draftsmith",
        head_sha=HEAD,
        conclusion="action_required",
        output={"title": "Needs an approving review", "summary": "Closes #7\n\nevidence"},
    )
    state.annotations[501] = []
    return state


def _decision(owners: dict[str, list[str]]) -> Decision:
    return evaluate(list(owners), owners, load_default_policy())


def _review(
    client: InstallationClient,
    decision: Decision,
    *,
    state: str = "approved",
    reviewer: str = "olivia",
    author: str = "alice",
    head_sha: str | None = None,
    review_commit: str | None = None,
) -> ReleaseOutcome:
    return release_on_review(
        client,
        repo=REPO,
        pr_number=100,
        review_state=state,
        reviewer=reviewer,
        pr_author=author,
        bot_login="draftsmith[bot]",
        decision=decision,
        check_run_id=501,
        pr_node_id="PR_kwDOA100",
        head_sha=head_sha,
        review_commit=review_commit,
    )


def _nothing_changed(api: FakeGitHub) -> None:
    assert api.check_runs[501]["conclusion"] == "action_required"
    assert api.labels[100] == ["draftsmith", "needs-approval"]
    assert api.pulls[100]["draft"] is True and not api.ready_marked


def _released(api: FakeGitHub) -> None:
    run = api.check_runs[501]
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["output"]["summary"].endswith("Closes #7\n\nevidence")
    assert api.labels[100] == ["draftsmith"]
    assert api.pulls[100]["draft"] is False and api.ready_marked == ["PR_kwDOA100"]


def test_an_approval_by_the_code_owner_releases_the_gate(
    client: InstallationClient, api: FakeGitHub
) -> None:
    outcome = _review(client, _decision({WORKFLOW: ["@olivia"]}), state="APPROVED")

    assert outcome.released and outcome.released_paths == [WORKFLOW]
    assert "@olivia" in api.check_runs[501]["output"]["summary"]
    _released(api)


REFUSALS = {
    "the author, though an owner": ("approved", "alice", "wrote the change"),
    "the bot": ("approved", "draftsmith[bot]", "its own change"),
    "a non-owner writer": ("approved", "mallory", "still waiting for an owner of"),
    "a comment by the owner": ("commented", "olivia", "a commented review does not release"),
    "changes requested by the owner": ("changes_requested", "olivia", "changes_requested review"),
    "a dismissed approval": ("dismissed", "olivia", "dismissed review"),
}


@pytest.mark.parametrize(("state", "reviewer", "why"), REFUSALS.values(), ids=list(REFUSALS))
def test_other_reviews_release_nothing(
    github_api: respx.MockRouter,
    client: InstallationClient,
    api: FakeGitHub,
    state: str,
    reviewer: str,
    why: str,
) -> None:
    decision = _decision({WORKFLOW: ["@olivia", "@alice"]})

    outcome = _review(client, decision, state=state, reviewer=reviewer)

    assert not outcome.released and why in outcome.reason
    _nothing_changed(api)
    writes = [
        c.request.url.path
        for c in github_api.calls
        if c.request.method in ("PATCH", "DELETE", "POST")
        and "access_tokens" not in str(c.request.url)
    ]
    # An approval that releases only part (here: nothing) says on the check run who is awaited.
    said = (
        ["/repos/octo/widgets/check-runs/501"]
        if state == "approved" and why.startswith("still")
        else []
    )
    assert writes == said


def test_an_approval_of_an_older_commit_does_not_release_the_gate(
    client: InstallationClient, api: FakeGitHub
) -> None:
    outcome = release_on_review(
        client,
        repo=REPO,
        pr_number=100,
        review_state="approved",
        reviewer="olivia",
        pr_author="alice",
        bot_login="draftsmith[bot]",
        decision=_decision({WORKFLOW: ["@olivia"]}),
        check_run_id=501,
        pr_node_id="PR_kwDOA100",
        review_commit="0" * 40,
        head_sha=HEAD,
    )

    assert not outcome.released and "approve the latest revision" in outcome.reason
    _nothing_changed(api)


def test_an_owner_of_only_some_gated_paths_does_not_release_it(
    client: InstallationClient, api: FakeGitHub
) -> None:
    decision = _decision({WORKFLOW: ["@olivia"], MANIFEST: ["@pete"]})

    outcome = _review(client, decision)

    assert not outcome.released
    assert (outcome.released_paths, outcome.pending_paths) == ([WORKFLOW], [MANIFEST])
    assert f"{MANIFEST} (@pete)" in outcome.reason
    _nothing_changed(api)


def _role(api: FakeGitHub, login: str, permission: str, role: str) -> None:
    api.permissions[login], api.roles[login] = permission, role


def test_a_gated_path_without_owner_is_not_released_by_a_mere_writer(
    client: InstallationClient, api: FakeGitHub
) -> None:
    _role(api, "olivia", "write", "write")
    decision = _decision({WORKFLOW: ["@olivia"], MANIFEST: []})

    outcome = _review(client, decision)

    assert not outcome.released and "no code owner: a maintainer or an admin" in outcome.reason
    _nothing_changed(api)


def test_a_maintainer_stands_in_for_missing_code_owners(
    client: InstallationClient, api: FakeGitHub
) -> None:
    _role(api, "olivia", "write", "maintain")
    decision = _decision({WORKFLOW: ["@olivia"], MANIFEST: []})

    outcome = _review(client, decision)

    assert outcome.released, outcome.reason
    _released(api)


def test_an_ungated_change_is_not_touched(client: InstallationClient, api: FakeGitHub) -> None:
    decision = evaluate(["src/widget.py"], {"src/widget.py": ["@olivia"]}, load_default_policy())

    outcome = _review(client, decision)

    assert not outcome.released and "not waiting for approval" in outcome.reason
    _nothing_changed(api)


# ---------------------------------------------------------------------------- teams

TEAMS = {
    "active member releases": ({"octo/ops": {"olivia": "active"}}, True),
    "pending member does not": ({"octo/ops": {"olivia": "pending"}}, False),
    "non-member does not": ({"octo/ops": {"someone": "active"}}, False),
}


@pytest.mark.parametrize(("teams", "releases"), TEAMS.values(), ids=list(TEAMS))
def test_a_team_owner_is_checked_by_membership(
    github_api: respx.MockRouter,
    client: InstallationClient,
    api: FakeGitHub,
    teams: dict[str, dict[str, str]],
    releases: bool,
) -> None:
    api.teams = teams

    outcome = _review(client, _decision({WORKFLOW: ["@octo/ops"]}))

    asked = [c.request.url.path for c in github_api.calls if "/memberships/" in c.request.url.path]
    assert asked == ["/orgs/octo/teams/ops/memberships/olivia"]
    assert outcome.released is releases
    if releases:
        _released(api)
    else:
        _nothing_changed(api)


def test_a_direct_owner_needs_no_membership_lookup(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub
) -> None:
    outcome = _review(client, _decision({WORKFLOW: ["@olivia", "@octo/ops"]}))

    assert outcome.released
    assert not [c for c in github_api.calls if "/memberships/" in c.request.url.path]


def test_a_membership_lookup_github_refuses_is_an_error_not_a_release(
    client: InstallationClient, api: FakeGitHub
) -> None:
    api.membership_refused = True

    with pytest.raises(GitHubError, match="403") as caught:
        _review(client, _decision({WORKFLOW: ["@octo/ops"]}))

    assert "permission" in caught.value.hint
    _nothing_changed(api)


# ---------------------------------------------------------------------------- CI repair


def test_repair_context_condenses_the_failing_runs_of_the_suite(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    noise = "\n".join(f"\x1b[32mok\x1b[0m step {i}" for i in range(400))
    log = f"{noise}\nE   AssertionError: assert 2 == 3\nFAILED tests/test_widget.py::test_widget"
    fake_github.suites[5] = [
        check_run(1, name="lint", head_sha=HEAD, conclusion="success"),
        check_run(
            2,
            name="tests",
            head_sha=HEAD,
            conclusion="failure",
            output={"title": "1 failed", "summary": "pytest", "text": log},
        ),
        check_run(
            3,
            name="types",
            head_sha=HEAD,
            conclusion="failure",
            output={"title": "mypy", "summary": "1 error", "annotations_count": 1},
        ),
        check_run(4, name="draftsmith", head_sha=HEAD, conclusion="action_required"),
    ]
    fake_github.annotations[3] = [
        annotation("src/widget.py", 2, "failure", "Incompatible return value type")
    ]

    text = repair_context(client, REPO, 5)

    assert text.startswith("The repository's CI failed (2 check run(s)):")
    assert "### tests: failure" in text and "### types: failure" in text
    assert "lint" not in text and "draftsmith" not in text
    assert "AssertionError: assert 2 == 3" in text and "FAILED tests/test_widget.py" in text
    assert "- src/widget.py:2: [failure] Incompatible return value type" in text
    assert "\x1b[" not in text and "step 5\n" not in text
    assert len(text) < 4_000


def test_repair_context_is_bounded(fake_github: FakeGitHub, client: InstallationClient) -> None:
    runs = [
        check_run(
            i,
            name=f"job-{i}",
            head_sha=HEAD,
            conclusion="failure",
            output={"title": "failed", "summary": "error: boom " * 300},
        )
        for i in range(10, 30)
    ]
    fake_github.suites[5] = runs

    text = repair_context(client, REPO, 5, limit=2_000)

    assert len(text) <= 2_000 and text.endswith("…")


def test_repair_context_is_empty_when_nothing_failed(
    fake_github: FakeGitHub, client: InstallationClient
) -> None:
    fake_github.suites[5] = [check_run(1, name="tests", head_sha=HEAD, conclusion="success")]

    assert repair_context(client, REPO, 5) == ""


# ------------------------------------------------------------------ approvals of several owners
OLD = "0" * 40
TWO_TEAMS = {WORKFLOW: ["@octo/infra"], MANIFEST: ["@octo/deps"]}


@pytest.fixture
def two_teams(api: FakeGitHub) -> FakeGitHub:
    """Olivia is in octo/infra (the workflow's owners), pete in octo/deps (the manifest's)."""
    api.teams = {"octo/infra": {"olivia": "active"}, "octo/deps": {"pete": "active"}}
    return api


def test_approvals_of_owners_of_different_paths_add_up(
    client: InstallationClient, two_teams: FakeGitHub
) -> None:
    two_teams.reviews[100] = [objects.review(1, "olivia", "APPROVED", HEAD)]

    outcome = _review(client, _decision(TWO_TEAMS), reviewer="pete", head_sha=HEAD)

    assert outcome.released and outcome.released_paths == [WORKFLOW, MANIFEST]
    assert "@pete" in outcome.reason and "@olivia" in outcome.reason
    _released(two_teams)


def test_the_first_of_two_owners_releases_nothing_and_the_check_run_says_who_is_awaited(
    client: InstallationClient, two_teams: FakeGitHub
) -> None:
    outcome = _review(client, _decision(TWO_TEAMS), reviewer="olivia", head_sha=HEAD)

    assert not outcome.released and outcome.pending_paths == [MANIFEST]
    summary = two_teams.check_runs[501]["output"]["summary"]
    assert f"`{MANIFEST}`: @octo/deps" in summary and WORKFLOW not in summary.split("evidence")[0]
    assert summary.endswith("Closes #7\n\nevidence")
    _nothing_changed(two_teams)

    two_teams.reviews[100] = [objects.review(1, "olivia", "APPROVED", HEAD)]
    again = _review(client, _decision(TWO_TEAMS), reviewer="pete", head_sha=HEAD)
    assert again.released
    _released(two_teams)
    assert "Still waiting" not in two_teams.check_runs[501]["output"]["summary"]


@pytest.mark.parametrize(
    "earlier",
    [
        [objects.review(1, "olivia", "APPROVED", OLD)],
        [
            objects.review(1, "olivia", "APPROVED", HEAD),
            objects.review(2, "olivia", "CHANGES_REQUESTED", HEAD),
        ],
        [
            objects.review(1, "olivia", "APPROVED", HEAD),
            objects.review(2, "olivia", "DISMISSED", HEAD),
        ],
    ],
    ids=["approval-of-an-older-head", "then-changes-requested", "then-dismissed"],
)
def test_only_standing_approvals_of_the_current_head_count(
    client: InstallationClient, two_teams: FakeGitHub, earlier: list[dict[str, object]]
) -> None:
    two_teams.reviews[100] = earlier

    outcome = _review(client, _decision(TWO_TEAMS), reviewer="pete", head_sha=HEAD)

    assert not outcome.released and outcome.pending_paths == [WORKFLOW]
    _nothing_changed(two_teams)


def test_a_later_comment_does_not_withdraw_an_approval(
    client: InstallationClient, two_teams: FakeGitHub
) -> None:
    two_teams.reviews[100] = [
        objects.review(1, "olivia", "APPROVED", HEAD),
        objects.review(2, "olivia", "COMMENTED", HEAD),
    ]

    assert _review(client, _decision(TWO_TEAMS), reviewer="pete", head_sha=HEAD).released


def test_the_authors_own_approval_never_counts(
    client: InstallationClient, two_teams: FakeGitHub
) -> None:
    two_teams.teams["octo/infra"]["alice"] = "active"
    two_teams.reviews[100] = [objects.review(1, "alice", "APPROVED", HEAD)]

    outcome = _review(client, _decision(TWO_TEAMS), reviewer="pete", head_sha=HEAD)

    assert not outcome.released and outcome.pending_paths == [WORKFLOW]
