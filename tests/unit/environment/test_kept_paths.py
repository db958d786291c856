"""What a kept environment holds and how its copy is made to fit a new workspace (real git, real
files; the installs themselves are in tests/integration/environment)."""

from __future__ import annotations

import os
from pathlib import Path

from bot.environment import kept
from tests.helpers.repos import make_repo

FILES = {"package.json": "{}\n", "packages/a/package.json": "{}\n", "src/app.js": "\n"}


def made(root: Path) -> None:
    """What an install would make: node_modules with an absolute link and a shim, a build."""
    (root / "packages/a/node_modules/.bin").mkdir(parents=True)
    (root / "packages/a/node_modules/.bin/run").write_text(f"#!/bin/sh\nexec {root}/tool\n")
    (root / "node_modules").mkdir()
    os.symlink(root / "packages/a", root / "node_modules/a")  # absolute, into the workspace
    os.symlink("/usr/bin/env", root / "node_modules/env")  # absolute, elsewhere: left alone
    (root / "dist").mkdir()
    (root / "dist/built.js").write_text("built\n")


def test_only_what_setup_made_is_kept_and_the_copy_names_the_new_workspace(
    tmp_path: Path,
) -> None:
    first = make_repo(tmp_path / "one" / "repo", FILES)
    (first / "notes.txt").write_text("untracked before setup: not the environment's\n")
    before = kept.untracked(first)
    assert before == {"notes.txt"}
    made(first)
    folder = kept.keep(
        tmp_path / "cache", "k" * 64, first, "node", before, ["how it was made"], runtime="node"
    )
    assert folder is not None
    second = make_repo(tmp_path / "two" / "repo", FILES)
    assert kept.restore(tmp_path / "cache", "k" * 64, second, "node") == ["how it was made"]
    assert not (second / "notes.txt").exists()
    assert (second / "dist/built.js").read_text() == "built\n"
    assert os.readlink(second / "node_modules/a") == str(second / "packages/a")
    assert os.readlink(second / "node_modules/env") == "/usr/bin/env"
    shim = (second / "packages/a/node_modules/.bin/run").read_text()
    assert shim == f"#!/bin/sh\nexec {second}/tool\n"
    assert os.readlink(first / "node_modules/a") == str(first / "packages/a")  # unchanged


def test_nothing_is_restored_under_another_key_or_runtime_or_when_half_kept(
    tmp_path: Path,
) -> None:
    first = make_repo(tmp_path / "one" / "repo", FILES)
    before = kept.untracked(first)
    made(first)
    folder = kept.keep(tmp_path / "cache", "k" * 64, first, "node", before, [], runtime="node")
    assert folder is not None
    second = make_repo(tmp_path / "two" / "repo", FILES)
    assert kept.restore(tmp_path / "cache", "j" * 64, second, "node") is None
    assert kept.restore(tmp_path / "cache", "k" * 64, second, "python") is None
    (folder / kept.DESCRIPTION).unlink()
    assert kept.restore(tmp_path / "cache", "k" * 64, second, "node") is None
    assert not (second / "node_modules").exists()


def test_a_python_setup_that_made_no_venv_is_not_kept(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    before = kept.untracked(root)
    (root / "build").mkdir()
    assert (
        kept.keep(tmp_path / "cache", "k" * 64, root, "python", before, [], runtime="python")
        is None
    )
