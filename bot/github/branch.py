"""Publishing a run's branch: its commits created through the Git Data API, signed by GitHub.

Each commit the workspace has beyond the base (or beyond what the branch already holds on GitHub)
is recreated through the API: blobs for what changed (executable bits and symlinks kept, binary
and large files base64), a tree on the parent's tree (deletions as `sha: null`), a commit on the
base or on the branch's current head. GitHub's tree sha must equal the workspace's before the ref
moves (identical content and modes give identical tree shas). The workspace then adopts GitHub's
commits (fetched; the trees are the same), so later revisions build on what GitHub holds.

Idempotent across a kill at any instant: the ref is the source of truth, and a branch whose head
already holds the workspace's tree is reused as it is. Where the Git Data API cannot serve (403 or
404, e.g. an App without `contents: write` on it or a server without it) the branch is
force-pushed with git instead, and `BranchPublished.via` says so.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass

from bot.github.client import InstallationClient, git_credentials
from bot.github.gitdata import GitData, TreeEntry
from bot.github.objects import Via
from bot.repo.workspace import Workspace
from bot.shared.errors import GitHubError, WorkspaceError

logger = logging.getLogger(__name__)

PUBLISHED_REF = "refs/draftsmith/published"
"""Where the workspace keeps the branch as fetched back from GitHub."""
GITLINK = "160000"
FALLBACK_STATUSES = frozenset({403, 404})


@dataclass(frozen=True)
class BranchPublished:
    """The branch's head on GitHub, how it got there and which commits were made for it."""

    sha: str
    via: Via
    created: tuple[str, ...] = ()
    fallback_reason: str | None = None


def check_own(branch: str) -> None:
    """Refuse any branch that is not a run's own `draftsmith/...` branch."""
    if not branch.startswith("draftsmith/"):
        raise GitHubError(
            f"refusing to publish {branch!r}: only draftsmith/ branches belong to a run",
            "publish the run's own branch",
        )


def publish_branch(
    gh: InstallationClient,
    workspace: Workspace,
    *,
    repo: str,
    clone_url: str,
    branch: str,
    base_sha: str,
    sha: str | None = None,
) -> BranchPublished:
    """Put `sha` (default HEAD)'s content on `branch`: API commits, else a git push."""
    check_own(branch)
    local = sha or workspace.head()
    try:
        return _through_api(gh, workspace, repo, clone_url, branch, base_sha, local)
    except GitHubError as exc:
        if exc.status not in FALLBACK_STATUSES:
            raise
        reason = f"the Git Data API answered {exc.status}"
        logger.warning("%s for %s; pushing %s with git instead", reason, repo, branch)
    push_branch(gh, workspace, clone_url, local, branch)
    return BranchPublished(local, Via.git_push, fallback_reason=reason)


def push_branch(
    gh: InstallationClient, workspace: Workspace, clone_url: str, sha: str, branch: str
) -> None:
    """Force-push `sha` to the run's own `branch` on the remote, with the installation token."""
    check_own(branch)
    credentials = git_credentials(clone_url, gh.token())
    workspace.git(
        "push", "--quiet", "--force", clone_url, f"{sha}:refs/heads/{branch}", env=credentials
    )
    logger.info("pushed %s to %s", sha[:12], branch)


def _through_api(
    gh: InstallationClient,
    workspace: Workspace,
    repo: str,
    clone_url: str,
    branch: str,
    base_sha: str,
    local: str,
) -> BranchPublished:
    git = GitData(gh.github)
    remote = git.branch_head(repo, branch)
    on_top = False
    if remote is not None:
        _fetch(gh, workspace, clone_url, branch, remote)
        if _tree(workspace, remote) == _tree(workspace, local):  # made by an earlier attempt
            logger.info("%s already holds this tree at %s; reused", branch, remote[:12])
            _adopt(workspace, local, remote)
            return BranchPublished(remote, Via.git_data_api)
        on_top = _is_ancestor(workspace, base_sha, remote)
    parent = remote if remote is not None and on_top else base_sha
    excluded = [f"^{base_sha}"] + ([f"^{remote}"] if remote is not None else [])
    commits = workspace.git("rev-list", "--reverse", local, *excluded).split()
    created: list[str] = []
    parent_tree = _tree(workspace, parent)
    for commit in commits:
        parent, parent_tree = _recreate(git, workspace, repo, commit, parent, parent_tree)
        created.append(parent)
    head = parent if commits else local
    _move(git, repo, branch, head, remote, fast_forward=on_top)
    _fetch(gh, workspace, clone_url, branch, head)
    _adopt(workspace, local, head)
    logger.info("%s at %s: %d commit(s) made through the API", branch, head[:12], len(created))
    return BranchPublished(head, Via.git_data_api, tuple(created))


def _recreate(
    git: GitData, workspace: Workspace, repo: str, commit: str, parent: str, base_tree: str
) -> tuple[str, str]:
    """GitHub's commit with `commit`'s tree and message on `parent` (whose tree is
    `base_tree`); its sha and tree."""
    want = _tree(workspace, commit)
    entries = [
        _entry(git, workspace, repo, line) for line in _diff_tree(workspace, base_tree, want)
    ]
    tree = git.create_tree(repo, base_tree, entries)
    if tree != want:
        raise GitHubError(
            f"GitHub's tree {tree[:12]} for {commit[:12]} differs from the workspace's "
            f"{want[:12]}; the branch was not moved",
            "retry the run; if it persists, report it with both trees",
        )
    message = workspace.git("log", "-1", "--format=%B", commit).strip() or "draftsmith"
    made = git.create_commit(repo, message=message, tree=tree, parents=[parent])
    if made.tree.sha != want:
        raise GitHubError(
            f"GitHub's commit {made.sha[:12]} holds tree {made.tree.sha[:12]}, not {want[:12]}",
            "retry the run; the branch was not moved",
        )
    return made.sha, want


@dataclass(frozen=True)
class _Change:
    old_mode: str
    new_mode: str
    new_sha: str
    status: str
    path: str


def _entry(git: GitData, workspace: Workspace, repo: str, change: _Change) -> TreeEntry:
    if change.status == "D":
        kind = "commit" if change.old_mode == GITLINK else "blob"
        return TreeEntry(path=change.path, mode=change.old_mode, type=kind, sha=None)
    if change.new_mode == GITLINK:
        return TreeEntry(path=change.path, mode=GITLINK, type="commit", sha=change.new_sha)
    sha = git.create_blob(repo, _blob(workspace, change.new_sha))
    if sha != change.new_sha:
        raise GitHubError(
            f"GitHub stored {change.path} as blob {sha[:12]}, not {change.new_sha[:12]}",
            "retry the run; the branch was not moved",
        )
    return TreeEntry(path=change.path, mode=change.new_mode, type="blob", sha=sha)


def _diff_tree(workspace: Workspace, old: str, new: str) -> list[_Change]:
    out = workspace.git("diff-tree", "-r", "-z", "--no-renames", "--full-index", old, new)
    fields = out.split("\0")
    changes: list[_Change] = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, _old_sha, new_sha, status = meta[1:].split(" ")
        changes.append(_Change(old_mode, new_mode, new_sha, status[:1], path))
    return changes


def _blob(workspace: Workspace, sha: str) -> bytes:
    proc = subprocess.run(
        ["git", "cat-file", "blob", sha], cwd=workspace.root, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise WorkspaceError(f"blob {sha[:12]} is missing from the workspace", "retry the run")
    return proc.stdout


def _tree(workspace: Workspace, rev: str) -> str:
    return workspace.git("rev-parse", f"{rev}^{{tree}}").strip()


def _is_ancestor(workspace: Workspace, ancestor: str, rev: str) -> bool:
    try:
        workspace.git("merge-base", "--is-ancestor", ancestor, rev)
    except WorkspaceError:
        return False
    return True


def _move(
    git: GitData, repo: str, branch: str, head: str, remote: str | None, *, fast_forward: bool
) -> None:
    """Create or move the branch to `head`; force only where it is not a fast-forward."""
    if remote is None:
        try:
            git.create_branch(repo, branch, head)
            return
        except GitHubError as exc:
            if exc.status != 422:  # created meanwhile (another attempt): moved below
                raise
    try:
        git.move_branch(repo, branch, head, force=not fast_forward)
    except GitHubError as exc:
        if exc.status != 422:
            raise
        logger.warning("%s moved meanwhile (%s); forcing it (a run's own branch)", branch, exc)
        git.move_branch(repo, branch, head, force=True)


def _fetch(
    gh: InstallationClient, workspace: Workspace, clone_url: str, branch: str, sha: str
) -> None:
    """Make sure the workspace holds commit `sha` of the branch (fetched when missing)."""
    try:
        workspace.git("cat-file", "-e", f"{sha}^{{commit}}")
        return
    except WorkspaceError:
        pass
    credentials = git_credentials(clone_url, gh.token())
    refspec = f"+refs/heads/{branch}:{PUBLISHED_REF}"
    workspace.git("fetch", "--quiet", "--no-tags", clone_url, refspec, env=credentials)
    workspace.git("cat-file", "-e", f"{sha}^{{commit}}")


def _adopt(workspace: Workspace, local: str, published: str) -> None:
    """Move the workspace's branch onto GitHub's commit holding the same tree."""
    if workspace.head() == local and local != published:
        workspace.git("reset", "--quiet", "--soft", published)
