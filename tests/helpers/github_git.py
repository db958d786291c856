"""Real git repositories for publishing tests: a bare remote (`file://`) and a run's clone."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.repo.workspace import Workspace

BRANCH = "draftsmith/7-add-widget"


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stdout (raises on failure)."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@dataclass
class RunRepos:
    """A bare remote with `main`, and a run's workspace on its own branch with one commit."""

    remote: Path
    workspace: Workspace

    @property
    def url(self) -> str:
        """The remote as a `file://` clone URL."""
        return self.remote.as_uri()

    def remote_sha(self, branch: str = BRANCH) -> str | None:
        """The sha of `branch` on the remote, or None when it does not exist there."""
        out = git(self.remote, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out.strip() or None

    def commit(self, path: str, text: str, message: str = "draftsmith: revision") -> str:
        """Write a file in the workspace and commit it; returns the new head."""
        target = self.workspace.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return self.workspace.commit(message)


def make_run_repos(tmp_path: Path, files: dict[str, str] | None = None) -> RunRepos:
    """A bare remote whose `main` holds `files`, cloned, on the run's branch, with one change."""
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "--quiet", "--initial-branch=main")
    for path, text in (files or {"src/widget.py": "def widget():\n    return 1\n"}).items():
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).write_text(text)
    git(seed, "add", "--all")
    git(seed, "commit", "--quiet", "-m", "initial")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(seed), str(remote))
    workspace = Workspace.clone(remote.as_uri(), tmp_path / "run" / "repo")
    workspace.git("checkout", "--quiet", "-b", BRANCH)
    repos = RunRepos(remote, workspace)
    repos.commit("src/widget.py", "def widget():\n    return 2\n", "draftsmith: revision 0")
    return repos
