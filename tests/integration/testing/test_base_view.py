"""The new test files alone run in a copy of the workspace beside the change's suite
(bot.testing.base_view, bot.testing.alone), with real git and bwrap.

The copy is seen at the workspace's path, checked out at the base after the run with the change,
and removed afterwards; the workspace itself never leaves the change while the suite runs there.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bot.analysis.coverage import NEW_TESTS
from bot.repo.workspace import Workspace
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.toolbox import build_python_toolbox
from bot.shared.errors import WorkspaceError
from bot.testing.base_view import copied, view_path
from bot.testing.suite import run_suite
from tests.helpers.repos import PYTHON_FILES, commit_change, git, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=60, cpu_time_s=60)
SLOW_SUITE = 3.0  # the suite's one slow test: the new files' runs fit in it
SLOW_TEST = (
    "import os, time\n\n\ndef test_slow():\n"
    f"    time.sleep({SLOW_SUITE})\n"
    "    assert os.path.exists('calc/extra.py')  # the suite's tree holds the change throughout\n"
)
NEW_TEST = (
    "import os\n\nfrom calc.extra import double\n\n\ndef test_double():\n"
    "    assert double(2) == 4\n\n\ndef test_seen_at_the_workspace():\n"
    "    assert os.getcwd().endswith('/calc')\n"
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_800, uid_slots=4)


def test_the_new_files_run_alone_beside_the_suite_and_on_the_base_in_the_copy(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "calc", {**PYTHON_FILES, "tests/test_slow.py": SLOW_TEST})
    base = commit_change(
        root,
        {"calc/extra.py": "def double(x):\n    return 2 * x\n", "tests/test_extra.py": NEW_TEST},
    )
    workspace = Workspace(root)
    head = workspace.head()
    (root / "untracked.txt").write_text("the environment's own file")
    view_path(workspace.root).mkdir()  # left behind by a worker killed mid-run
    started = time.monotonic()
    outcome = asyncio.run(
        run_suite(
            sandbox, LIMITS, workspace, base, ["tests/test_extra.py"],
            language="python", is_test=lambda path: path.startswith("tests/"),
        )
    )  # fmt: skip
    wall = time.monotonic() - started
    assert outcome.tampered is None
    assert (outcome.report.tests_passed, outcome.report.tests_failed) == (4, 0)
    # on the base the copy has no calc/extra.py (the checkout removed it): the new module cannot
    # be collected there
    assert sorted(outcome.pinned) == [
        "tests.test_extra::test_double",
        "tests.test_extra::test_seen_at_the_workspace",
    ]
    assert all("could not be collected on the base" in why for why in outcome.pinned.values())
    assert outcome.after == {
        "tests.test_extra::test_double": True,
        "tests.test_extra::test_seen_at_the_workspace": True,
    }
    assert outcome.coverage is not None and outcome.coverage["scope"] == NEW_TESTS
    assert outcome.coverage["lines"], outcome.coverage  # measured in the copy's run alone
    # the workspace is still the change, nothing of the copy is left
    assert workspace.head() == head and (root / "calc" / "extra.py").exists()
    status = git(root, "status", "--porcelain", "--untracked-files=no").strip()
    assert status == "" and (root / "untracked.txt").exists()
    assert not view_path(workspace.root).exists()
    # both runs alone fit in the suite's time: they ran beside it, not after it
    timings = outcome.timings
    assert timings["change_s"] is not None and timings["change_s"] >= SLOW_SUITE
    alone = (timings["new_tests_s"] or 0) + (timings["base_new_tests_s"] or 0)
    assert alone > 0
    assert wall < timings["change_s"] + alone + 1.0 - alone / 2, timings


def test_the_copy_holds_untracked_files_links_git_objects_and_is_removed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    workspace = Workspace(root)
    with copied(workspace) as view:
        assert view.root == view_path(workspace.root)
        assert (view.root / ".venv" / "bin" / "python").read_text() == "#!/bin/sh\n"
        assert view.head() == workspace.head()
        packs = [p for p in (root / ".git" / "objects").rglob("*") if p.is_file()]
        assert packs
        linked = view.root / packs[0].relative_to(root)
        assert os.stat(linked).st_ino == os.stat(packs[0]).st_ino  # hard-linked, not copied
        assert os.stat(view.root / ".git" / "HEAD").st_ino != os.stat(root / ".git" / "HEAD").st_ino
        view.git("checkout", "--quiet", "--detach", "HEAD")
    assert not view_path(workspace.root).exists()
    assert git(root, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_a_linked_worktree_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    git(root, "worktree", "add", "-q", str(tmp_path / "linked"))
    with (
        pytest.raises(WorkspaceError, match="not a directory"),
        copied(Workspace(tmp_path / "linked")),
    ):
        pass
