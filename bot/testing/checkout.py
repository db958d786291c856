"""The base commit in the workspace itself, for runs that must import the base code.

The prepared environment (an editable install in `.venv`) points at the workspace's path, so the
base is checked out in place rather than in a second tree: the same interpreter, the same
installed dependencies, the base's own code. A marker records what to return to, so a worker
killed while the base is checked out leaves a workspace that `restore` puts back on resume.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.repo.workspace import Workspace
from bot.shared.errors import WorkspaceError

logger = logging.getLogger(__name__)

MARKER = ".draftsmith/on-base"


def restore(workspace: Workspace) -> bool:
    """Return the workspace to the change if a base checkout was left behind; True if it was.

    The marker lies in the workspace, which sandboxed code can write: a ref that is not a commit
    is refused (WorkspaceError; on resume the workspace is then rebuilt from the artifacts)."""
    marker = workspace.root / MARKER
    if not marker.exists():
        return False
    _checkout(workspace, marker.read_text().strip())
    marker.unlink()
    return True


def _checkout(workspace: Workspace, ref: str) -> None:
    if not ref or ref.startswith("-"):
        raise WorkspaceError(f"the base-checkout marker names no ref: {ref[:80]!r}")
    workspace.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    workspace.git("checkout", "--quiet", "--force", ref)
    logger.info("workspace %s returned from the base to %s", workspace.root, ref)


def _current_ref(workspace: Workspace) -> str:
    try:
        return workspace.git("symbolic-ref", "--quiet", "--short", "HEAD").strip()
    except WorkspaceError:
        return workspace.head()


@contextmanager
def base_checked_out(workspace: Workspace, base: str) -> Iterator[Path]:
    """Check out `base` (detached) in the workspace, yield its root, then return to the change."""
    restore(workspace)
    marker = workspace.root / MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    ref = _current_ref(workspace)
    marker.write_text(ref + "\n")
    try:
        # --force: the change is committed; files the suite rewrote are its own leftovers
        workspace.git("checkout", "--quiet", "--force", "--detach", base)
        yield workspace.root
    finally:  # to the ref held here, not the marker's (the tests could rewrite that)
        _checkout(workspace, ref)
        marker.unlink(missing_ok=True)


def overlay(root: Path, contents: dict[str, str]) -> None:
    """Write the change's test files (path -> text, read before the checkout) on the base."""
    for path, text in contents.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
