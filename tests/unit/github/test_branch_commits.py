"""The run's branch made of commits created through the Git Data API (signed by GitHub), on a
fake GitHub whose Git Data API works on the real bare remote behind the clone URL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
import respx

from bot.github.branch import BranchPublished, publish_branch
from bot.github.client import GitHubGateway, InstallationClient
from bot.github.objects import Via
from bot.shared.errors import GitHubError
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_git import BRANCH, RunRepos, git, make_run_repos
from tests.helpers.github_git_data import GitDataAPI

REPO = "octo/widgets"
BINARY = bytes(range(256)) * 5000  # 1.28 MB, not UTF-8: sent base64


@pytest.fixture
def client(github: FakeGitHub, gateway: GitHubGateway) -> InstallationClient:
    """A client for installation 77 (its token from `github`)."""
    return gateway.installation(77, ["widgets"])


@pytest.fixture
def repos(tmp_path: Path) -> RunRepos:
    """A bare remote whose main has a script, a doc and a link, and the run's clone."""
    return make_run_repos(
        tmp_path, {"src/widget.py": "def widget():\n    return 1\n", "docs/old.md": "old\n"}
    )


@pytest.fixture
def github(github_api: respx.MockRouter, repos: RunRepos) -> FakeGitHub:
    """GitHub, its Git Data API on the bare remote; draftsmith/* requires signed commits."""
    data = GitDataAPI(repos.remote, signed_branches=["draftsmith/*"])
    return FakeGitHub(git=data).install(github_api)


@pytest.fixture
def fake(github: FakeGitHub) -> GitDataAPI:
    """GitHub's Git Data API on the bare remote."""
    assert github.git is not None
    return github.git


def _base(repos: RunRepos) -> str:
    return repos.workspace.git("rev-parse", "main").strip()


def _publish(client: InstallationClient, repos: RunRepos) -> BranchPublished:
    return publish_branch(
        client,
        repos.workspace,
        repo=REPO,
        clone_url=repos.url,
        branch=BRANCH,
        base_sha=_base(repos),
    )


def _tree(cwd: Path, rev: str) -> str:
    return git(cwd, "rev-parse", f"{rev}^{{tree}}").strip()


def _every_kind_of_change(repos: RunRepos) -> str:
    root = repos.workspace.root
    (root / "bin").mkdir()
    (root / "bin" / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "bin" / "run.sh", 0o755)
    os.symlink("../src/widget.py", root / "bin" / "widget.py")
    (root / "assets").mkdir()
    (root / "assets" / "logo.bin").write_bytes(BINARY)
    (root / "docs" / "old.md").unlink()
    return repos.workspace.commit("draftsmith: every kind of change")


def _sent(router: respx.MockRouter, method: str, suffix: str) -> list[dict[str, object]]:
    return [
        json.loads(c.request.content)
        for c in router.calls
        if c.request.method == method and c.request.url.path.endswith(suffix)
    ]


def test_commits_are_made_through_the_api_verified_and_hold_the_workspaces_tree(
    github_api: respx.MockRouter, client: InstallationClient, repos: RunRepos, fake: GitDataAPI
) -> None:
    local = _every_kind_of_change(repos)
    local_tree = _tree(repos.workspace.root, local)

    published = _publish(client, repos)

    head = repos.remote_sha()
    assert published.via is Via.git_data_api and head == published.sha != local
    assert _tree(repos.remote, head) == local_tree  # executable, symlink, binary, deletion
    listing = git(repos.remote, "ls-tree", "-r", head)
    assert "100755 blob" in listing.split("bin/run.sh")[0].splitlines()[-1]
    assert "120000 blob" in listing.split("bin/widget.py")[0].splitlines()[-1]
    assert "docs/old.md" not in listing
    new = git(repos.remote, "rev-list", head, "--not", "main").split()
    assert len(new) == 2 and set(new) == set(published.created) <= fake.verified
    assert all(c["verification"]["verified"] for c in map(fake.commit_body, new))
    encodings = [b["encoding"] for b in _sent(github_api, "POST", "/git/blobs")]
    assert sorted(encodings) == ["base64", "utf-8", "utf-8", "utf-8"]
    trees = _sent(github_api, "POST", "/git/trees")
    assert {"path": "docs/old.md", "mode": "100644", "type": "blob", "sha": None} in [
        e
        for t in trees
        for e in t["tree"]  # type: ignore[attr-defined]
    ]
    # the workspace adopted GitHub's commits: same tree, so nothing to commit or push
    assert repos.workspace.head() == head
    assert repos.workspace.git("status", "--porcelain") == ""
    assert fake.refused == []


def test_a_revision_is_a_fast_forward_on_top_and_a_rerun_makes_nothing_new(
    github_api: respx.MockRouter, client: InstallationClient, repos: RunRepos, fake: GitDataAPI
) -> None:
    first = _publish(client, repos)
    repos.commit("src/widget.py", "def widget():\n    return 3\n")

    second = _publish(client, repos)
    again = _publish(client, repos)

    assert git(repos.remote, "rev-parse", f"{second.sha}^").strip() == first.sha
    assert [u["force"] for u in _sent(github_api, "PATCH", f"/git/refs/heads/{BRANCH}")] == [False]
    assert again == BranchPublished(second.sha, Via.git_data_api)  # reused: no commit made
    assert len(_sent(github_api, "POST", "/git/commits")) == 2


def test_a_kill_before_the_ref_moved_or_before_adopting_leaves_one_branch_with_the_tree(
    github_api: respx.MockRouter,
    client: InstallationClient,
    repos: RunRepos,
    fake: GitDataAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_tree = _tree(repos.workspace.root, "HEAD")

    class Killed(BaseException):
        pass

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:  # killed after the commit, before the ref
        patch.setattr("bot.github.gitdata.GitData.create_branch", killed)
        with pytest.raises(Killed):
            _publish(client, repos)
    assert repos.remote_sha() is None
    with monkeypatch.context() as patch:  # killed after the ref moved, before adopting
        patch.setattr("bot.github.branch._adopt", killed)
        with pytest.raises(Killed):
            _publish(client, repos)
    made = repos.remote_sha()

    rerun = _publish(client, repos)

    assert rerun.sha == made == repos.workspace.head() and rerun.created == ()
    assert _tree(repos.remote, made) == local_tree and made in fake.verified


def test_a_stale_branch_not_built_on_the_base_is_replaced_by_force(
    github_api: respx.MockRouter, client: InstallationClient, repos: RunRepos, fake: GitDataAPI
) -> None:
    orphan_tree = fake.git("mktree", stdin=b"").strip()
    orphan = git(repos.remote, "commit-tree", orphan_tree, "-m", "stale").strip()
    git(repos.remote, "update-ref", f"refs/heads/{BRANCH}", orphan)
    fake.verified.add(orphan)

    published = _publish(client, repos)

    assert git(repos.remote, "rev-parse", f"{published.sha}^").strip() == _base(repos)
    assert [u["force"] for u in _sent(github_api, "PATCH", f"/git/refs/heads/{BRANCH}")] == [True]


def test_protection_refuses_a_commit_github_did_not_sign(
    client: InstallationClient, repos: RunRepos, fake: GitDataAPI
) -> None:
    from bot.github.gitdata import GitData

    first = _publish(client, repos)
    unsigned = repos.commit("src/widget.py", "def widget():\n    return 4\n")
    repos.workspace.git("push", "--quiet", repos.url, f"{unsigned}:refs/heads/elsewhere")
    git(repos.remote, "update-ref", "-d", "refs/heads/elsewhere")  # the object stays

    with pytest.raises(GitHubError, match="verified signatures") as caught:
        GitData(client.github).move_branch(REPO, BRANCH, unsigned, force=False)

    assert caught.value.status == 422 and repos.remote_sha() == first.sha


@pytest.mark.parametrize("status", [404, 403], ids=["api-absent", "api-forbidden"])
def test_where_the_git_data_api_cannot_serve_the_branch_is_pushed_and_says_so(
    github: FakeGitHub, client: InstallationClient, repos: RunRepos, status: int
) -> None:
    answer = httpx.Response(status, json={"message": "Not Found" if status == 404 else "Forbidden"})
    github.script("GET", f"/repos/octo/widgets/git/ref/heads/{BRANCH}", httpx.Response(404))
    github.script("POST", "/repos/octo/widgets/git/blobs", answer)

    published = _publish(client, repos)

    assert published.via is Via.git_push and published.sha == repos.workspace.head()
    assert published.fallback_reason == f"the Git Data API answered {status}"
    assert repos.remote_sha() == repos.workspace.head()
