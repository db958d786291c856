"""The sandbox port: `Sandbox.run` executes one command on a run's workdir under `Limits`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

TOOLBOX_MOUNT = "/opt/draftsmith/python"  # where every backend mounts the read-only toolbox
GiB = 1024**3
MiB = 1024**2


class LimitHit(StrEnum):
    """Which limit ended a command."""

    wall_time = "wall_time"
    cpu_time = "cpu_time"
    memory = "memory"
    processes = "processes"
    output = "output"
    disk = "disk"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed command."""

    wall_time_s: float = 600
    cpu_time_s: int = 600
    memory_bytes: int = 2 * GiB
    processes: int = 256
    output_bytes: int = 1 * MiB
    disk_bytes: int = 1 * GiB

    def __post_init__(self) -> None:
        for name in ("wall_time_s", "cpu_time_s", "memory_bytes", "processes", "output_bytes"):
            if getattr(self, name) <= 0:
                raise SandboxError(f"Limits.{name} must be positive", "give a positive limit")
        if self.disk_bytes <= 0:
            raise SandboxError("Limits.disk_bytes must be positive", "give a positive limit")


@dataclass(frozen=True)
class ExecResult:
    """What a sandboxed command did: its exit, its (bounded) output and the limit that ended it."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool
    limit_hit: LimitHit | None
    refused_egress: tuple[str, ...] = ()  # setup only: destinations the egress filter refused

    @property
    def ok(self) -> bool:
        """True when the command exited 0 and no limit ended it."""
        return self.exit_code == 0 and self.limit_hit is None


class Sandbox(Protocol):
    """Runs repository code isolated from the host; adapters: bwrap.py, docker.py."""

    name: str
    runtime: str
    """What projects run with in this sandbox (bwrap: the host's system; Docker: the image): an
    environment prepared under one runtime is never restored under another."""

    async def run(
        self,
        command: list[str],
        *,
        workdir: Path,
        limits: Limits,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        mount_at: Path | None = None,
    ) -> ExecResult:
        """Run `command` in `workdir` (the only writable place) under `limits`.

        `mount_at` is the path the command sees `workdir` at (default: its own path): a copy of
        a workspace seen at the workspace's path finds the environment prepared there (the venv's
        absolute paths, an editable install), as a second tree for the base does
        (bot.testing.base_view).

        `pass_fds` are host file descriptors the command inherits under the same numbers (the
        write end of a pipe Draftsmith reads, e.g. the pytest witness; Docker relays them through
        FIFOs, `bot.sandbox.docker_fds`).
        """
        ...


def check_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """Validate the variables a caller passes into the sandbox; the bot's own are refused."""
    clean: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise SandboxError(f"invalid environment variable name {key!r}", "fix the variable")
        if key.upper().startswith("DRAFTSMITH_"):
            raise SandboxError(
                f"refusing to pass {key} into the sandbox",
                "the bot's own settings never enter the sandbox; pass only what the command needs",
            )
        clean[key] = value
    return clean
