"""A read-only toolbox (pytest, coverage, ruff, uv) for the sandbox, built offline.

The toolbox is a plain directory of importable packages copied from the bot's own environment
(the files each distribution's RECORD lists), mounted read-only in the sandbox and put on
PYTHONPATH by the runners. Repository code thus gets pytest and coverage without downloads; a
repository that pins its own versions installs them into `.venv` in the setup phase instead.
The executables of `BINARIES` (ruff's, which the RECORD lists outside site-packages) go to
`.bin/`, and the pytest plugin that measures the coverage of the change per test
(`CONTEXTS_PLUGIN`, bot.sandbox.coverage_contexts) is written beside the packages.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import re
import shutil
from pathlib import Path

from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

DEFAULT_PACKAGES = ("pytest", "coverage", "ruff", "uv")
TOOLBOX_VERSION = "4"  # 3: with uv; 4: the coverage plugin runs coverage.py itself
"""Raised when the toolbox's contents change, so a toolbox built before is rebuilt."""
BINARIES = frozenset({"ruff", "uv"})
"""Executables copied to `.bin/`: ruff (static analysis) and uv (environment preparation)."""
BIN_DIR = ".bin"
CONTEXTS_PLUGIN = "draftsmith_coverage_contexts"
"""The pytest plugin (`-p`) that runs coverage.py in the pytest process, per test's node id."""
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+")


def _requirements(dist: md.Distribution) -> list[str]:
    """Names of a distribution's unconditional requirements (and those for this Python)."""
    from packaging.requirements import Requirement

    names = []
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def build_python_toolbox(dest: Path, packages: tuple[str, ...] = DEFAULT_PACKAGES) -> Path:
    """Copy `packages` and their dependencies from this environment into `dest`; returns dest."""
    seen: set[str] = set()
    todo = list(packages)
    dest.mkdir(parents=True, exist_ok=True)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as exc:
            raise SandboxError(
                f"toolbox package {name} is not installed in the bot's environment",
                f"pip install {name} into the bot's environment",
            ) from exc
        root = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            if file.parts[0] == ".." and file.name in BINARIES:
                binary = dest / BIN_DIR / file.name
                binary.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / file, binary)
                continue
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            target = dest / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / file, target)
        todo.extend(_requirements(dist))
    from bot.sandbox.witness import install_plugin

    install_plugin(dest)  # Draftsmith's own pytest plugin, loaded with -p (bot.sandbox.witness)
    plugin = Path(__file__).with_name("coverage_contexts.py")
    shutil.copy2(plugin, dest / f"{CONTEXTS_PLUGIN}.py")
    for path in [dest, *dest.rglob("*")]:  # readable by the sandbox's unprivileged uid
        executable = path.is_dir() or path.parent == dest / BIN_DIR
        path.chmod(0o755 if executable else 0o644)
    logger.info("python toolbox built at %s: %s", dest, sorted(seen))
    return dest


def toolbox_program(sandbox: object, name: str) -> str | None:
    """The in-sandbox path of a toolbox executable, when the sandbox mounts a toolbox with it."""
    from bot.sandbox.base import TOOLBOX_MOUNT

    toolbox = getattr(sandbox, "toolbox", None)
    if not isinstance(toolbox, Path) or not (toolbox / BIN_DIR / name).is_file():
        return None
    return f"{TOOLBOX_MOUNT}/{BIN_DIR}/{name}"
