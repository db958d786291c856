"""A run's workspace re-validated on resume, on real git repositories: whatever instant the
previous worker died at, the next one gets the tree the stored artifacts describe."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.agents.tester import TESTS_SUBJECT
from bot.repo.workspace import Workspace
from bot.run.lifecycle import Lifecycle
from bot.run.resume import open_workspace
from bot.run.states import Phase
from bot.run.transitions import Move
from bot.sandbox.bwrap import UID_BASE
from bot.shared.contracts import CodeChange, TestOutcome, TestPlan, TestReport, TestStatus
from bot.store.runs import Store
from bot.store.tables import Run
from bot.testing.checkout import MARKER
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripts import TESTS, change


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "upstream", PYTHON_FILES)


def new_run(store: Store, remote: Path) -> Run:
    run, _ = store.create_run(
        repo="octo/calc", issue_number=3, clone_url=str(remote), title="Add subtract", request="r"
    )
    return run


def reopen(store: Store, run: Run, run_dir: Path) -> Workspace:
    workspace, _ = open_workspace(store, store.get_run(run.id), run_dir, dict)
    return workspace


def code(store: Store, run: Run, workspace: Workspace) -> str:
    """What the coding phase does: apply, commit, store the diff."""
    workspace.apply(CodeChange.model_validate(change()))
    workspace.commit("draftsmith: revision 0")
    diff = workspace.diff(store.get_run(run.id).base_sha or "")
    store.put_artifact(run.id, "diff.r0", diff)
    return diff


def test_a_first_pick_up_clones_at_the_base_on_the_runs_branch(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    stored = sqlite_store.get_run(run.id)
    assert stored.base_sha == workspace.head() and stored.branch == "draftsmith/3-add-subtract"
    assert workspace.current_branch() == stored.branch
    assert workspace.git("remote", "get-url", "origin").strip() == str(remote)


def test_a_clone_killed_half_way_is_cloned_again(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    partial = tmp_path / "run" / "repo.partial"
    partial.mkdir(parents=True)
    (partial / ".git").mkdir()  # what a killed `git clone` leaves
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert not partial.exists()
    assert workspace.git("status", "--porcelain") == ""


def test_a_copy_for_the_base_left_by_a_killed_worker_is_removed(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    view = tmp_path / "run" / "repo.base-view"  # a worker killed while the copy existed
    shutil.copytree(workspace.root, view, symlinks=True)
    (view / "tests").chmod(0o500)  # a test took write permission away from a directory
    reopen(sqlite_store, run, tmp_path / "run")
    assert not view.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the workdir to a sandbox uid")
def test_a_workspace_left_owned_by_a_sandbox_uid_is_given_back(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    uid = UID_BASE + 7
    for top, dirs, files in os.walk(tmp_path / "run"):  # a worker killed mid-sandbox-command
        for name in [*dirs, *files, "."]:
            os.chown(os.path.join(top, name), uid, uid, follow_symlinks=False)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert workspace.git("status", "--porcelain") == ""  # git does not call it dubious
    owners = {os.lstat(os.path.join(t, n)).st_uid for t, d, f in os.walk(workspace.root)
              for n in d + f}  # fmt: skip
    assert owners == {os.geteuid()}


def test_a_lock_file_left_by_a_killed_git_is_removed(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    (workspace.root / ".git" / "index.lock").write_text("")
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert not (workspace.root / ".git" / "index.lock").exists()
    diff = code(sqlite_store, run, workspace)  # git add/commit would refuse with the lock present
    assert "+    return a - b" in diff
    assert workspace.git("log", "-1", "--format=%s").strip() == "draftsmith: revision 0"


def test_a_commit_the_store_never_recorded_is_undone(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    base = workspace.head()
    workspace.apply(CodeChange.model_validate(change()))
    workspace.commit("draftsmith: revision 0")  # killed before the diff artifact was stored
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert workspace.diff(base) == ""
    code(sqlite_store, run, workspace)  # the coder's edit applies again instead of "already done"


def test_edits_never_committed_are_discarded(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    (workspace.root / "calc" / "__init__.py").write_text("half written")
    (workspace.root / "calc" / "new.py").write_text("x = 1\n")
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert workspace.git("status", "--porcelain", "--untracked-files=all") == ""


def test_a_workspace_without_the_base_commit_is_cloned_again(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    diff = code(sqlite_store, run, workspace)
    shutil.rmtree(workspace.root)
    make_repo(workspace.root, {"other.txt": "unrelated history\n"})
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    base = sqlite_store.get_run(run.id).base_sha or ""
    assert workspace.diff(base) == diff
    assert not (workspace.root / "other.txt").exists()


def test_a_run_taken_over_on_another_host_gets_its_code_and_tests_from_the_artifacts(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    first = reopen(sqlite_store, run, tmp_path / "host-a")
    diff = code(sqlite_store, run, first)
    plan = TestPlan.model_validate(TESTS)
    sqlite_store.put_artifact(run.id, "testplan.r0", plan.model_dump_json())
    report = TestReport(status=TestStatus.passed, tests_passed=2, tests_failed=0,
                        command="pytest", duration_s=1.0)  # fmt: skip
    sqlite_store.put_artifact(run.id, "testoutcome.r0", TestOutcome(report=report).to_json())
    lifecycle = Lifecycle(sqlite_store)
    lifecycle.request(run.id, Move.start)
    while sqlite_store.get_run(run.id).phase != Phase.deploying:
        lifecycle.request(run.id, Move.advance)
    second = reopen(sqlite_store, run, tmp_path / "host-b")
    assert second.git("log", "-1", "--format=%s").strip() == TESTS_SUBJECT
    base = sqlite_store.get_run(run.id).base_sha or ""
    assert second.diff(base, "HEAD~1") == diff
    for edit in plan.files:
        assert second.read_file(edit.path) == edit.content
    assert second.current_branch() == sqlite_store.get_run(run.id).branch


def test_a_worker_killed_with_the_base_checked_out_gets_the_change_back_without_a_rebuild(
    sqlite_store: Store, remote: Path, tmp_path: Path
) -> None:
    run = new_run(sqlite_store, remote)
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    diff = code(sqlite_store, run, workspace)
    head, base = workspace.head(), sqlite_store.get_run(run.id).base_sha or ""
    (workspace.root / MARKER).parent.mkdir(parents=True, exist_ok=True)
    (workspace.root / MARKER).write_text(f"{workspace.current_branch()}\n")
    workspace.git("checkout", "--quiet", "--detach", base)  # killed inside base_checked_out
    (workspace.root / "tests" / "test_new.py").write_text("def test_new():\n    pass\n")
    workspace = reopen(sqlite_store, run, tmp_path / "run")
    assert workspace.head() == head  # the same commit: returned to, not rebuilt
    assert workspace.diff(base) == diff
    assert workspace.current_branch() == sqlite_store.get_run(run.id).branch
    assert not (workspace.root / MARKER).exists()
    assert workspace.git("status", "--porcelain", "--untracked-files=all") == ""
