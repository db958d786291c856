"""Both sandbox backends for tests that must hold on each: bubblewrap and Docker.

Docker tests need an engine and the sandbox image (`scripts/build_sandbox_image.sh`, named by
DRAFTSMITH_DOCKER_IMAGE or found under its default tag). Without them a test is skipped with the
reason — except in CI (`CI=true`), where `.ci/run` starts dockerd and builds the image, so a
missing engine there fails the test instead of hiding it.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from bot.sandbox.base import Sandbox
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.docker import LABEL, DockerSandbox, docker_problem
from bot.sandbox.setup_env import SetupNetwork

DEFAULT_IMAGE_TAG = "draftsmith-sandbox:bookworm-go-node20"  # scripts/build_sandbox_image.sh
BACKENDS = ["bwrap", "docker"]


@functools.cache
def docker_image_problem() -> tuple[str | None, str]:
    """(why Docker tests cannot run or None, the image to use)."""
    problem = docker_problem()
    if problem is not None:
        return problem, ""
    image = os.environ.get("DRAFTSMITH_DOCKER_IMAGE", "")
    if not image:
        found = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", DEFAULT_IMAGE_TAG],
            capture_output=True,
            text=True,
        )
        if found.returncode != 0:
            return (
                f"no sandbox image: set DRAFTSMITH_DOCKER_IMAGE or build {DEFAULT_IMAGE_TAG} "
                "with scripts/build_sandbox_image.sh",
                "",
            )
        image = found.stdout.strip()
    return None, image


def require(backend: str) -> None:
    """Skip (or, in CI, fail) when the backend cannot run here."""
    problem = bwrap_problem() if backend == "bwrap" else docker_image_problem()[0]
    if problem is None:
        return
    if backend == "docker" and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the docker sandbox cannot run: {problem}")
    pytest.skip(f"{backend} sandbox unavailable: {problem}")


def make_sandbox(
    backend: str,
    *,
    toolbox: Path | None = None,
    setup: SetupNetwork | None = None,
    uid_base: int = 2_100_000,
) -> Sandbox:
    """A sandbox of the backend (skipping/failing per `require` when it cannot run)."""
    require(backend)
    if backend == "bwrap":
        return BwrapSandbox(toolbox=toolbox, setup=setup, uid_base=uid_base, uid_slots=4)
    return DockerSandbox(docker_image_problem()[1], toolbox=toolbox, setup=setup)


def leftovers(sandbox: Sandbox, workdir: Path, uid_base: int = 2_100_000) -> list[str]:
    """What a finished run left running: bwrap processes of the sandbox uids, or containers."""
    if isinstance(sandbox, DockerSandbox):
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={LABEL}.workdir={workdir.resolve()}"],
            capture_output=True,
            text=True,
            check=True,
        )
        return listed.stdout.split()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if uid_base <= uid < uid_base + 4:
                pids.append(entry)
    return pids
