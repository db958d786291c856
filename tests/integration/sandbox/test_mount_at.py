"""`Sandbox.run(mount_at=)`: a copy of a workdir is seen at the original's path, on each backend.

The base's tree (bot.testing.base_view) relies on it: the command sees the copy's files, not the
original's, at the original's path (where a venv's absolute paths point), writes only into the
copy, and the copy's `.git` stays read-only there as a workdir's own does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.sandbox.base import Limits, Sandbox
from tests.helpers.sandboxes import BACKENDS, make_sandbox

LIMITS = Limits(wall_time_s=60, cpu_time_s=30)
SCRIPT = """
import os, pathlib, sys
print(os.getcwd(), os.environ["HOME"])
print(pathlib.Path(sys.argv[1], "which.txt").read_text())
pathlib.Path(sys.argv[1], "written.txt").write_text("by the command")
try:
    pathlib.Path(sys.argv[1], ".git", "planted").write_text("x")
except OSError as exc:
    print("git refused:", type(exc).__name__)
"""


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return make_sandbox(request.param, uid_base=2_100_700)


def _tree(root: Path, which: str) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "which.txt").write_text(which)
    (root / "probe.py").write_text(SCRIPT)
    return root


async def test_a_copy_is_seen_at_the_original_path_and_only_the_copy_changes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    original = _tree(tmp_path / "repo", "the original")
    copy = _tree(tmp_path / "repo.copy", "the copy")
    result = await sandbox.run(
        ["python3", str(original / "probe.py"), str(original)],
        workdir=copy,
        limits=LIMITS,
        mount_at=original,
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{original} {original}"  # its working directory and HOME
    assert lines[1] == "the copy"
    assert lines[2].startswith("git refused:")
    assert (copy / "written.txt").read_text() == "by the command"
    assert not (original / "written.txt").exists()
    assert not (copy / ".git" / "planted").exists()
    assert not (original / ".git" / "planted").exists()
