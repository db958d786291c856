"""What a repository needs installed, read from its own files (no sandbox, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.environment.detect import Installer, node_plan, python_plan
from bot.environment.prepare import plan_for
from bot.policy.decide import load_default_policy
from bot.sandbox.phases import allowed

UV = Installer("uv", uv="/opt/draftsmith/python/.bin/uv")
PIP = Installer("pip")
GROUPS = """
[project]
name = "lib"
version = "1"
[project.optional-dependencies]
docs = ["sphinx"]
testing = ["hypothesis"]
[dependency-groups]
typing = ["mypy"]
base = ["pytest==8.3.4"]
tests = [{include-group = "base"}, "trio"]
dev = ["ruff"]
"""


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_test_group_and_extra_are_installed_with_the_project_editable(tmp_path: Path) -> None:
    plan = python_plan(tree(tmp_path, {"pyproject.toml": GROUPS}), UV)
    venv, seed, install = plan.commands
    assert venv[1:2] == ["venv"]
    assert seed == [".venv/bin/python", "-m", "ensurepip"]  # what `python -m venv` seeds
    assert install[-4:] == ["pytest==8.3.4", "trio", "-e", ".[testing]"]
    assert "mypy" not in install and "ruff" not in install


def test_a_uv_lock_is_installed_exactly_with_uv_sync_frozen(tmp_path: Path) -> None:
    root = tree(tmp_path, {"pyproject.toml": GROUPS, "uv.lock": "version = 1\n"})
    (sync,) = python_plan(root, UV).commands
    assert sync[1:3] == ["sync", "--frozen"]
    assert sync[-5:] == ["--no-default-groups", "--group", "tests", "--extra", "testing"]


def test_a_test_requirements_file_comes_before_dev_and_pip_works_without_uv(tmp_path: Path) -> None:
    files = {
        "setup.py": "from setuptools import setup\nsetup()\n",
        "requirements/tests.txt": "pytest==6.2.4\n",
        "requirements/dev.txt": "tox\n",
        "requirements/docs.txt": "sphinx\n",
    }
    plan = python_plan(tree(tmp_path, files), PIP)
    assert plan.commands == [
        ["python3", "-m", "venv", ".venv"],
        [".venv/bin/python", "-m", "pip", "install", "-r", "requirements/tests.txt", "-e", "."],
    ]


def test_a_poetry_lock_pins_every_package(tmp_path: Path) -> None:
    lock = '[[package]]\nname = "pytest"\nversion = "7.4.0"\n'
    plan = python_plan(tree(tmp_path, {"pyproject.toml": GROUPS, "poetry.lock": lock}), UV)
    assert "pytest==7.4.0" in plan.commands[2]
    assert "poetry.lock (1 pinned packages)" in plan.sources


def test_a_repository_without_packaging_still_gets_a_venv(tmp_path: Path) -> None:
    plan = python_plan(tree(tmp_path, {"calc/__init__.py": ""}), UV)
    assert [c[1] for c in plan.commands] == ["venv"]


def test_the_key_changes_when_an_input_file_changes(tmp_path: Path) -> None:
    root = tree(tmp_path, {"pyproject.toml": GROUPS})
    before = python_plan(root, UV).key
    (root / "pyproject.toml").write_text(GROUPS + "\n# edited\n")
    assert python_plan(root, UV).key != before


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"package.json": "{}", "package-lock.json": "{}"}, [["npm", "ci"]], id="lock"),
        pytest.param(
            {"package.json": '{"devDependencies": {"x": "1"}}'},
            [["npm", "install", "--no-package-lock"]],
            id="no-lock",
        ),
        pytest.param({"package.json": '{"name": "x"}'}, [], id="nothing-to-install"),
    ],
)
def test_node_uses_npm_ci_with_a_lockfile(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    assert node_plan(tree(tmp_path, files)).commands == expected


def test_every_detected_command_passes_the_default_setup_allow_list(tmp_path: Path) -> None:
    allow = load_default_policy().setup_allow
    root = tree(tmp_path, {"pyproject.toml": GROUPS, "requirements-dev.txt": "x\n"})
    commands = python_plan(root, UV).commands + python_plan(root, PIP).commands
    (root / "uv.lock").write_text("version = 1\n")
    commands += python_plan(root, UV).commands
    assert commands and all(allowed(c, allow) for c in commands)


def test_configured_setup_commands_replace_detection(tmp_path: Path) -> None:
    root = tree(tmp_path, {"pyproject.toml": GROUPS})
    plan = plan_for(root, "python", ["python3 -m venv .venv", ".venv/bin/pip install -e ."], UV)
    assert plan.configured and plan.commands[1] == [".venv/bin/pip", "install", "-e", "."]


def test_pinned_requirements_can_be_installed_once_more_without_their_pins(tmp_path: Path) -> None:
    pins = (
        "pytest==6.2.4\n    # via -r tests.in\npy==1.10.0 ; python_version < '3.12'\n"
        "six==1.16.0 \\\n    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4\n"
        "requests[socks]>=2\ngit+https://example.com/tool.git@v1\n"
    )
    root = tree(tmp_path, {"setup.py": "", "requirements/tests.txt": pins})
    assert "-r" in python_plan(root, UV).commands[2]
    relaxed = python_plan(root, UV, relax=True)
    # the pins go; extras, environment markers and pip's own lines (a URL) stay; hashes go too
    assert relaxed.commands[2][-7:] == [
        "pytest",
        'py; python_version < "3.12"',
        "six",
        "requests[socks]",
        "git+https://example.com/tool.git@v1",
        "-e",
        ".",
    ]
    assert "requirements/tests.txt without its pins" in relaxed.sources


TWO_PYTHONS = """
[[package]]
name = "filelock"
version = "3.19.1"
groups = ["dev"]
markers = "python_version == \\"3.9\\""

[[package]]
name = "filelock"
version = "3.20.3"
groups = ["dev"]
markers = "python_version >= \\"3.10\\""

[[package]]
name = "sphinx"
version = "4.5.0"
groups = ["docs"]

[[package]]
name = "pytest"
version = "7.4.4"
groups = ["dev"]
"""


def test_a_lock_keeps_its_markers_and_leaves_out_groups_that_are_not_for_tests(
    tmp_path: Path,
) -> None:
    """A poetry 2 lock pins one package twice, for two Pythons: the installer must choose by
    marker (both pins at once cannot be installed); the docs group is not the tests'."""
    plan = python_plan(tree(tmp_path, {"pyproject.toml": GROUPS, "poetry.lock": TWO_PYTHONS}), UV)
    install = plan.commands[2]
    assert 'filelock==3.19.1; python_version == "3.9"' in install
    assert 'filelock==3.20.3; python_version >= "3.10"' in install
    assert "pytest==7.4.4" in install
    assert not any(a.startswith("sphinx") for a in install)
