"""A read-only Python toolbox (pytest, coverage) for the sandbox, built offline.

The toolbox is a plain directory of importable packages copied from the bot's own environment
(the files each distribution's RECORD lists), mounted read-only in the sandbox and put on
PYTHONPATH by the runners. Repository code thus gets pytest and coverage without downloads; a
repository that pins its own versions installs them into `.venv` in the setup phase instead.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import re
import shutil
from pathlib import Path

from bot.errors import SandboxError

logger = logging.getLogger(__name__)

DEFAULT_PACKAGES = ("pytest", "coverage")
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
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            target = dest / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / file, target)
        todo.extend(_requirements(dist))
    from bot.sandbox.witness import install_plugin

    install_plugin(dest)  # Draftsmith's own pytest plugin, loaded with -p (bot.sandbox.witness)
    for path in [dest, *dest.rglob("*")]:  # readable by the sandbox's unprivileged uid
        path.chmod(0o755 if path.is_dir() else 0o644)
    logger.info("python toolbox built at %s: %s", dest, sorted(seen))
    return dest
