"""What a repository needs installed before its tests run, read from its own files.

Python: a venv in the workspace (never the host's site-packages), the project installed
editable, and its test dependencies from wherever it declares them: a lock file first
(`uv.lock`, `poetry.lock`, `pdm.lock`), else PEP 735 dependency groups, extras and
`requirements*.txt` files for tests or dev. A project that cannot be installed gets what it
declares without itself, its tests run from the source tree (bot.environment.source_tree).
Node: npm, pnpm or yarn from the lock file (bot.environment.node). The plan is a list of
argv commands for the setup phase plus a key that changes whenever an input of the plan does.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.environment.node import NODE_LOCKFILES, install_plan
from bot.environment.requirements import parsed, without_pin
from bot.environment.source_tree import declared_requirements, not_installable

TEST_NAMES = ("tests", "test", "testing", "dev")
PYTHON_MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg")
LOCKFILES = ("uv.lock", "poetry.lock", "pdm.lock", *NODE_LOCKFILES)
VENV = ".venv"
DEPENDENCY_FILES = (*PYTHON_MANIFESTS, *LOCKFILES, "package.json", "pnpm-workspace.yaml")


def dependency_files(paths: set[str]) -> list[str]:
    """The paths an environment is prepared from: manifests, lock and requirements files."""
    found = [p for p in paths if p in DEPENDENCY_FILES or p.startswith("requirements/")]
    found += [p for p in paths if p.rsplit("/", 1)[-1] == "package.json"]  # workspace packages
    found += [
        p for p in paths if "/" not in p and p.startswith("requirements") and p.endswith(".txt")
    ]
    return sorted(set(found))


_REQ_NAME = re.compile(r"^(?:requirements[-_.]?)?(tests?|testing|dev)(?:[-_.]?requirements)?\.txt$")


@dataclass(frozen=True)
class EnvironmentPlan:
    """The setup commands of a repository and where each of its inputs came from."""

    language: str
    commands: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    key: str = ""
    configured: bool = False
    source_tree: str | None = None
    """Why the project itself is not installed (its tests run from the source tree), or None."""


@dataclass(frozen=True)
class Installer:
    """How Python packages are installed: `uv` (a single binary) or pip from the venv."""

    name: str
    uv: str | None = None
    python: str = "python3"


def _pyproject(root: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def dependency_group(
    project: dict[str, Any], name: str, seen: frozenset[str] = frozenset()
) -> list[str]:
    """The requirements of a PEP 735 dependency group, its `include-group`s resolved."""
    groups = project.get("dependency-groups") or {}
    out: list[str] = []
    for item in groups.get(name) or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            included = item["include-group"]
            if included not in seen:
                out += dependency_group(project, included, seen | {name})
    return out


def _first(names: list[str]) -> str | None:
    for wanted in TEST_NAMES:
        for name in names:
            if name.lower() == wanted:
                return name
    return None


def requirement_files(root: Path) -> list[str]:
    """The test (else dev) requirements file: `requirements-test.txt`, `requirements/tests.txt`."""
    found: dict[str, str] = {}
    for folder in (root, root / "requirements"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name.lower()
            match = _REQ_NAME.match(name)
            if match and path.is_file() and (folder != root or "requirements" in name):
                found.setdefault(match.group(1), str(path.relative_to(root)))
    kind = _first(list(found))
    return [found[kind]] if kind else []


def _extras(root: Path, project: dict[str, Any]) -> str | None:
    extras = list((project.get("project") or {}).get("optional-dependencies") or {})
    if not extras and (root / "setup.cfg").exists():
        text = (root / "setup.cfg").read_text(errors="replace")
        block = re.search(
            r"^\[options\.extras_require\]\n((?:[ \t]*\S.*\n?|\n)*?)(?=^\[|\Z)", text, re.M
        )
        if block:
            extras = re.findall(r"^(\w[\w.-]*)\s*=", block.group(1), re.M)
    return _first(extras)


def python_plan(
    root: Path, installer: Installer, *, relax: bool = False, not_installed: str | None = None
) -> EnvironmentPlan:
    """The venv and installs of a Python repository (lock file first).

    `relax`: requirements files are installed by package name without their pins (used once
    when the pinned versions cannot even start the test runner on the sandbox's Python).
    `not_installed`: why the project cannot be installed (its install failed); without it, the
    project is installed unless its files show it cannot be (`not_installable`)."""
    project = _pyproject(root)
    source_tree = not_installed or not_installable(root)
    python = f"{VENV}/bin/python"
    commands: list[list[str]] = []
    sources: list[str] = []
    inputs = [m for m in (*PYTHON_MANIFESTS, "requirements.txt") if (root / m).exists()]
    groups = list(project.get("dependency-groups") or {})
    group = _first(groups)
    extra = _extras(root, project)
    uv = installer.uv
    if uv is not None and (root / "uv.lock").exists() and "project" in project:
        sync = [uv, "sync", "--frozen", "--python", installer.python]
        if group:
            sync += ["--no-default-groups", "--group", group]
        if extra:
            sync += ["--extra", extra]
        if source_tree:
            sync.append("--no-install-project")
        how = "uv sync --frozen" + (", not the project itself" if source_tree else "")
        inputs.append("uv.lock")
        return _plan("python", [sync], [f"uv.lock ({how})"], inputs, root, source_tree)
    args: list[str] = []
    if (root / "poetry.lock").exists() or (root / "pdm.lock").exists():
        lock = "poetry.lock" if (root / "poetry.lock").exists() else "pdm.lock"
        exported = _locked_requirements(root / lock)
        if exported:
            args += exported
            sources.append(f"{lock} ({len(exported)} pinned packages)")
            inputs.append(lock)
    files = requirement_files(root)
    files += ["requirements.txt"] if (root / "requirements.txt").exists() else []
    for path in files:
        names = unpinned(root / path) if relax else None
        if names is not None:
            args += names
            sources.append(f"{path} without its pins")
        else:
            args += ["-r", path]
            sources.append(path)
        inputs.append(path)
    if group:
        args += dependency_group(project, group)
        sources.append(f"dependency group {group!r} of pyproject.toml")
    if source_tree:
        declared, described = declared_requirements(root, project, extra)
        args += declared
        sources += described
    else:
        args += ["-e", f".[{extra}]" if extra else "."]
        sources.append(f"the project, editable{f' with extra {extra!r}' if extra else ''}")
    if uv is not None:
        commands.append([uv, "venv", "--quiet", "--python", installer.python, VENV])
        if args:
            # what `python -m venv` gives this Python, from its own bundled wheels (offline):
            # pip, and setuptools before 3.12 (`uv venv --seed` takes today's setuptools, which
            # lacks the pkg_resources that older test suites import)
            commands.append([python, "-m", "ensurepip"])
        install = [uv, "pip", "install", "--python", python]
    else:
        commands.append([installer.python, "-m", "venv", VENV])
        install = [python, "-m", "pip", "install"]
    if args:
        commands.append([*install, *args])
    return _plan("python", commands, sources, inputs, root, source_tree)


def pinned_requirements(root: Path) -> bool:
    """Whether the requirements files the plan installs pin versions (`name==1.2`)."""
    files = requirement_files(root) + ["requirements.txt"]
    return any(unpinned(root / path) for path in files if (root / path).is_file())


def unpinned(path: Path) -> list[str] | None:
    """The lines of a requirements file without their version pins (extras and markers kept),
    when any line pins one with `==`; None if none does."""
    names, pinned = [], False
    for raw in path.read_text(errors="replace").splitlines():
        # a comment, pip's per-requirement options (--hash=...) and a line continuation are not
        # part of the requirement
        line = raw.split("#", 1)[0].split(" --", 1)[0].rstrip("\\").strip()
        if not line or line.startswith("-"):
            continue
        requirement = parsed(line)
        if requirement is None:  # pip's own syntax (a path, a bare URL) is kept as it is
            names.append(line)
            continue
        pinned = pinned or "==" in str(requirement.specifier)
        names.append(without_pin(requirement))
    return names if pinned else None


def _locked_requirements(lock: Path) -> list[str]:
    """`name==version` for each package a poetry.lock or pdm.lock pins, with its environment
    marker (`; python_version >= "3.10"`) so that the installer skips what is not for this
    Python or platform: a lock may pin two versions of one package for two Pythons. When the
    lock names its groups, the main group and the first test group (`tests`, `test`,
    `testing`, `dev`) only; docs and lint groups are not needed to run the tests."""
    try:
        data = tomllib.loads(lock.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return []
    packages = [p for p in data.get("package") or [] if isinstance(p, dict)]
    named = {g for p in packages for g in p.get("groups") or [] if isinstance(g, str)}
    wanted = {"main", "default", _first(sorted(named))} if named else set()
    pins = []
    for package in packages:
        name, version = package.get("name"), package.get("version")
        groups = package.get("groups")
        if wanted and isinstance(groups, list) and not wanted.intersection(groups):
            continue
        if isinstance(name, str) and isinstance(version, str):
            marker = _marker(package.get("markers"), groups)
            pins.append(f"{name}=={version}" + (f"; {marker}" if marker else ""))
    return pins


def _marker(markers: object, groups: object) -> str:
    """A package's environment marker in a lock: one string, or one per group (poetry 2)."""
    if isinstance(markers, str):
        return markers
    if isinstance(markers, dict) and isinstance(groups, list):
        found = {str(markers[g]) for g in groups if g in markers}
        if len(found) == 1 and len(markers) == len(groups):
            return found.pop()
    return ""


def node_plan(root: Path) -> EnvironmentPlan:
    """npm, pnpm or yarn from the lock file and `packageManager` (bot.environment.node)."""
    install = install_plan(root)
    return _plan("node", install.commands, install.sources + install.notes, install.inputs, root)


def configured_plan(root: Path, language: str, commands: list[list[str]]) -> EnvironmentPlan:
    """The repository's own `setup_commands` (they replace detection)."""
    inputs = [f for f in (*PYTHON_MANIFESTS, *LOCKFILES, "package.json") if (root / f).exists()]
    plan = _plan(language, commands, [".github/draftsmith.yml setup_commands"], inputs, root)
    return EnvironmentPlan(**{**plan.__dict__, "configured": True})


def _plan(
    language: str,
    commands: list[list[str]],
    sources: list[str],
    inputs: list[str],
    root: Path,
    source_tree: str | None = None,
) -> EnvironmentPlan:
    digest = hashlib.sha256(json.dumps(commands).encode())
    for name in sorted(set(inputs)):
        digest.update(name.encode() + b"\0")
        try:
            digest.update((root / name).read_bytes())
        except OSError:
            digest.update(b"(missing)")
    inputs = sorted(set(inputs))
    return EnvironmentPlan(
        language, commands, sources, inputs, digest.hexdigest(), source_tree=source_tree
    )
