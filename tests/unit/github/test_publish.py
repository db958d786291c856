"""Publishing a run: branch pushed to a real bare remote, one draft PR, owners, one check run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx

from bot.github.branch import publish_branch
from bot.github.client import GitHubGateway, InstallationClient
from bot.github.objects import Publication, Published
from bot.github.publish import CHECK_NAME, publish
from bot.policy.decide import Decision, evaluate, load_default_policy
from bot.shared.contracts import Gate, PullRequestDraft, ReviewIssue, ReviewResult, ReviewStatus
from bot.shared.errors import GitHubError, PolicyError, WorkspaceError
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_git import BRANCH, RunRepos, make_run_repos
from tests.helpers.github_git_data import GitDataAPI
from tests.helpers.github_objects import check_run
from tests.unit.github.support import pull, token_body

REPO = "octo/widgets"
BODY = "Closes #7\n\n## Summary\nAdds the widget.\n\nDraftsmith run `12`, revision 0.\n"


@pytest.fixture
def client(api: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77 (its token from `api`)."""
    return gateway.installation(77, ["widgets"])


@pytest.fixture
def api(github_api: respx.MockRouter, repos: RunRepos) -> FakeGitHub:
    """GitHub's state for octo/widgets, with a CODEOWNERS on the default branch; its Git Data
    API works on the run's bare remote."""
    state = FakeGitHub(files={".github/CODEOWNERS": "* @lead\n"}, git=GitDataAPI(repos.remote))
    return state.install(github_api)


@pytest.fixture
def repos(tmp_path: Path) -> RunRepos:
    """A bare remote and the run's clone with one commit on its branch."""
    return make_run_repos(tmp_path)


def _decision(paths: list[str], owners: dict[str, list[str]] | None = None) -> Decision:
    return evaluate(paths, owners or {}, load_default_policy())


def _draft(gate: Gate = Gate.none, body: str = BODY) -> PullRequestDraft:
    labels = ["draftsmith", "needs-approval"] if gate is Gate.needs_approval else ["draftsmith"]
    return PullRequestDraft(title="Add widget", body=body, branch=BRANCH, labels=labels, gate=gate)


def _review(*issues: ReviewIssue) -> ReviewResult:
    return ReviewResult(status=ReviewStatus.approved, issues=list(issues), score=0.8)


def _issue(file: str | None, line: int | None, problem: str = "off by one") -> ReviewIssue:
    return ReviewIssue(
        severity="medium",  # type: ignore[arg-type]
        category="correctness",
        file=file,
        line=line,
        problem=problem,
        recommended_fix="count from zero",
    )


def _publish(
    client: InstallationClient,
    repos: RunRepos,
    *,
    draft: PullRequestDraft | None = None,
    decision: Decision | None = None,
    review: ReviewResult | None = None,
    existing_pr: int | None = None,
    changed_paths: list[str] | None = None,
    author: str | None = "alice",
) -> Published:
    publication = Publication(
        repo=REPO,
        clone_url=repos.url,
        draft=draft or _draft(),
        issue_number=7,
        base_branch="main",
        existing_pr=existing_pr,
        decision=decision or _decision(["src/widget.py"]),
        review=review,
        changed_paths=changed_paths,
        author=author,
        bot_login="draftsmith[bot]",
        run_id=12,
    )
    return publish(client, repos.workspace, publication)


def _shown(published: Published, body: str = BODY) -> str:
    """The body as published: the draft's, then how the commits reached GitHub."""
    return (
        f"{body}\nCommits: created through GitHub's Git Data API, signed by GitHub "
        f"(head `{published.head_sha[:12]}`).\n"
    )


def _responses(github_api: respx.MockRouter, method: str, path: str) -> list[httpx.Response]:
    return [
        c.response
        for c in github_api.calls
        if c.request.method == method and c.request.url.path == path
    ]


def _sent(github_api: respx.MockRouter, method: str, path: str) -> list[object]:
    return [
        json.loads(c.request.content) if c.request.content else None
        for c in github_api.calls
        if c.request.method == method and c.request.url.path == path
    ]


# ---------------------------------------------------------------------------- one PR


def test_publish_pushes_the_branch_and_opens_a_draft_pr_that_closes_the_issue(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    published = _publish(client, repos)

    assert repos.remote_sha() == repos.workspace.head()
    assert published.created and published.pr_number == 100
    created = _sent(github_api, "POST", "/repos/octo/widgets/pulls")
    assert created == [
        {"title": "Add widget", "body": _shown(published), "head": BRANCH, "base": "main",
         "draft": True}
    ]  # fmt: skip
    assert api.pulls[100]["draft"] is True
    assert published.pr_url == "https://github.com/octo/widgets/pull/100"


def test_publish_is_idempotent_across_retries(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    review = _review(_issue("src/widget.py", 2))
    first = _publish(client, repos, review=review)
    second = _publish(client, repos, review=review)

    assert len(_sent(github_api, "POST", "/repos/octo/widgets/pulls")) == 1
    assert len(api.pulls) == 1 and not second.created
    assert (second.pr_number, second.check_run_id) == (first.pr_number, first.check_run_id)
    assert len(api.check_runs) == 1
    assert len(api.annotations[first.check_run_id]) == 1  # not appended twice
    assert api.labels[first.pr_number] == ["draftsmith"]


def test_a_revision_updates_the_same_branch_and_pr_with_a_check_run_on_the_new_head(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    first = _publish(client, repos)
    old_head = repos.workspace.head()
    new_head = repos.commit("src/widget.py", "def widget():\n    return 3\n")
    revised = _draft(body=BODY.replace("revision 0", "revision 1"))

    new_tree = repos.workspace.git("rev-parse", f"{new_head}^{{tree}}").strip()

    second = _publish(client, repos, draft=revised)

    # GitHub's commit, on top of the first one, holding the workspace's tree; adopted locally
    published = repos.workspace.head()
    assert repos.remote_sha() == published == second.head_sha != old_head
    assert repos.workspace.git("rev-parse", f"{published}^{{tree}}").strip() == new_tree
    assert repos.workspace.git("rev-parse", f"{published}^").strip() == old_head
    assert second.pr_number == first.pr_number and len(api.pulls) == 1
    assert api.pulls[first.pr_number]["body"] == _shown(second, revised.body)
    assert second.check_run_id != first.check_run_id
    assert {r["head_sha"] for r in api.check_runs.values()} == {old_head, published}


def test_the_runs_known_pr_is_updated_when_found_by_number(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    first = _publish(client, repos)
    api.pulls[first.pr_number]["head"]["label"] = "octo:renamed"  # not found by branch

    second = _publish(client, repos, existing_pr=first.pr_number)

    assert second.pr_number == first.pr_number and not second.created
    assert len(_sent(github_api, "POST", "/repos/octo/widgets/pulls")) == 1


def test_a_closed_pr_of_the_run_is_never_replaced_by_a_second_one(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    first = _publish(client, repos)
    api.pulls[first.pr_number]["state"] = "closed"
    revision = repos.commit("src/widget.py", "def widget():\n    return 5\n")

    with pytest.raises(GitHubError, match="is closed; not opening a second one") as caught:
        _publish(client, repos, existing_pr=first.pr_number)

    assert "reopen" in caught.value.hint
    assert len(_sent(github_api, "POST", "/repos/octo/widgets/pulls")) == 1
    # found out before anything was made: the branch did not move, no commit was created
    assert repos.remote_sha() == first.head_sha and repos.workspace.head() == revision
    assert len(_sent(github_api, "POST", "/repos/octo/widgets/git/commits")) == 1


def test_an_unreadable_pull_request_listing_fails_before_the_branch_is_made(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    listed = pull(100)
    del listed["node_id"]  # a field Draftsmith reads (to release the gate)
    api.pulls[100] = listed

    with pytest.raises(GitHubError, match="'node_id' is missing"):
        _publish(client, repos)

    assert repos.remote_sha() is None and api.check_runs == {}


def test_a_pr_opened_concurrently_is_updated_not_duplicated(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    lookups = {"n": 0}
    list_route = next(r for r in github_api.routes if "pulls$" in str(r.pattern))
    real = list_route.side_effect
    assert callable(real)

    def late_lookup(request):  # type: ignore[no-untyped-def]
        lookups["n"] += 1
        response = real(request)
        if lookups["n"] == 1:  # another delivery opens the PR right after our lookup
            api.pulls[100] = _other_pr()
        return response

    list_route.side_effect = late_lookup
    published = _publish(client, repos)

    assert [r.status_code for r in _responses(github_api, "POST", "/repos/octo/widgets/pulls")] == [
        422
    ]
    assert not published.created and published.pr_number == 100 and len(api.pulls) == 1
    assert api.pulls[100]["body"] == _shown(published)


def _other_pr() -> dict[str, object]:
    return pull(100, head=BRANCH, body="opened by the other delivery")


def test_the_body_gets_closes_when_the_draft_lacks_it(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    published = _publish(client, repos, draft=_draft(body="## Summary\nAdds the widget.\n"))

    assert api.pulls[published.pr_number]["body"].startswith("Closes #7\n\n## Summary")


# ---------------------------------------------------------------------------- gate


def test_a_gated_change_is_labelled_and_its_check_asks_for_an_owner(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    decision = _decision([".github/workflows/ci.yml"], {".github/workflows/ci.yml": ["@ops"]})
    published = _publish(client, repos, draft=_draft(Gate.needs_approval), decision=decision)

    assert api.labels[published.pr_number] == ["draftsmith", "needs-approval"]
    run = api.check_runs[published.check_run_id]
    assert (run["status"], run["conclusion"]) == ("completed", "action_required")
    assert "@ops" in run["output"]["title"]
    assert "`.github/workflows/ci.yml`: `@ops`" in run["output"]["text"]
    assert run["details_url"] == published.pr_url


def test_a_revision_that_is_no_longer_gated_drops_the_needs_approval_label(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    gated = _decision(["pyproject.toml"], {"pyproject.toml": ["@lead"]})
    first = _publish(client, repos, draft=_draft(Gate.needs_approval), decision=gated)
    second = _publish(client, repos, decision=_decision(["src/widget.py"]))

    assert second.pr_number == first.pr_number
    assert api.labels[first.pr_number] == ["draftsmith"]
    assert api.check_runs[second.check_run_id]["conclusion"] == "success"


def test_a_blocked_change_never_leaves_the_workspace(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    decision = _decision([".env"])
    assert decision.gate is Gate.blocked

    with pytest.raises(PolicyError, match="blocked by policy"):
        _publish(client, repos, draft=_draft(Gate.blocked), decision=decision)

    assert repos.remote_sha() is None
    assert not github_api.calls


# ---------------------------------------------------------------------------- check run


def test_check_run_has_the_summary_and_one_annotation_per_located_review_issue(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    review = _review(
        _issue("src/widget.py", 2, "returns the wrong value"),
        _issue("src/widget.py", None, "no line"),
        _issue(None, None, "general"),
        _issue("src/other.py", 9, "unused import"),
    )
    published = _publish(client, repos, review=review)

    run = api.check_runs[published.check_run_id]
    assert run["name"] == CHECK_NAME and run["head_sha"] == repos.workspace.head()
    assert (run["conclusion"], run["output"]["summary"]) == ("success", _shown(published))
    assert run["external_id"] == "12"
    located = [
        (a["path"], a["start_line"], a["annotation_level"])
        for a in api.annotations[published.check_run_id]
    ]
    assert located == [("src/widget.py", 2, "warning"), ("src/other.py", 9, "warning")]
    assert "count from zero" in api.annotations[published.check_run_id][0]["message"]


def test_an_existing_draftsmith_check_on_the_head_is_reused(
    github_api: respx.MockRouter, client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    # the branch made by an earlier, killed attempt: the head is GitHub's commit
    base = repos.workspace.git("rev-parse", "main").strip()
    publish_branch(
        client, repos.workspace, repo=REPO, clone_url=repos.url, branch=BRANCH, base_sha=base
    )
    head = repos.workspace.head()
    api.check_runs[900] = check_run(900, name=CHECK_NAME, head_sha=head, status="in_progress")
    api.annotations[900] = []
    api.check_runs[901] = check_run(901, name=CHECK_NAME, head_sha=head, app_id=7)  # other app

    published = _publish(client, repos)

    assert published.check_run_id == 900
    assert not _sent(github_api, "POST", "/repos/octo/widgets/check-runs")
    query = next(
        c.request.url.params for c in github_api.calls if "/check-runs" in c.request.url.path
    )
    assert (query["check_name"], query["app_id"]) == (CHECK_NAME, "42")


# ---------------------------------------------------------------------------- reviewers

CODEOWNERS_CASES = {
    "last match wins": (
        {".github/CODEOWNERS": "* @lead\nsrc/ @alice @bob\nsrc/widget.py @carol\n"},
        ["src/widget.py"],
        ["carol"],
    ),
    "teams and users": (
        {".github/CODEOWNERS": "*.py @octo/backend @dave\n"},
        ["src/widget.py"],
        ["dave", "octo/backend"],
    ),
    "explicitly unowned": (
        {".github/CODEOWNERS": "* @lead\nsrc/widget.py\n"},
        ["src/widget.py"],
        [],
    ),
    "no CODEOWNERS file": ({}, ["src/widget.py"], []),
    "author and bot excluded": (
        {".github/CODEOWNERS": "* @alice @draftsmith[bot] @erin\n"},
        ["src/widget.py"],
        ["erin"],
    ),
    ".github wins over the root": (
        {".github/CODEOWNERS": "* @frank\n", "CODEOWNERS": "* @grace\n"},
        ["src/widget.py"],
        ["frank"],
    ),
    "root wins over docs": (
        {"CODEOWNERS": "* @grace\n", "docs/CODEOWNERS": "* @heidi\n"},
        ["src/widget.py"],
        ["grace"],
    ),
    "owners of every changed file": (
        {".github/CODEOWNERS": "/src/ @ivan\n/docs/ @judy\n"},
        ["src/widget.py", "docs/a.md", "README.md"],
        ["ivan", "judy"],
    ),
}


@pytest.mark.parametrize(
    ("files", "paths", "expected"), CODEOWNERS_CASES.values(), ids=list(CODEOWNERS_CASES)
)
def test_reviewers_are_the_code_owners_of_the_changed_files(
    github_api: respx.MockRouter,
    client: InstallationClient,
    api: FakeGitHub,
    repos: RunRepos,
    files: dict[str, str],
    paths: list[str],
    expected: list[str],
) -> None:
    api.files = dict(files)
    published = _publish(client, repos, changed_paths=paths)

    assert sorted(published.reviewers_requested) == sorted(expected)
    number = published.pr_number
    requested = api.reviewers.get(number, []) + [
        f"octo/{t}" for t in api.team_reviewers.get(number, [])
    ]
    assert sorted(requested) == sorted(expected)
    if not expected:
        assert not _sent(
            github_api, "POST", f"/repos/octo/widgets/pulls/{number}/requested_reviewers"
        )


def test_changed_files_default_to_the_diff_from_the_base_branch(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    api.files = {".github/CODEOWNERS": "*.md @docs-writer\nsrc/ @coder\n"}
    repos.commit("NOTES.md", "notes\n")

    published = _publish(client, repos)

    assert sorted(published.reviewers_requested) == ["coder", "docs-writer"]


def test_an_owner_github_refuses_is_logged_and_the_others_are_still_requested(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos, caplog: pytest.LogCaptureFixture
) -> None:
    api.files = {".github/CODEOWNERS": "* @kim @gone-user @octo/backend\n"}
    api.collaborators = {"kim"}

    with caplog.at_level(logging.WARNING, logger="bot.github.publish"):
        published = _publish(client, repos)

    assert published.reviewers_requested == ["kim", "octo/backend"]
    assert api.reviewers[published.pr_number] == ["kim"]
    assert any("gone-user cannot review" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------- secrets


def test_a_failed_push_to_an_https_remote_does_not_reveal_the_token(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    with pytest.raises(WorkspaceError) as caught:
        publication = Publication(
            repo=REPO,
            clone_url="https://127.0.0.1:9/octo/widgets.git",
            draft=_draft(),
            issue_number=7,
            base_branch="main",
            existing_pr=None,
            decision=_decision(["src/widget.py"]),
            review=None,
        )
        publish(client, repos.workspace, publication)

    token = str(token_body()["token"])
    assert token not in str(caught.value)
    assert "x-access-token" not in str(caught.value) or "***@" in str(caught.value)


def test_only_a_draftsmith_branch_is_force_pushed(
    client: InstallationClient, api: FakeGitHub, repos: RunRepos
) -> None:
    with pytest.raises(GitHubError, match="only draftsmith/ branches"):
        _publish(client, repos, draft=_draft().model_copy(update={"branch": "main"}))

    assert repos.remote_sha("main") != repos.workspace.head()
