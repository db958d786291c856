"""Choosing the sandbox of a process (DRAFTSMITH_SANDBOX) and building the Python toolbox.

Kept apart from `base.py` (the port) so the port imports none of its adapters.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.sandbox.base import Sandbox
from bot.shared.config import Settings
from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)


def python_toolbox(dest: Path) -> Path:
    """The read-only pytest/coverage/ruff toolbox for the sandbox, built once per work directory
    (again when its contents changed: the marker holds the toolbox's version)."""
    from bot.sandbox.toolbox import TOOLBOX_VERSION, build_python_toolbox
    from bot.sandbox.witness import install_plugin

    marker = dest / ".complete"
    if not marker.exists() or marker.read_text().strip() != TOOLBOX_VERSION:
        build_python_toolbox(dest)
        marker.write_text(f"{TOOLBOX_VERSION}\n")
    install_plugin(dest)  # kept current in a toolbox built before the plugin changed
    return dest


def get_sandbox(settings: Settings) -> Sandbox:
    """The sandbox chosen by DRAFTSMITH_SANDBOX: auto = bwrap if it works, else docker."""
    import os

    from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
    from bot.sandbox.docker import DockerSandbox, docker_problem
    from bot.sandbox.setup_env import SetupNetwork

    choice = settings.sandbox
    setup = SetupNetwork.from_settings(settings, os.environ)
    if choice in ("auto", "bwrap"):
        problem = bwrap_problem()
        if problem is None:
            toolbox = python_toolbox(settings.work_dir / "toolbox")
            return BwrapSandbox(toolbox=toolbox, setup=setup)
        if choice == "bwrap":
            raise SandboxError(
                f"bubblewrap sandbox unavailable: {problem}",
                "install bubblewrap (apt-get install bubblewrap) and util-linux, "
                "or set DRAFTSMITH_SANDBOX=docker",
            )
        logger.info("bwrap unavailable (%s); trying docker", problem)
    docker_issue = docker_problem()
    if docker_issue is None:
        toolbox = python_toolbox(settings.work_dir / "toolbox")
        return DockerSandbox(image=settings.docker_image, toolbox=toolbox, setup=setup)
    if choice == "docker":
        raise SandboxError(
            f"docker sandbox unavailable: {docker_issue}",
            "start a Docker engine (check DOCKER_HOST) or set DRAFTSMITH_SANDBOX=bwrap",
        )
    raise SandboxError(
        f"no sandbox available: bwrap: {problem}; docker: {docker_issue}",
        "install bubblewrap (apt-get install bubblewrap) or start a Docker engine",
    )
