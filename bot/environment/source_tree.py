"""Python projects that are not packages: what they declare installed, the tests from the tree.

Services, sites, data pipelines and internal tools keep a `pyproject.toml` or `requirements.txt`
for their dependencies and are never built. A person installs the dependencies and runs pytest
from the checkout; so does Draftsmith, when the project cannot be built or installed:
- known from its files (`not_installable`): no `pyproject.toml` or `setup.py` at all (only
  requirements files, or a `setup.cfg` that configures tools; pip and uv refuse to install such a
  directory), a `pyproject.toml` with neither `[build-system]` nor `[project]` (tool
  configuration only: pip would build an empty setuptools package from it), poetry's
  `package-mode = false` or uv's `package = false`;
- or known from its install (`build_failure`): the editable install of the project fails in a
  build (setuptools' "Multiple top-level packages discovered in a flat-layout") and the
  dependencies alone then install (bot.environment.prepare retries once without the project).
What it declares (`declared_requirements`): `[project]` dependencies and the test extra (or
`setup.cfg`'s `install_requires` and extra), besides what every plan reads (requirements files,
a lock, a PEP 735 group). The repository root, and `src/` when there is one, are put on the
venv's `sys.path` by a `.pth` file (`add_source_tree`). The base commit is checked out in the same
workspace (bot.testing.checkout), so the same paths hold the base's code in the base runs.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from bot.environment.requirements import parsed

SOURCE_TREE_PTH = "_draftsmith_source_tree.pth"
NOT_INSTALLABLE = "not installable"
FROM_SOURCE_TREE = "dependencies installed, tests run from the source tree"
SRC = "src"

# A build that failed, as uv and pip report it (the project's own or a dependency's: the retry
# without the project tells them apart).
BUILD_FAILED = re.compile(
    r"Failed to build|build backend|Build failures usually|did not run successfully"
    r"|metadata-generation-failed|does not appear to be a Python project|build_editable",
    re.IGNORECASE,
)
ERROR_LINE = re.compile(r"^(?:error|[A-Za-z_][\w.]*(?:Error|Exception)):\s*\S", re.IGNORECASE)
WRAPPERS = (
    "error: failed to build",
    "error: failed building",
    "error: subprocess-exited-with-error",
    "error: metadata-generation-failed",
)
DECORATION = " \t│╰─>×║"


def not_installable(root: Path) -> str | None:
    """Why the project at `root` cannot be installed, known from its files; None if it may be."""
    has_setup_py = (root / "setup.py").is_file()
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        if has_setup_py:
            return None
        cfg = " (setup.cfg alone builds nothing)" if (root / "setup.cfg").is_file() else ""
        return f"{NOT_INSTALLABLE}: no pyproject.toml or setup.py{cfg}"
    try:
        data = tomllib.loads(pyproject.read_text(errors="replace"))
    except tomllib.TOMLDecodeError:
        return None  # the install says what is wrong with it
    tool = _table(data, "tool")
    if _table(tool, "poetry").get("package-mode") is False:
        return f"{NOT_INSTALLABLE}: pyproject.toml sets [tool.poetry] package-mode = false"
    if _table(tool, "uv").get("package") is False:
        return f"{NOT_INSTALLABLE}: pyproject.toml sets [tool.uv] package = false"
    if "build-system" in data or "project" in data or has_setup_py or _cfg_package(root):
        return None
    return f"{NOT_INSTALLABLE}: pyproject.toml has no [build-system] or [project] table"


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _cfg_package(root: Path) -> bool:
    """Whether setup.cfg declares a package (`[metadata]` or `[options]`), not tools alone."""
    cfg = _setup_cfg(root)
    return cfg is not None and (cfg.has_section("metadata") or cfg.has_section("options"))


def _setup_cfg(root: Path) -> configparser.ConfigParser | None:
    path = root / "setup.cfg"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except configparser.Error:
        return None
    return parser


def declared_requirements(
    root: Path, project: dict[str, Any], extra: str | None
) -> tuple[list[str], list[str]]:
    """(requirements, where they came from): the dependencies the project declares and those of
    its test `extra`, with the project's references to its own extras resolved and the project
    itself left out. `[project]` first, else `setup.cfg`'s `[options]`."""
    table = project.get("project")
    if isinstance(table, dict):
        name = canonicalize_name(str(table.get("name") or ""))
        dynamic = set(table.get("dynamic") or [])
        base = [] if "dependencies" in dynamic else list(table.get("dependencies") or [])
        unread = (
            "not installed: the dependencies pyproject.toml leaves to its build (dynamic)"
            if "dependencies" in dynamic
            else ""
        )
        extras = {
            str(k): list(v or []) for k, v in (table.get("optional-dependencies") or {}).items()
        }
        origin = "pyproject.toml"
    else:
        cfg = _setup_cfg(root)
        unread = (
            "not installed: what setup.py requires (only its build would tell)"
            if ((root / "setup.py").is_file() and (cfg is None or not cfg.has_section("options")))
            else ""
        )
        if cfg is None:
            return [], [unread] if unread else []
        name = canonicalize_name(cfg.get("metadata", "name", fallback=""))
        base = _cfg_lines(cfg.get("options", "install_requires", fallback=""))
        extras = (
            {k: _cfg_lines(v) for k, v in cfg.items("options.extras_require")}
            if cfg.has_section("options.extras_require")
            else {}
        )
        origin = "setup.cfg"
    chosen = extras.get(extra, []) if extra else []
    wanted = _resolve(base + chosen, name, extras, {extra} if extra else set())
    sources = []
    if wanted:
        what = f"with extra {extra!r}" if chosen else "alone"
        sources.append(f"the dependencies {origin} declares ({what}), not the project itself")
    if unread:
        sources.append(unread)
    return wanted, sources


def _resolve(
    requirements: list[str], name: str, extras: dict[str, list[str]], seen: set[str]
) -> list[str]:
    """Requirements with the project's own `name[extra]` replaced by that extra's requirements."""
    out: list[str] = []
    pending = list(requirements)
    while pending:
        requirement = pending.pop(0).strip()
        if not requirement:
            continue
        stated = parsed(requirement)
        if name and stated is not None and canonicalize_name(stated.name) == name:
            for wanted in sorted(stated.extras):
                if wanted not in seen:
                    seen.add(wanted)
                    pending[:0] = extras.get(wanted, [])
            continue
        if requirement not in out:
            out.append(requirement)
    return out


def _cfg_lines(value: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in value.splitlines())
    return [line for line in lines if line]


def build_failure(output: str) -> str | None:
    """The line that says why a build failed, when the installer's output shows one; else None."""
    if not BUILD_FAILED.search(output):
        return None
    candidates = []
    for raw in output.splitlines():
        line = raw.strip(DECORATION)
        if ERROR_LINE.match(line) and not line.lower().startswith(WRAPPERS):
            candidates.append(line)
    if candidates:
        line = re.sub(r"^error:\s*", "", candidates[-1], flags=re.IGNORECASE)
        return line.rstrip(".")[:300]
    return "the build failed (the installer gave no error line)"


def source_tree_paths(root: Path) -> list[Path]:
    """What a checkout's tests import from: the repository root, and `src/` when present."""
    root = root.resolve()
    return [root] + ([root / SRC] if (root / SRC).is_dir() else [])


def add_source_tree(root: Path, venv: str, why: str) -> list[Path]:
    """Put the source tree on the venv's `sys.path` (a `.pth` file, whose comment records `why`
    for an environment restored from a kept copy); the paths it added."""
    paths = source_tree_paths(root)
    reason = " ".join(why.split())
    for site in (root / venv / "lib").glob("python3*/site-packages"):
        (site / SOURCE_TREE_PTH).write_text(f"# {reason}\n" + "".join(f"{p}\n" for p in paths))
    return paths


def recorded_reason(root: Path, venv: str) -> str | None:
    """Why the venv's project was not installed, as `add_source_tree` recorded it; else None."""
    for pth in (root / venv / "lib").glob(f"python3*/site-packages/{SOURCE_TREE_PTH}"):
        first = pth.read_text(errors="replace").split("\n", 1)[0]
        if first.startswith("# "):
            return first[2:].strip() or None
    return None


def use_source_tree(root: Path, venv: str, why: str) -> str:
    """Make the source tree importable in the venv (`add_source_tree`); the evidence's note."""
    paths = add_source_tree(root, venv, why)
    importable = "the repository root" + (" and src/" if len(paths) > 1 else "")
    return f"{why}; {FROM_SOURCE_TREE} ({importable} importable)"
