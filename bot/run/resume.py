"""A run's workspace, re-validated against the run store every time a worker picks the run up.

The store is the truth and the git working copy a cache of it. A worker may have been killed
at any instant: mid-clone, between a commit and the artifact that records it, mid-sandbox
command (the tree owned by a sandbox uid), mid-git command (an `index.lock` left behind). So
before a phase uses the workspace:

1. anything a sandbox uid still owns is given back (bot/sandbox/ownership.py);
2. a clone is made in `repo.partial` and renamed to `repo` only when complete, so a directory
   named `repo` is a whole clone; one without a recorded base commit is cloned again;
3. git's lock files are removed (the run lock says no other worker uses this copy);
4. a base commit left checked out in place by a worker killed mid-test is left again
   (`bot.testing.checkout.restore`: back to the ref its marker names), and a copy of the
   workspace made for the base's runs (`bot.testing.base_view`) is removed;
5. the base commit must be present and HEAD must hold what the artifacts say: the newest
   `diff.rK` of the run (K <= revision) applied to the base, plus the tester's commit of
   revision K when its outcome was stored. Uncommitted edits are discarded; a HEAD that
   differs is rebuilt from the artifacts; a copy git cannot read is cloned again.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.agents.tester import TESTS_SUBJECT, tester_edits
from bot.repo.workspace import Workspace, branch_name
from bot.run import artifacts
from bot.run.artifacts import Artifacts
from bot.run.ports import RunStore
from bot.sandbox.ownership import reclaim
from bot.shared.contracts import CodeChange, TestPlan
from bot.shared.errors import WorkspaceError
from bot.store.tables import Run
from bot.testing.base_view import remove as remove_view
from bot.testing.base_view import view_path
from bot.testing.checkout import restore

logger = logging.getLogger(__name__)

GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock")


@dataclass(frozen=True)
class Expected:
    """What the artifacts say HEAD holds: the code diff from the base and the tests on top."""

    revision: int | None
    code_diff: str
    tests: TestPlan | None


def expected_state(store: RunStore, run: Run) -> Expected:
    """The workspace state the run's stored artifacts describe (see the module docstring)."""
    stored = Artifacts(store, run.id)
    for revision in range(run.revision, -1, -1):
        diff = stored.load(artifacts.DIFF, revision)
        if diff is None:
            continue
        outcome = stored.load(artifacts.TEST_OUTCOME, revision)
        committed = outcome is not None and not outcome.refused
        tests = stored.load(artifacts.TEST_PLAN, revision) if committed else None
        return Expected(revision, diff, tests)
    return Expected(None, "", None)


def open_workspace(
    store: RunStore, run: Run, run_dir: Path, credentials: Callable[[], dict[str, str]]
) -> tuple[Workspace, Run]:
    """The run's workspace, valid for the stored state (cloned or rebuilt when it is not)."""
    reclaim(run_dir)
    root = run_dir / "repo"
    shutil.rmtree(run_dir / "repo.partial", ignore_errors=True)
    remove_view(view_path(root))  # a copy for the base's runs, left by a worker killed mid-test
    expected = expected_state(store, run)
    if run.base_sha is not None and (root / ".git").is_dir():
        try:
            workspace = Workspace(root)
            _remove_git_locks(root)
            restore(workspace)  # the base checked out in place for the tests (bot.testing)
            if _holds(workspace, run.base_sha, expected):
                _discard_uncommitted(workspace)
            else:
                logger.warning("workspace differs from the stored run; rebuilding it",
                               extra={"run_id": run.id})  # fmt: skip
                _rebuild(workspace, run, run_dir, expected)
                run = store.update_run(run.id, head_sha=workspace.head())
            return workspace, run
        except WorkspaceError as exc:
            logger.warning("workspace unusable (%s); cloning again", exc, extra={"run_id": run.id})
    shutil.rmtree(root, ignore_errors=True)
    return _fresh(store, run, run_dir, credentials, expected)


def _fresh(
    store: RunStore,
    run: Run,
    run_dir: Path,
    credentials: Callable[[], dict[str, str]],
    expected: Expected,
) -> tuple[Workspace, Run]:
    partial = run_dir / "repo.partial"
    # The token goes to git in its environment only: never in argv, never in .git/config.
    workspace = Workspace.clone(run.clone_url, partial, env=credentials())
    partial.rename(run_dir / "repo")
    workspace = Workspace(run_dir / "repo")
    base = run.base_sha or workspace.head()
    branch = run.branch or branch_name(run.title or run.request[:60] or "change", run.issue_number)
    run = store.update_run(run.id, base_sha=base, branch=branch)
    _rebuild(workspace, run, run_dir, expected)
    if workspace.head() == base:  # nothing of the run's own is committed yet: no head of its own
        return workspace, run
    return workspace, store.update_run(run.id, head_sha=workspace.head())


def _holds(workspace: Workspace, base: str, expected: Expected) -> bool:
    """Whether the base commit is present and HEAD holds the expected code (and tests)."""
    workspace.git("cat-file", "-e", f"{base}^{{commit}}")
    if workspace.diff(base) == expected.code_diff:
        return True
    subject = workspace.git("log", "-1", "--format=%s").strip()
    return subject == TESTS_SUBJECT and workspace.diff(base, "HEAD~1") == expected.code_diff


def _discard_uncommitted(workspace: Workspace) -> None:
    """Drop edits a killed worker wrote but never committed (ignored scratch such as .venv
    stays)."""
    if workspace.git("status", "--porcelain").strip():
        workspace.git("reset", "--quiet", "--hard", "HEAD")
        workspace.git("clean", "-ffdq")


def _rebuild(workspace: Workspace, run: Run, run_dir: Path, expected: Expected) -> None:
    """Put the run's branch at base + the stored diff (+ the stored tests)."""
    assert run.base_sha is not None and run.branch is not None
    workspace.git("cat-file", "-e", f"{run.base_sha}^{{commit}}")
    workspace.git("checkout", "--quiet", "--force", "--detach", run.base_sha)
    workspace.git("clean", "-ffdq")
    workspace.git("worktree", "prune")
    workspace.git("checkout", "--quiet", "--force", "-B", run.branch)
    if expected.code_diff.strip():
        patch = run_dir / "resume.patch"
        patch.write_text(expected.code_diff)
        workspace.git("apply", "--index", str(patch))
        workspace.commit(f"draftsmith: revision {expected.revision} (restored)")
    if expected.tests is not None:
        edits = tester_edits(workspace.root, expected.tests.files)
        if edits:
            workspace.apply(CodeChange(edits=edits, explanation="tests"))
            workspace.commit(f"{TESTS_SUBJECT}\n\n(restored)")


def _remove_git_locks(root: Path) -> None:
    """Lock files a killed git left behind; no other process uses this copy (the run lock)."""
    git = root / ".git"
    stale = [git / name for name in GIT_LOCKS] + list((git / "refs").rglob("*.lock"))
    for path in stale:
        if path.exists():
            logger.warning("removing %s left by a stopped worker", path)
            path.unlink()
