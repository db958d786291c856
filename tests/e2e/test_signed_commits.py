"""A repository whose branch protection requires signed commits: Draftsmith's branch is made of
commits created through the Git Data API, which GitHub signs, from the labelled issue to a
revision; the fake GitHub refuses any ref update to a commit it did not sign, as GitHub does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.run.states import Status
from bot.shared.config import Settings
from tests.e2e.test_github_flow import OWNERS, comment, labelled_run
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.repos import PYTHON_FILES, git, make_repo
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change

LOGO = bytes(range(256)) * 4000  # about 1 MB of bytes that are not UTF-8
SCRIPT = "#!/bin/sh\npython -c 'import calc; print(calc.add(1, 2))'\n"


@pytest.fixture
def protected(tmp_path: Path, fake_github: FakeGitHub) -> Path:
    """The bare remote: an executable script, a symlink, a binary logo and notes to delete;
    draftsmith/* branches require signed commits."""
    work = make_repo(
        tmp_path / "upstream",
        {**PYTHON_FILES, ".github/CODEOWNERS": OWNERS, "bin/calc.sh": SCRIPT, "NOTES.md": "x\n"},
    )
    os.chmod(work / "bin" / "calc.sh", 0o755)
    os.symlink("__init__.py", work / "calc" / "latest.py")
    (work / "docs").mkdir()
    (work / "docs" / "logo.png").write_bytes(LOGO)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "script, link and logo")
    bare = tmp_path / "widgets.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    fake_github.serve_git(bare, signed_branches=["draftsmith/*"])
    return bare


def every_kind_of_change(body: str) -> dict[str, object]:
    """The change adds subtract, rewrites the executable script and deletes the notes."""
    edits = change(body)
    edits["edits"] += [  # type: ignore[operator]
        {"path": "bin/calc.sh", "operation": "update", "content": SCRIPT + "echo done\n"},
        {"path": "NOTES.md", "operation": "delete"},
    ]
    return edits


def listing(bare: Path, rev: str) -> dict[str, str]:
    """path -> "mode type sha" of every entry of `rev`'s tree."""
    rows = git(bare, "ls-tree", "-r", rev).splitlines()
    return {row.split("\t", 1)[1]: row.split("\t", 1)[0] for row in rows}


def test_a_protected_repository_gets_a_branch_of_verified_commits_holding_the_workspace(
    settings: Settings,
    fake_github: FakeGitHub,
    protected: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_github.permissions.update({"carol": "write"})
    fake_github.files[".github/CODEOWNERS"] = OWNERS
    script = {
        "planner": [PLAN],
        "coder": [every_kind_of_change("return a - b"), change("return a - b  # revised")],
        "reviewer": [APPROVED, APPROVED],
        "tester": [TESTS, TESTS],
    }
    model = ScriptedModel(script)
    data = fake_github.git
    assert data is not None
    with labelled_run(settings, model, monkeypatch, protected.as_uri()) as h:
        run = h.runtime.store.list_runs()[0]
        assert run.status == Status.approved, run.status_reason
        assert run.branch is not None and run.head_sha is not None
        workspace = settings.work_dir / f"run-{run.id}" / "repo"
        first = run.head_sha
        assert h.deliver("issue_comment", comment("/draftsmith revise tidy it", "carol")) == 202
        h.settle()
        revised = h.runtime.store.get_run(run.id)
        assert revised.status == Status.approved and revised.revision == 1, revised.status_reason
        workspace_tree = git(workspace, "rev-parse", "HEAD^{tree}").strip()

    head = data.branch_sha(run.branch)
    assert head == revised.head_sha != first
    # every commit of the branch was made through the API and signed; none was refused
    made = git(protected, "rev-list", run.branch, "--not", "main").split()
    assert first in made and len(made) >= 2 and set(made) <= data.verified
    for sha in made:
        verification = data.commit_body(sha)["verification"]
        assert (verification["verified"], verification["reason"]) == (True, "valid")
    assert data.refused == []
    assert git(protected, "merge-base", "--is-ancestor", first, head) == ""  # on top
    # GitHub's tree is the workspace's, modes, link, binary and deletion included
    assert git(protected, "rev-parse", f"{head}^{{tree}}").strip() == workspace_tree
    entries, base = listing(protected, head), listing(protected, "main")
    assert entries["bin/calc.sh"].startswith("100755 blob")
    assert entries["bin/calc.sh"] != base["bin/calc.sh"]
    assert git(protected, "show", f"{head}:bin/calc.sh").endswith("echo done\n")
    assert entries["calc/latest.py"] == base["calc/latest.py"]
    assert entries["calc/latest.py"].startswith("120000 blob")
    assert entries["docs/logo.png"] == base["docs/logo.png"]
    assert "NOTES.md" in base and "NOTES.md" not in entries
    pr = fake_github.pulls[revised.pr_number]
    assert "Commits: created through GitHub's Git Data API, signed by GitHub" in pr["body"]
    assert fake_github.unexpected == []
