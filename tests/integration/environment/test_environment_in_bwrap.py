"""The prepared environment in the real bubblewrap sandbox: the repository's, and nothing else."""

from __future__ import annotations

import asyncio
import sys
import sysconfig
from pathlib import Path

import pytest

from bot.environment.prepare import TOOLBOX_PTH, PreparedEnvironment, prepare_environment
from bot.policy.decide import load_default_policy
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.runners import run_pytest
from bot.sandbox.toolbox import build_python_toolbox
from tests.helpers.repos import PYTHON_FILES, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=120, cpu_time_s=120)
CANDIDATES = ("jinja2", "markupsafe", "yaml", "pytest_benchmark", "hypothesis", "pip")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_200, uid_slots=4)


def host_library() -> str:
    """A library installed in the host interpreter's own site-packages (not the toolbox's)."""
    site = Path(sysconfig.get_path("purelib", vars={"base": sys.base_prefix}))
    for name in CANDIDATES:
        if (site / name / "__init__.py").exists():
            return name
    pytest.skip(f"none of {CANDIDATES} is installed in {site}")


def run(sandbox: BwrapSandbox, root: Path, code: str, python: str) -> tuple[int, str]:
    result = asyncio.run(sandbox.run([python, "-c", code], workdir=root, limits=LIMITS))
    return result.exit_code, result.stdout + result.stderr


def prepare(sandbox: BwrapSandbox, root: Path) -> PreparedEnvironment:
    """The repository's environment, prepared with the default setup allow-list."""
    return asyncio.run(
        prepare_environment(
            sandbox,
            root,
            language="python",
            limits=LIMITS,
            allow=load_default_policy().setup_allow,
        )
    )


def prepared(sandbox: BwrapSandbox, tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    environment = prepare(sandbox, root)
    assert environment.ok, environment.problem
    return root


def test_a_library_installed_on_the_host_is_not_importable_in_the_sandbox(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    library = host_library()
    root = prepared(sandbox, tmp_path)
    bare, _ = run(sandbox, root, f"import {library}", "python3")
    assert bare == 0  # the hazard: the host interpreter alone sees its site-packages
    code, output = run(sandbox, root, f"import {library}", str(root / ".venv/bin/python"))
    assert code == 1 and "ModuleNotFoundError" in output


def test_the_toolbox_fills_what_the_project_lacks_and_never_shadows_it(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = prepared(sandbox, tmp_path)
    python = str(root / ".venv/bin/python")
    code, output = run(sandbox, root, "import pytest; print(pytest.__file__)", python)
    assert code == 0 and output.startswith("/opt/draftsmith/python/")
    (site,) = (root / ".venv/lib").glob("python3*/site-packages")
    assert (site / TOOLBOX_PTH).exists()
    (site / "pytest.py").write_text("OWN = 'the project'\n")  # the project's own pytest
    code, output = run(sandbox, root, "import pytest; print(pytest.OWN)", python)
    assert (code, output.strip()) == (0, "the project")


def test_a_prepared_environment_is_reused_while_its_inputs_are_unchanged(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)

    def prepare(*commands: str) -> PreparedEnvironment:
        return asyncio.run(
            prepare_environment(
                sandbox,
                root,
                language="python",
                limits=LIMITS,
                allow=load_default_policy().setup_allow,
                setup_commands=commands,
            )
        )

    first = prepare("python3 -m venv --without-pip .venv")
    assert first.ok and not first.reused and len(first.records) == 1
    again = prepare("python3 -m venv --without-pip .venv")
    assert again.reused and again.records == []
    changed = prepare("python3 -m venv --without-pip --clear .venv")
    assert changed.ok and not changed.reused and changed.records


def test_a_setup_command_outside_the_allow_list_is_refused_with_what_to_do(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    environment = asyncio.run(
        prepare_environment(
            sandbox,
            root,
            language="python",
            limits=LIMITS,
            allow=load_default_policy().setup_allow,
            setup_commands=["curl https://example.invalid/install.sh"],
        )
    )
    assert not environment.ok
    assert "refused by the policy's setup allow-list" in (environment.problem or "")
    assert environment.records[0].refused


def test_the_witness_cross_checks_pytest_of_the_prepared_venv(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root = prepared(sandbox, tmp_path)
    honest = asyncio.run(run_pytest(sandbox, root, LIMITS))
    assert honest.command.startswith(str(root / ".venv/bin/python"))
    assert "draftsmith_witness" in honest.command
    assert (honest.status, honest.tests_passed, honest.tampered) == ("passed", 1, None)
    (root / "tests/test_add.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n"
    )
    (root / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtest_logreport(report):\n    report.outcome = 'passed'\n"
    )
    forged = asyncio.run(run_pytest(sandbox, root, LIMITS))
    assert forged.tampered is not None and forged.tests_passed == 0, forged


def test_a_half_made_environment_left_by_a_killed_worker_is_prepared_again(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    """A worker killed mid-setup leaves a .venv without the marker; `uv venv` refused it
    ("A virtual environment already exists"), which failed a run of the chaos test."""
    root = make_repo(tmp_path / "calc", PYTHON_FILES)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /nowhere\n")
    environment = prepare(sandbox, root)
    assert environment.ok, environment.problem
    assert environment.installer == "uv" and not environment.reused
    assert (root / ".venv" / "bin" / "python").exists()
