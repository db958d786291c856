"""The Docker sandbox (scaled-out alternative), through the `docker` SDK.

Each command runs in a fresh container, removed after it: read-only root file system, a private
tmpfs `/tmp` (exec, as bwrap's: `go test` runs from it), no capabilities, no-new-privileges, an
init process, the run's workdir bind-mounted at its own path (the same path as under bubblewrap,
so a `.venv` made in setup works in check) with its `.git` read-only, and Draftsmith's toolbox
read-only at `TOOLBOX_MOUNT`. Limits: cgroup memory (an OOM kill is read back from the
container's state), a pids limit, CPU-time and file-size rlimits, the wall clock from the
container's start (then it is killed) and the output bound (read as it streams; the container is
killed when it overflows).

Identity. The command runs as the workdir's owner (uid:gid, never a name the image resolves), so
it can write its reports and leaves no file owned by another uid; set-id bits it sets are
cleared after the run. Run as an ordinary user, that owner is the worker's own uid. Run as root,
the container would otherwise run as host uid 0: Docker gives a container a user namespace of
its own only through the daemon-wide `userns-remap` (not per container, and it changes every
container's view of bind-mounted files), so uid 0 in the container is uid 0 on the host, with no
capabilities but still the owner of every root-owned file it can reach and one kernel bug away
from the host's root. So, as bubblewrap does, the workdir is handed to a leased unprivileged
host uid for the command and handed back after it (`bot.sandbox.ownership`): the container runs
as that uid; a worker killed mid-command leaves the workdir owned by a sandbox uid, which
`ownership.reclaim` gives back, and its container running, which `docker_orphans` removes.

Descriptors (`pass_fds`, the pytest witness's pipe) reach the command through write-only FIFOs
copied on the host while it runs (`bot.sandbox.docker_fds`).

Network. Check commands get `network_mode="none"`. Setup commands (`network=True`) get it too:
their only way out is the same egress filter as bubblewrap's (`bot.sandbox.egress`), reached
through its unix socket bind-mounted into the container, with the operator's CA and index
settings (`SetupNetwork`) — never Docker's bridge, which reaches the host.

The image. `DRAFTSMITH_DOCKER_IMAGE` names it by image ID (`sha256:...`, what
`scripts/build_sandbox_image.sh` prints) or `name@digest`; `name:tag` is accepted too. A missing
image is pulled; when it cannot be (an image ID, no registry), the error says how to build it.
The image's own `python3` runs the commands: nothing of the host's interpreter is visible.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.sandbox import ownership
from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, LimitHit, Limits, check_env
from bot.sandbox.docker_fds import FdChannels
from bot.sandbox.docker_orphans import OWNER_LABEL, owner_tag, remove_orphans
from bot.sandbox.docker_output import Output, kill, read_stream, text_of
from bot.sandbox.egress import (
    FORWARDER_MOUNT,
    FORWARDER_SOURCE,
    SOCKET_MOUNT,
    EgressFilter,
    forwarded,
    proxy_environment,
)
from bot.sandbox.process import _classify
from bot.sandbox.setup_env import SetupNetwork
from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

LABEL = "draftsmith.sandbox"
_API_TIMEOUT_S = 60


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


def _bind(source: Path | str, target: str, read_only: bool) -> dict[str, Any]:
    return {"Type": "bind", "Source": str(source), "Target": target, "ReadOnly": read_only}


def container_spec(
    image: str,
    command: list[str],
    workdir: Path,
    limits: Limits,
    env: Mapping[str, str],
    *,
    toolbox: Path | None = None,
    egress_socket: Path | None = None,
    setup: SetupNetwork | None = None,
    channels: FdChannels | None = None,
    mount_at: Path | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `containers.create` for one sandboxed command; `workdir` is
    mounted at `mount_at` (default: its own path).

    With `egress_socket` (setup), the command is wrapped by the egress forwarder and gets the
    filter's socket, the proxy variables and `setup`'s variables and files; without it, nothing.
    With `channels`, the command runs under the fd forwarder, the FIFOs mounted (`docker_fds`).
    """
    workdir = workdir.resolve()
    owner = workdir.stat()
    seen = mount_at.resolve() if mount_at is not None else workdir
    mounts = [_bind(workdir, str(seen), False)]
    git = workdir / ".git"
    if git.exists() and not git.is_symlink():
        mounts.append(_bind(git, str(seen / ".git"), True))
    if toolbox is not None:
        mounts.append(_bind(toolbox.resolve(), TOOLBOX_MOUNT, True))
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(seen)}
    environment |= {"LANG": "C.UTF-8", "TMPDIR": "/tmp", **env}
    if channels is not None:  # inside the egress forwarder, whose Popen closes other descriptors
        mounts += [_bind(source, target, ro) for source, target, ro in channels.mounts()]
        command = channels.wrap("python3", command)
    if egress_socket is not None:
        setup = setup or SetupNetwork()
        mounts.append(_bind(egress_socket, SOCKET_MOUNT, True))
        mounts.append(_bind(FORWARDER_SOURCE, FORWARDER_MOUNT, True))
        mounts += [_bind(p, str(p), True) for p in setup.files if p.exists()]
        environment = {**environment, **setup.env, **env, **proxy_environment()}
        command = forwarded("python3", command)
    return {
        "image": image,
        "command": command,
        "user": f"{owner.st_uid}:{owner.st_gid}",
        "working_dir": str(seen),
        "environment": environment,
        "mounts": mounts,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={limits.disk_bytes}"},
        "network_mode": "none",
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "pids_limit": limits.processes,
        "nano_cpus": 1_000_000_000,
        "ulimits": [
            {"Name": "cpu", "Soft": limits.cpu_time_s, "Hard": limits.cpu_time_s + 1},
            {"Name": "fsize", "Soft": limits.disk_bytes, "Hard": limits.disk_bytes},
            {"Name": "core", "Soft": 0, "Hard": 0},
        ],
        "log_config": {"Type": "json-file", "Config": {"max-size": "2m", "max-file": "1"}},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ipc_mode": "private",
        "init": True,
        "labels": {LABEL: "1", f"{LABEL}.workdir": str(workdir), OWNER_LABEL: owner_tag()},
        "detach": True,
    }


class DockerSandbox:
    """Runs each command in a fresh container; see the module docstring."""

    name = "docker"

    def __init__(
        self,
        image: str,
        *,
        toolbox: Path | None = None,
        setup: SetupNetwork | None = None,
        uid_base: int = ownership.UID_BASE,
        uid_slots: int = ownership.UID_SLOTS,
    ) -> None:
        if not image or ":" not in image and "@" not in image:
            raise SandboxError(
                f"docker image {image!r} is not pinned",
                "set DRAFTSMITH_DOCKER_IMAGE to an image ID (sha256:...) or name@digest",
            )
        self.image = image
        self.runtime = f"docker: {image}"
        self.toolbox = toolbox
        self.setup = setup or SetupNetwork()
        self.uid_base = uid_base
        self.uid_slots = uid_slots
        self._image_ready = False

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
        """Run `command` in a new container with the workdir bind-mounted at its own path (or
        at `mount_at`).

        `pass_fds` reach the command under the same numbers through FIFOs (`docker_fds`).
        """
        if not command:
            raise SandboxError("empty command", "pass the program and its arguments")
        if not workdir.is_dir():
            raise SandboxError(f"workdir {workdir} is not a directory", "create the workspace")
        clean = check_env(env)
        cancel = threading.Event()
        task = asyncio.to_thread(
            self._run_sync, command, workdir, limits, network, clean, tuple(pass_fds), cancel,
            mount_at,
        )  # fmt: skip
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def _run_sync(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        network: bool,
        env: dict[str, str],
        pass_fds: tuple[int, ...],
        cancel: threading.Event,
        mount_at: Path | None = None,
    ) -> ExecResult:
        import docker
        from docker.errors import DockerException

        client = docker.from_env(timeout=_API_TIMEOUT_S)
        lease = ownership.UidLease(self.uid_base, self.uid_slots) if os.geteuid() == 0 else None
        try:
            self._ensure_image(client)
            remove_orphans(client, f"{LABEL}.workdir", workdir.resolve())
            if lease is not None:
                ownership.hand_over(workdir, lease.uid)  # the container runs as the workdir's owner
            logger.info("sandbox docker run: %s (network=%s)", command[:3], network)
            with FdChannels(pass_fds, workdir.resolve().stat().st_uid) as channels:
                if not network:
                    spec = container_spec(
                        self.image, command, workdir, limits, env, toolbox=self.toolbox,
                        channels=channels, mount_at=mount_at,
                    )  # fmt: skip
                    return self._contain(client, spec, limits, cancel)
                with EgressFilter(self.setup.egress) as egress:
                    spec = container_spec(
                        self.image, command, workdir, limits, env, toolbox=self.toolbox,
                        egress_socket=egress.socket_path, setup=self.setup, channels=channels,
                        mount_at=mount_at,
                    )  # fmt: skip
                    result = self._contain(client, spec, limits, cancel)
                return _with_refusals(result, egress.refused)
        except DockerException as exc:
            raise SandboxError(f"docker sandbox failed: {exc}", "check the Docker engine") from exc
        finally:
            client.close()
            try:
                if lease is not None:  # to this process (see bwrap.py); clears set-id bits too
                    ownership.hand_back(workdir, lease.uid, os.geteuid(), os.getegid())
                else:
                    ownership.clear_setid(workdir)
            finally:
                if lease is not None:
                    lease.release()

    def _ensure_image(self, client: Any) -> None:
        """The image is on the engine, pulled if it was missing (once per sandbox)."""
        from docker.errors import DockerException, ImageNotFound

        if self._image_ready:
            return
        try:
            client.images.get(self.image)
        except ImageNotFound:
            how = "build it with scripts/build_sandbox_image.sh and set DRAFTSMITH_DOCKER_IMAGE"
            if self.image.startswith("sha256:"):
                raise SandboxError(
                    f"docker image {self.image} is not on this engine (an image ID is not pulled)",
                    how + " to the ID it prints",
                ) from None
            logger.info("docker image %s is missing; pulling it", self.image)
            try:
                client.images.pull(self.image)
            except DockerException as exc:
                raise SandboxError(
                    f"docker image {self.image} is not on this engine and cannot be pulled: {exc}",
                    "make its registry reachable, or " + how,
                ) from exc
        self._image_ready = True

    def _contain(
        self, client: Any, spec: dict[str, Any], limits: Limits, cancel: threading.Event
    ) -> ExecResult:
        started = time.monotonic()
        container = client.containers.create(**spec)
        output = Output(limits.output_bytes)
        killed_for: LimitHit | None = None
        try:
            # Attached before it starts (as `docker run` does), so no early output is missed.
            stream = client.api.attach(
                container.id, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            container.start()
            deadline = time.monotonic() + limits.wall_time_s  # the command's time, not the engine's
            reader = threading.Thread(
                target=read_stream, args=(stream, output, container), name="draftsmith-output"
            )
            reader.start()
            exit_code: int | None = None
            while exit_code is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or cancel.is_set():
                    killed_for = LimitHit.wall_time
                    kill(container)
                    exit_code = int(container.wait(timeout=_API_TIMEOUT_S)["StatusCode"])
                    break
                exit_code = _wait(container, min(remaining, 5.0))  # 5 s: notice a cancel
            reader.join(timeout=_API_TIMEOUT_S)
            container.reload()
            state = container.attrs.get("State", {})
        finally:
            container.remove(force=True)
        if killed_for is None and output.overflowed:
            killed_for = LimitHit.output
        stderr = text_of(output.stderr, output.overflowed and len(output.stderr) >= output.limit)
        limit = killed_for
        if limit is None and state.get("OOMKilled"):
            limit = LimitHit.memory
        if limit is None:
            limit = _classify(exit_code, 0.0, limits, stderr)
        return ExecResult(
            exit_code=exit_code,
            stdout=text_of(output.stdout, output.overflowed and len(output.stdout) >= output.limit),
            stderr=stderr,
            duration_s=time.monotonic() - started,
            timed_out=killed_for is LimitHit.wall_time,
            limit_hit=limit,
        )


def _wait(container: Any, timeout: float) -> int | None:
    """The container's exit status, or None when it still runs after `timeout` seconds."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout

    try:
        return int(container.wait(timeout=timeout)["StatusCode"])
    except (ReadTimeout, RequestsConnectionError):
        return None


def _with_refusals(result: ExecResult, refused: list[str]) -> ExecResult:
    from dataclasses import replace

    return replace(result, refused_egress=tuple(refused))
