"""The base commit checked out in place, and the way back (real git repositories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.repo.workspace import Workspace
from bot.shared.errors import WorkspaceError
from bot.testing.checkout import MARKER, base_checked_out, overlay, restore
from tests.helpers.repos import PYTHON_FILES, git, make_repo


def changed_workspace(tmp_path: Path) -> tuple[Workspace, str]:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    base = git(root, "rev-parse", "HEAD").strip()
    git(root, "checkout", "-q", "-b", "draftsmith/change")
    (root / "calc" / "__init__.py").write_text("def add(a, b):\n    return b + a\n")
    (root / "tests" / "test_new.py").write_text("def test_new():\n    pass\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "change")
    return Workspace(root), base


def test_the_base_is_checked_out_in_place_and_the_change_comes_back(tmp_path: Path) -> None:
    workspace, base = changed_workspace(tmp_path)
    root = workspace.root
    with base_checked_out(workspace, base) as checked_out:
        assert checked_out == root
        assert "a + b" in (root / "calc" / "__init__.py").read_text()
        overlay(root, {"tests/test_new.py": "def test_new():\n    assert False\n"})
        (root / "calc" / "__init__.py").write_text("# rewritten by the suite\n")
    assert git(root, "symbolic-ref", "--short", "HEAD").strip() == "draftsmith/change"
    assert "b + a" in (root / "calc" / "__init__.py").read_text()
    assert (root / "tests" / "test_new.py").read_text() == "def test_new():\n    pass\n"
    assert not (root / MARKER).exists()


def test_a_worker_killed_on_the_base_is_returned_to_the_change_on_resume(tmp_path: Path) -> None:
    workspace, base = changed_workspace(tmp_path)
    root = workspace.root
    (root / MARKER).parent.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("draftsmith/change\n")  # what base_checked_out leaves if killed
    git(root, "checkout", "-q", "--detach", base)
    assert restore(workspace) is True
    assert git(root, "symbolic-ref", "--short", "HEAD").strip() == "draftsmith/change"
    assert restore(workspace) is False


def test_the_change_comes_back_even_when_the_tests_rewrite_the_marker(tmp_path: Path) -> None:
    workspace, base = changed_workspace(tmp_path)
    root = workspace.root
    with base_checked_out(workspace, base):
        (root / MARKER).write_text(f"{base}\n")  # sandboxed code can write the workspace
    assert git(root, "symbolic-ref", "--short", "HEAD").strip() == "draftsmith/change"
    assert not (root / MARKER).exists()


def test_a_marker_that_names_no_commit_is_refused(tmp_path: Path) -> None:
    workspace, _ = changed_workspace(tmp_path)
    (workspace.root / MARKER).parent.mkdir(parents=True, exist_ok=True)
    for hostile in ("--orphan=evil", "no-such-branch"):
        (workspace.root / MARKER).write_text(f"{hostile}\n")
        with pytest.raises(WorkspaceError):
            restore(workspace)
    assert git(workspace.root, "symbolic-ref", "--short", "HEAD").strip() == "draftsmith/change"
