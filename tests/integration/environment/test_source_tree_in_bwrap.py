"""A project that cannot be installed, prepared in the real bubblewrap sandbox with real installs
from PyPI: its dependencies without itself, its source tree importable, reused as such."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.environment.cache import RepositoryCache
from bot.environment.prepare import PreparedEnvironment, prepare_environment
from bot.policy.decide import load_default_policy
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.setup_env import SetupNetwork
from bot.sandbox.toolbox import build_python_toolbox
from bot.shared.config import Settings
from tests.helpers.python_shapes import FLAT_LAYOUT, FLAT_LAYOUT_PYPROJECT
from tests.helpers.repos import make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=300, cpu_time_s=300)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    setup = SetupNetwork.from_settings(Settings(), os.environ)  # the operator's CA, as in a run
    return BwrapSandbox(toolbox=toolbox, setup=setup, uid_base=2_100_300, uid_slots=4)


def prepare(
    sandbox: BwrapSandbox, root: Path, cache: RepositoryCache | None = None
) -> PreparedEnvironment:
    return asyncio.run(
        prepare_environment(
            sandbox, root, language="python", limits=LIMITS,
            allow=load_default_policy().setup_allow, cache=cache,
        )
    )  # fmt: skip


def test_a_flat_layout_application_runs_from_its_tree_and_is_reused_as_such(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "tallyho", FLAT_LAYOUT.files)
    first = prepare(sandbox, root)
    assert first.ok, first.problem
    failed, *_ = [r for r in first.records if r.exit_code != 0]
    assert "-e '.[test]'" in failed.command  # the project's own install was tried first
    why = "not installable: Multiple top-level packages discovered in a flat-layout"
    assert (first.plan.source_tree or "").startswith(why)
    assert first.plan.commands[-1][-2:] == ["attrs>=22", "pytest>=8"]
    python = str(root / ".venv/bin/python")
    probe = "import tallyho, attrs, importlib.metadata as m; print(tallyho.__file__)\n"
    probe += "print([d.metadata['Name'] for d in m.distributions()])"
    # -P: the working directory is not on sys.path; only the venv's .pth files put the tree there
    command = [python, "-P", "-c", probe]
    result = asyncio.run(sandbox.run(command, workdir=root, limits=LIMITS))
    assert result.exit_code == 0, result.stderr
    where, names = result.stdout.splitlines()
    assert where == str(root.resolve() / "tallyho" / "__init__.py")  # from the tree
    assert "attrs" in names and "tallyho" not in names  # its dependencies, never itself
    again = prepare(sandbox, root)
    assert again.reused and again.records == []
    assert again.plan.source_tree == first.plan.source_tree and again.notes == first.notes


def test_an_install_that_fails_for_another_reason_than_a_build_is_not_retried(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    missing = FLAT_LAYOUT_PYPROJECT.replace('"attrs>=22"', '"draftsmith-no-such-package-7c1e"')
    root = make_repo(tmp_path / "tallyho", {**FLAT_LAYOUT.files, "pyproject.toml": missing})
    environment = prepare(sandbox, root)
    assert not environment.ok and "No solution found" in (environment.problem or "")
    assert len(environment.records) == 3 and environment.plan.source_tree is None


def test_when_the_dependencies_alone_fail_too_the_first_failure_is_reported(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    broken = {"vendor/broken/setup.py": "raise RuntimeError('broken on purpose')\n"}
    files = {**FLAT_LAYOUT.files, **broken, "requirements.txt": "./vendor/broken\n"}
    root = make_repo(tmp_path / "tallyho", files)
    environment = prepare(sandbox, root)
    assert not environment.ok
    first, *_ = (environment.problem or "").splitlines()
    assert first.startswith("setup command `/opt/draftsmith/python/.bin/uv pip install")
    assert first.endswith("-r requirements.txt -e '.[test]'` failed (exit 1)")
    assert "its dependencies alone did not install either" in (environment.problem or "")
    assert environment.plan.source_tree is None  # nothing was prepared from the source tree


def test_a_kept_environment_restored_for_the_next_run_still_runs_from_its_own_tree(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    cache = RepositoryCache(tmp_path / "cache", "octo/tallyho")
    first = prepare(sandbox, make_repo(tmp_path / "first", FLAT_LAYOUT.files), cache)
    assert first.ok and not first.restored, first.problem
    second_root = make_repo(tmp_path / "second", FLAT_LAYOUT.files)
    second = prepare(sandbox, second_root, cache)
    assert second.ok and second.restored and second.records == []
    assert second.plan.source_tree == first.plan.source_tree  # the reason, not the detected plan
    assert first.notes[0] in second.notes
    python = str(second_root / ".venv/bin/python")
    command = [python, "-P", "-c", "import tallyho; print(tallyho.__file__)"]
    result = asyncio.run(sandbox.run(command, workdir=second_root, limits=LIMITS))
    assert result.stdout.strip() == str(second_root.resolve() / "tallyho" / "__init__.py")
