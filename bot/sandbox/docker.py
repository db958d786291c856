"""The Docker sandbox (production alternative), through the `docker` SDK.

Not run against a real engine on the development machines (none runs there): the container spec
built from `Limits` and the no-engine error are unit-tested; the run path is not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.errors import SandboxError
from bot.sandbox.base import ExecResult, LimitHit, Limits, check_env

logger = logging.getLogger(__name__)

SANDBOX_USER = "65534:65534"
WORKDIR_MOUNT = "/workspace"


def docker_problem() -> str | None:
    """Why no Docker engine can be used, or None when one answers a ping."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # the SDK raises DockerException and requests' errors
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    return None


def container_spec(
    image: str,
    command: list[str],
    workdir: Path,
    limits: Limits,
    network: bool,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The keyword arguments of `containers.create` for one sandboxed command."""
    return {
        "image": image,
        "command": command,
        "user": SANDBOX_USER,
        "working_dir": WORKDIR_MOUNT,
        "environment": {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": WORKDIR_MOUNT,
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            **env,
        },
        "volumes": {str(workdir.resolve()): {"bind": WORKDIR_MOUNT, "mode": "rw"}},
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.disk_bytes}"},
        "network_disabled": not network,
        "network_mode": "bridge" if network else "none",
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "pids_limit": limits.processes,
        "nano_cpus": 1_000_000_000,
        "ulimits": [
            {"Name": "cpu", "Soft": limits.cpu_time_s, "Hard": limits.cpu_time_s + 1},
            {"Name": "fsize", "Soft": limits.disk_bytes, "Hard": limits.disk_bytes},
            {"Name": "core", "Soft": 0, "Hard": 0},
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ipc_mode": "private",
        "init": True,
        "detach": True,
    }


class DockerSandbox:
    """Runs each command in a fresh container, removed after the run."""

    name = "docker"

    def __init__(self, image: str) -> None:
        if not image or ":" not in image and "@" not in image:
            raise SandboxError(
                f"docker image {image!r} is not pinned", "set DRAFTSMITH_DOCKER_IMAGE to name:tag"
            )
        self.image = image

    async def run(
        self,
        command: list[str],
        *,
        workdir: Path,
        limits: Limits,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> ExecResult:
        """Run `command` in a new container with the workdir bind-mounted at /workspace."""
        if pass_fds:
            raise SandboxError(
                "the Docker sandbox cannot hand a host pipe to the command, so pytest's results "
                "cannot be cross-checked (the witness needs it)",
                "use the bwrap sandbox (DRAFTSMITH_SANDBOX=bwrap) to run Python tests",
            )
        spec = container_spec(self.image, command, workdir, limits, network, check_env(env))
        return await asyncio.to_thread(self._run_sync, spec, limits)

    def _run_sync(self, spec: dict[str, Any], limits: Limits) -> ExecResult:
        import docker
        from docker.errors import DockerException

        started = time.monotonic()
        try:
            client = docker.from_env()
            container = client.containers.create(**spec)
        except DockerException as exc:
            raise SandboxError(f"docker sandbox failed: {exc}", "check the Docker engine") from exc
        timed_out = False
        try:
            container.start()
            try:
                status = container.wait(timeout=limits.wall_time_s)
                exit_code = int(status.get("StatusCode", -1))
            except Exception:  # requests' ReadTimeout: the wall clock ran out
                timed_out = True
                container.kill()
                exit_code = 137
            state = container.attrs.get("State", {}) if not timed_out else {}
            stdout = container.logs(stdout=True, stderr=False)[: limits.output_bytes + 1]
            stderr = container.logs(stdout=False, stderr=True)[: limits.output_bytes + 1]
        finally:
            container.remove(force=True)
            client.close()
        limit: LimitHit | None = LimitHit.wall_time if timed_out else None
        if limit is None and state.get("OOMKilled"):
            limit = LimitHit.memory
        if limit is None and max(len(stdout), len(stderr)) > limits.output_bytes:
            limit = LimitHit.output
        return ExecResult(
            exit_code=exit_code,
            stdout=_cut(stdout, limits.output_bytes),
            stderr=_cut(stderr, limits.output_bytes),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            limit_hit=limit,
        )


def _cut(data: bytes, limit: int) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n[draftsmith sandbox: output cut at {limit} bytes (output limit)]\n"
    return text
