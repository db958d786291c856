"""Python projects that are not packages: which ones, what is installed for them, and why (no
sandbox, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.environment.detect import python_plan
from bot.environment.source_tree import (
    SOURCE_TREE_PTH,
    add_source_tree,
    build_failure,
    not_installable,
    recorded_reason,
)
from bot.policy.decide import load_default_policy
from bot.sandbox.phases import allowed
from tests.unit.environment.test_detect import PIP, UV, tree

BUILD_SYSTEM = (
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
)
TALLYHO = (
    BUILD_SYSTEM
    + '[project]\nname = "Tally_Ho"\nversion = "0.1.0"\ndependencies = ["attrs>=22"]\n'
    + "[project.optional-dependencies]\n"
    + 'test = ["tally-ho[db]", "pytest>=7"]\ndb = ["sqlalchemy<3"]\ndocs = ["sphinx"]\n'
)
# What the installers printed for the flat-layout application (tallyho/ beside migrations/).
UV_FLAT_LAYOUT = """\
Resolved 7 packages in 188ms
   Building tallyho @ file:///work/run/tallyho
error: Failed to build `tallyho @ file:///work/run/tallyho`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta.get_requires_for_build_editable` failed (exit status: 1)

         [stderr]
         error: Multiple top-level packages discovered in a flat-layout: ['tallyho', 'migrations'].

         To avoid accidental inclusion of unwanted files or directories,
         setuptools will not proceed with this build.

hint: Build failures usually indicate a problem with the package or the build environment
"""
PIP_FLAT_LAYOUT = """\
  error: subprocess-exited-with-error

  × Getting requirements to build editable did not run successfully.
  │ exit code: 1
  ╰─> [14 lines of output]
      error: Multiple top-level packages discovered in a flat-layout: ['tallyho', 'migrations'].
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: subprocess-exited-with-error
"""
SETUP_PY_RAISES = """\
   Building app @ file:///work/app
error: Failed to build `app @ file:///work/app`
  cause: The build backend returned an error
         [stderr]
         Traceback (most recent call last):
           File "<string>", line 14, in <module>
           File "setup.py", line 3, in <module>
         RuntimeError: set APP_VERSION to build
"""
NO_NETWORK = """\
error: Failed to fetch: https://pypi.org/simple/attrs/
  cause: error sending request for url (https://pypi.org/simple/attrs/)
"""


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        pytest.param({"requirements.txt": "attrs\n"}, "no pyproject.toml or setup.py", id="reqs"),
        pytest.param(
            {"setup.cfg": "[flake8]\nmax-line-length = 100\n"},
            "no pyproject.toml or setup.py (setup.cfg alone builds nothing)",
            id="setup.cfg-of-tools",
        ),
        pytest.param(
            {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-q"\n'},
            "pyproject.toml has no [build-system] or [project] table",
            id="tool-config-only",
        ),
        pytest.param(
            {"pyproject.toml": BUILD_SYSTEM + "[tool.poetry]\npackage-mode = false\n"},
            "pyproject.toml sets [tool.poetry] package-mode = false",
            id="poetry-package-mode",
        ),
        pytest.param(
            {"pyproject.toml": TALLYHO + "[tool.uv]\npackage = false\n"},
            "pyproject.toml sets [tool.uv] package = false",
            id="uv-package-false",
        ),
    ],
)
def test_a_project_its_files_show_cannot_be_installed_says_why(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    assert not_installable(tree(tmp_path, files)) == f"not installable: {reason}"


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"pyproject.toml": TALLYHO, "migrations/0001.sql": ""}, id="flat-layout"),
        pytest.param({"pyproject.toml": '[project]\nname = "x"\nversion = "1"\n'}, id="project"),
        pytest.param({"setup.py": "from setuptools import setup\nsetup()\n"}, id="setup.py"),
        pytest.param(
            {"pyproject.toml": "[tool.black]\n", "setup.cfg": "[metadata]\nname = x\n"},
            id="setup.cfg-package",
        ),
        pytest.param({"pyproject.toml": "[broken"}, id="invalid-toml"),
    ],
)
def test_a_project_that_may_build_is_installed_and_its_install_decides(
    tmp_path: Path, files: dict[str, str]
) -> None:
    root = tree(tmp_path, files)
    assert not_installable(root) is None
    plan = python_plan(root, UV)
    assert plan.source_tree is None and "-e" in plan.commands[-1]


def test_a_requirements_only_application_installs_its_requirements_not_itself(
    tmp_path: Path,
) -> None:
    files = {"requirements.txt": "attrs==23.2.0\n", "app.py": "", "tests/test_app.py": ""}
    plan = python_plan(tree(tmp_path, files), PIP)
    assert plan.commands[-1] == [
        ".venv/bin/python",
        "-m",
        "pip",
        "install",
        "-r",
        "requirements.txt",
    ]
    assert plan.source_tree == "not installable: no pyproject.toml or setup.py"
    assert plan.sources == ["requirements.txt"]


def test_a_project_whose_build_failed_installs_what_it_declares_and_its_test_extra(
    tmp_path: Path,
) -> None:
    root = tree(tmp_path, {"pyproject.toml": TALLYHO, "requirements-dev.txt": "ruff\n"})
    why = "not installable: Multiple top-level packages discovered in a flat-layout"
    plan = python_plan(root, UV, not_installed=why)
    install = plan.commands[-1]
    # the project's reference to its own extra is resolved; the project itself is never named
    assert install[-5:] == ["-r", "requirements-dev.txt", "attrs>=22", "sqlalchemy<3", "pytest>=7"]
    assert "-e" not in install and "sphinx" not in install
    assert plan.source_tree == why
    assert (
        "the dependencies pyproject.toml declares (with extra 'test'), not the project itself"
        in (plan.sources)
    )
    assert plan.key != python_plan(root, UV).key


def test_dependencies_left_to_the_build_are_named_as_not_installed(tmp_path: Path) -> None:
    dynamic = '[project]\nname = "app"\nversion = "1"\ndynamic = ["dependencies"]\n'
    root = tree(tmp_path, {"pyproject.toml": BUILD_SYSTEM + dynamic})
    plan = python_plan(root, UV, not_installed="not installable: x")
    assert plan.sources == [
        "not installed: the dependencies pyproject.toml leaves to its build (dynamic)"
    ]


def test_setup_cfg_requirements_and_extra_are_read_when_the_build_fails(tmp_path: Path) -> None:
    cfg = (
        "[metadata]\nname = app\n[options]\ninstall_requires =\n    attrs\n    click>=8  # cli\n"
        "[options.extras_require]\ntesting =\n    pytest\n"
    )
    root = tree(tmp_path, {"setup.py": "raise SystemExit(1)\n", "setup.cfg": cfg})
    plan = python_plan(root, PIP, not_installed="not installable: x")
    assert plan.commands[-1][-3:] == ["attrs", "click>=8", "pytest"]


def test_a_uv_lock_syncs_without_the_project_when_it_cannot_be_installed(tmp_path: Path) -> None:
    root = tree(tmp_path, {"pyproject.toml": TALLYHO, "uv.lock": "version = 1\n"})
    (sync,) = python_plan(root, UV, not_installed="not installable: x").commands
    assert sync[1:3] == ["sync", "--frozen"] and sync[-1] == "--no-install-project"
    assert allowed(sync, load_default_policy().setup_allow)


@pytest.mark.parametrize(
    ("output", "line"),
    [
        pytest.param(
            UV_FLAT_LAYOUT,
            "Multiple top-level packages discovered in a flat-layout: ['tallyho', 'migrations']",
            id="uv",
        ),
        pytest.param(
            PIP_FLAT_LAYOUT,
            "Multiple top-level packages discovered in a flat-layout: ['tallyho', 'migrations']",
            id="pip",
        ),
        pytest.param(SETUP_PY_RAISES, "RuntimeError: set APP_VERSION to build", id="traceback"),
        pytest.param(NO_NETWORK, None, id="not-a-build"),
    ],
)
def test_the_line_that_says_why_a_build_failed_is_found(output: str, line: str | None) -> None:
    assert build_failure(output) == line


def test_the_source_tree_and_src_are_put_on_the_venvs_path_with_the_reason(tmp_path: Path) -> None:
    root = tree(tmp_path, {"src/app/__init__.py": "", ".venv/lib/python3.11/site-packages/x": ""})
    assert recorded_reason(root, ".venv") is None
    why = "not installable: Multiple top-level packages\n discovered"
    assert add_source_tree(root, ".venv", why) == [root.resolve(), root.resolve() / "src"]
    pth = root / ".venv/lib/python3.11/site-packages" / SOURCE_TREE_PTH
    assert pth.read_text().splitlines() == [
        "# not installable: Multiple top-level packages discovered",  # a comment to site.py
        str(root.resolve()),
        str(root.resolve() / "src"),
    ]
    recorded = recorded_reason(root, ".venv")
    assert recorded == "not installable: Multiple top-level packages discovered"
