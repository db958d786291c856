"""Prepared environments kept per repository and dependency key, restored by copy (real bwrap).

Two workspaces of one repository with the same dependency files: the first installs (from
PyPI, through the setup egress filter), the second gets a copy of what the first kept. Writes
a run makes into its environment never reach the kept one; a half-kept one is never restored.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.environment import kept
from bot.environment.cache import RepositoryCache
from bot.environment.prepare import PreparedEnvironment, prepare_environment
from bot.policy.decide import load_default_policy
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork
from bot.sandbox.toolbox import build_python_toolbox
from tests.helpers.repos import make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=180, cpu_time_s=180)
SLOW_ALLOWED = [*load_default_policy().setup_allow, "sleep *"]  # a setup command that lasts
FILES = {
    "requirements.txt": "six==1.16.0\n",
    "app.py": "import six\n\n\ndef kind():\n    return six.string_types\n",
    "tests/test_app.py": "from app import kind\n\n\ndef test_kind():\n    assert kind()\n",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, os.environ)  # as `serve` builds it
    return BwrapSandbox(toolbox=toolbox, setup=setup, uid_base=2_100_400, uid_slots=4)


def prepare(sandbox: BwrapSandbox, root: Path, cache: RepositoryCache) -> PreparedEnvironment:
    return asyncio.run(
        prepare_environment(
            sandbox, root, language="python", limits=LIMITS,
            allow=load_default_policy().setup_allow, cache=cache,
        )
    )  # fmt: skip


def python_says(sandbox: BwrapSandbox, root: Path, code: str) -> str:
    result = asyncio.run(
        sandbox.run([str(root / ".venv/bin/python"), "-c", code], workdir=root, limits=LIMITS)
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_a_second_workspace_gets_a_copy_installing_nothing_and_no_writes_of_the_first(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    cache = RepositoryCache(tmp_path / "cache", "octo/app")
    first_root = make_repo(tmp_path / "run-1" / "repo", FILES)
    first = prepare(sandbox, first_root, cache)
    assert first.ok and not first.restored and first.records, first.problem
    # the first run's tests write into its environment (a hostile or a sloppy suite)
    (site,) = (first_root / ".venv/lib").glob("python3*/site-packages")
    (site / "sitecustomize.py").write_text("raise SystemExit('planted by run 1')\n")

    second_root = make_repo(tmp_path / "run-2" / "repo", FILES)
    second = prepare(sandbox, second_root, cache)
    assert second.ok and second.restored and second.records == [], second.problem
    assert kept.RESTORED_NOTE_START in " ".join(second.notes)
    assert not list((second_root / ".venv/lib").glob("python3*/site-packages/sitecustomize.py"))
    # the copy works where it is: its paths name the second workspace, not the first
    where = python_says(sandbox, second_root, "import sys, six; print(sys.prefix, six.__name__)")
    assert where == f"{second_root / '.venv'} six"
    scripts = [
        p for p in (second_root / ".venv/bin").iterdir() if p.is_file() and not p.is_symlink()
    ]
    assert all(str(first_root) not in p.read_text(errors="replace") for p in scripts)


def test_changed_dependencies_are_installed_anew(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    cache = RepositoryCache(tmp_path / "cache", "octo/app")
    assert prepare(sandbox, make_repo(tmp_path / "a" / "repo", FILES), cache).ok
    changed = {**FILES, "requirements.txt": "six==1.15.0\n"}
    again = prepare(sandbox, make_repo(tmp_path / "b" / "repo", changed), cache)
    assert again.ok and not again.restored and again.records


def test_an_environment_is_never_restored_under_another_sandbox_runtime(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    """A Docker image (or another interpreter) makes its own environments: the same dependency
    files under another runtime install anew, and each runtime keeps its own."""
    cache = RepositoryCache(tmp_path / "cache", "octo/app")
    assert prepare(sandbox, make_repo(tmp_path / "a" / "repo", FILES), cache).ok
    other = BwrapSandbox(toolbox=sandbox.toolbox, setup=sandbox.setup, uid_base=2_100_400,
                         uid_slots=4)  # fmt: skip
    other.runtime = "docker: sha256:an-image-with-another-python"
    again = prepare(other, make_repo(tmp_path / "b" / "repo", FILES), cache)
    assert again.ok and not again.restored and again.records
    assert len(list((cache.root / "environments").iterdir())) == 2
    third = prepare(sandbox, make_repo(tmp_path / "c" / "repo", FILES), cache)
    assert third.ok and third.restored


def test_a_half_kept_environment_is_never_restored(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    cache = RepositoryCache(tmp_path / "cache", "octo/app")
    first_root = make_repo(tmp_path / "a" / "repo", FILES)
    assert prepare(sandbox, first_root, cache).ok
    (folder,) = (cache.root / "environments").iterdir()
    (folder / kept.DESCRIPTION).unlink()  # as a worker killed while keeping it leaves it
    second_root = make_repo(tmp_path / "b" / "repo", FILES)
    again = prepare(sandbox, second_root, cache)
    assert again.ok and not again.restored and again.records
    assert (folder / kept.DESCRIPTION).is_file()  # kept whole this time


def test_a_worker_killed_mid_setup_keeps_nothing(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    cache = RepositoryCache(tmp_path / "cache", "octo/app")
    root = make_repo(tmp_path / "a" / "repo", FILES)
    killed = asyncio.run(
        prepare_environment(
            sandbox, root, language="python", limits=Limits(wall_time_s=1, cpu_time_s=1),
            allow=SLOW_ALLOWED, cache=cache,
            setup_commands=["python3 -m venv --without-pip .venv", "sleep 30"],
        )
    )  # fmt: skip
    assert not killed.ok  # its last command did not finish: the environment is half made
    assert killed.records[-1].limit_hit is not None
    assert not (cache.root / "environments").exists() or not any(
        (cache.root / "environments").iterdir()
    )
    shutil.rmtree(root / ".venv", ignore_errors=True)


CHILD = """
import asyncio, os, sys
from pathlib import Path
from bot.environment.cache import RepositoryCache
from bot.environment.prepare import prepare_environment
from bot.policy.decide import load_default_policy
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork

root, cache = Path(sys.argv[1]), RepositoryCache(Path(sys.argv[2]), "octo/app")
sandbox = BwrapSandbox(setup=SetupNetwork.build("", DEFAULT_SETUP_ENV, os.environ),
                       uid_base=2_100_500, uid_slots=2)
asyncio.run(prepare_environment(
    sandbox, root, language="python", limits=Limits(wall_time_s=120, cpu_time_s=120),
    allow=[*load_default_policy().setup_allow, "sleep *"], cache=cache,
    setup_commands=sys.argv[3:]))
"""


def test_a_worker_sigkilled_mid_setup_leaves_an_environment_that_is_made_again(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "a" / "repo", FILES)
    commands = ["python3 -m venv --without-pip .venv", "sleep 60"]
    worker = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(tmp_path / "cache"), *commands],
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        for _ in range(600):  # the venv is made, the setup's last command is running
            if (root / ".venv/bin/python").exists() or worker.poll() is not None:
                break
            time.sleep(0.1)
        assert worker.poll() is None and (root / ".venv/bin/python").exists()
        time.sleep(1)  # into `sleep 60`
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    assert not list(tmp_path.glob("cache/*/environments/*/" + kept.DESCRIPTION))
    (root / ".venv/half-made.txt").write_text("left by the killed worker")
    # the same workspace and plan, prepared again by another worker: made again from nothing
    again = asyncio.run(
        prepare_environment(
            sandbox, root, language="python", limits=Limits(wall_time_s=3, cpu_time_s=3),
            allow=SLOW_ALLOWED,
            cache=RepositoryCache(tmp_path / "cache", "octo/app"), setup_commands=commands,
        )
    )  # fmt: skip
    assert not again.reused and not again.restored
    assert [(r.command, r.exit_code) for r in again.records][0] == (commands[0], 0)
    assert not (root / ".venv/half-made.txt").exists()
    assert again.records[-1].limit_hit is not None  # the sleep ran again, into its limit
