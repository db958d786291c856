"""What runs on the base when its suite is not cached (bot.testing.selection), with real git and
bwrap: the base's whole suite only when the change's suite has a failure to compare; otherwise the
base's own versions of the test modules the change edits, or nothing but the new tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.environment.cache import RepositoryCache
from bot.repo.workspace import Workspace
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.toolbox import build_python_toolbox
from bot.testing.suite import SuiteOutcome, run_suite
from tests.helpers.repos import PYTHON_FILES, commit_change, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=60, cpu_time_s=60)
SUBTRACT = "\n\ndef subtract(a, b):\n    return a - b\n"
NEW_TEST = "from calc import subtract\n\n\ndef test_subtract():\n    assert subtract(3, 2) == 1\n"
FILES = {
    **PYTHON_FILES,
    "tests/test_other.py": "def test_other():\n    assert True\n",
    "tests/conftest.py": "",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_300, uid_slots=4)


def _change(tmp_path: Path, files: dict[str, str], base_files: dict[str, str] = FILES) -> tuple[
    Workspace, str
]:  # fmt: skip
    root = make_repo(tmp_path / "calc", base_files)
    base = commit_change(root, files)
    return Workspace(root), base


def _run(
    sandbox: BwrapSandbox,
    workspace: Workspace,
    base: str,
    new_files: list[str],
    cache: RepositoryCache | None = None,
) -> SuiteOutcome:
    return asyncio.run(
        run_suite(
            sandbox, LIMITS, workspace, base, new_files, language="python", cache=cache,
            is_test=lambda path: path.startswith("tests/"),
        )
    )  # fmt: skip


def test_a_passing_change_with_a_new_test_module_runs_nothing_of_the_base_suite(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    add = PYTHON_FILES["calc/__init__.py"]
    elsewhere = (  # a platform's test, skipped here: neither passed nor failed (None)
        '\n\nimport pytest\n\n\n@pytest.mark.skip(reason="on Windows")\n'
        "def test_subtract_on_windows():\n    assert subtract(1, 1) == 0\n"
    )
    workspace, base = _change(
        tmp_path,
        {"calc/__init__.py": add + SUBTRACT, "tests/test_subtract.py": NEW_TEST + elsewhere,
         "tests/conftest.py": "# the change's conftest\n"},
    )  # fmt: skip
    cache = RepositoryCache(tmp_path / "cache", "octo/calc")
    outcome = _run(sandbox, workspace, base, ["tests/test_subtract.py"], cache)
    assert outcome.pinned == {"tests.test_subtract::test_subtract": "could not be collected on "
                              "the base: imports what it adds"}  # fmt: skip
    assert outcome.after == {"tests.test_subtract::test_subtract": True,
                             "tests.test_subtract::test_subtract_on_windows": None}  # fmt: skip
    assert "base_suite_s" not in outcome.timings and "base_selected_s" not in outcome.timings
    assert outcome.timings["base_new_tests_s"] is not None  # the proof's own run on the base
    assert outcome.base_selection is not None
    assert "did not run" in outcome.base_selection and "no result" in outcome.base_selection
    assert outcome.base_problem is None and outcome.new_failures == []
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*suite*"))


def test_a_passing_change_to_an_existing_test_module_reads_its_base_version(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    add = PYTHON_FILES["calc/__init__.py"]
    extended = PYTHON_FILES["tests/test_add.py"].replace("import add", "import add, subtract")
    extended += "\n\ndef test_subtract():\n    assert subtract(3, 2) == 1\n"
    workspace, base = _change(
        tmp_path, {"calc/__init__.py": add + SUBTRACT, "tests/test_add.py": extended}
    )
    outcome = _run(sandbox, workspace, base, ["tests/test_add.py"])
    assert "base_selected_s" not in outcome.timings and "base_suite_s" not in outcome.timings
    assert outcome.base_selection is not None
    assert "read from the base's versions of `tests/test_add.py`" in outcome.base_selection
    # the edited module cannot be collected on the base (it imports what the change adds); the
    # base's own version says test_add was already there: not the tester's
    assert outcome.preexisting == ["tests.test_add::test_add"]
    assert sorted(outcome.pinned) == ["tests.test_add::test_add", "tests.test_add::test_subtract"]


def test_an_edited_test_module_whose_source_cannot_say_runs_on_the_base(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    inherited = (
        "class Checks:\n    def test_inherited(self):\n        assert True\n\n\n"
        "class TestAll(Checks):\n    pass\n"
    )
    add = PYTHON_FILES["calc/__init__.py"]
    new_test = "\n\ndef test_subtract():\n    import calc\n\n    assert calc.subtract(3, 2) == 1\n"
    workspace, base = _change(
        tmp_path,
        {"calc/__init__.py": add + SUBTRACT, "tests/test_all.py": inherited + new_test},
        base_files={**FILES, "tests/test_all.py": inherited},
    )
    outcome = _run(sandbox, workspace, base, ["tests/test_all.py"])
    assert outcome.timings["base_selected_s"] is not None and "base_suite_s" not in outcome.timings
    assert outcome.base_selection is not None
    assert "by running the base's versions of `tests/test_all.py`" in outcome.base_selection
    assert "test_other" not in str(outcome.base_suite)  # the base's other modules did not run
    assert outcome.preexisting == ["tests.test_all.TestAll::test_inherited"]
    assert list(outcome.pinned) == ["tests.test_all::test_subtract"]


def test_a_failing_change_runs_the_whole_base_suite_and_caches_it(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    broken = {"tests/test_other.py": "def test_other():\n    assert False\n"}
    workspace, base = _change(
        tmp_path, {"calc/__init__.py": "def add(a, b):\n    return a - b\n"},
        base_files={**FILES, **broken},
    )  # fmt: skip
    cache = RepositoryCache(tmp_path / "cache", "octo/calc")
    outcome = _run(sandbox, workspace, base, [], cache)
    assert outcome.base_selection is None and outcome.timings["base_suite_s"] is not None
    assert outcome.already_failing == ["tests.test_other::test_other"]
    assert outcome.new_failures == ["tests.test_add::test_add"]
    again = _run(sandbox, workspace, base, [], cache)  # a revision: the whole suite is cached
    assert again.base_suite_cached and again.new_failures == ["tests.test_add::test_add"]
