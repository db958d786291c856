"""A second tree for the base, seen by the sandbox at the workspace's own path.

The new test files run alone twice, with the change and on the base, and each run pays for a
Python, pytest and project start (0.36x and 0.22x a plain run of Jinja's suite). In a copy of the
workspace they run beside the change's suite, on the machine's other core, instead of after it.

The copy holds what the suite is about to see: the prepared environment (`.venv`, an editable
install, build outputs) and every untracked file, copied (`cp -a`); git's objects are hard-linked
(git never writes one in place). The sandbox shows the copy at the workspace's path
(`Sandbox.run(mount_at=)`), so the venv's absolute paths and the editable install resolve into
the copy. The new test files run there first with the change; then the base is checked out in
the copy by git (`checkout --force --detach`), as `bot.testing.checkout` does in the workspace
itself, and the new test files run on it.

The copy is removed when the runs are done; one a worker killed while it existed left behind is
removed when the run's workspace is opened again (bot.run.resume) or a new copy is made.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.repo.workspace import Workspace
from bot.shared.errors import WorkspaceError
from bot.testing.checkout import overlay

logger = logging.getLogger(__name__)


def view_path(root: Path) -> Path:
    """Where the copy of the workspace at `root` lives: beside it, in the run's directory."""
    return root.with_name(f"{root.name}.base-view")


@contextmanager
def copied(workspace: Workspace) -> Iterator[Workspace]:
    """A copy of `workspace` as it is now (the change, its environment); removed afterwards."""
    git = workspace.root / ".git"
    if not git.is_dir() or git.is_symlink():
        # a `.git` file (a linked worktree) names metadata a checkout in the copy would move
        raise WorkspaceError(
            f"{workspace.root}/.git is not a directory: the base cannot be checked out in a copy",
            "run on a clone (Draftsmith's workspaces are clones), not a linked worktree",
        )
    dest = view_path(workspace.root)
    remove(dest)
    try:
        copy_tree(workspace.root, dest)
        yield Workspace(dest)
    finally:
        remove(dest)


def check_out_base(view: Workspace, base: str, contents: dict[str, str]) -> None:
    """The base (a commit) in the copy, the change's new test files written over it."""
    view.git("checkout", "--quiet", "--force", "--detach", base)
    overlay(view.root, contents)


def copy_tree(root: Path, dest: Path) -> None:
    """Copy `root` to the new directory `dest`, hard-linking `.git/objects` (see the docstring)."""
    dest.mkdir(parents=True)
    git = root / ".git"
    (dest / ".git").mkdir()
    _cp(["-a"], [p for p in root.iterdir() if p.name != ".git"], dest)
    _cp(["-a"], [p for p in git.iterdir() if p.name != "objects"], dest / ".git")
    if (git / "objects").is_dir():
        _cp(["-a", "-l"], [git / "objects"], dest / ".git")


def _cp(options: list[str], sources: list[Path], target: Path) -> None:
    if not sources:
        return
    argv = ["cp", *options, "--target-directory", str(target), "--", *map(str, sources)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WorkspaceError(
            f"could not copy the workspace for the base: {done.stderr.strip()[:500]}",
            "check the disk space of DRAFTSMITH_WORK_DIR",
        )


def remove(dest: Path) -> None:
    """Remove a copy, also where the tests took write permission away from a directory."""
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_symlink() or not dest.is_dir():
        dest.unlink()
        return
    shutil.rmtree(dest, onerror=_writable_and_retry)


def _writable_and_retry(func: Callable[..., Any], path: str, _exc: Any) -> None:
    parent = os.path.dirname(path)
    os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
    func(path)
