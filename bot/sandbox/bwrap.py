"""The default sandbox: bubblewrap (`bwrap`), no daemon needed.

Isolation: new mount, PID, IPC, UTS, cgroup and network namespaces (with `network=True`, the
setup phase, the egress filter's socket is the only way out: `bot.sandbox.egress`);
`/usr` and a short list of `/etc` files read-only; a private tmpfs `/tmp`; the run's workdir,
bind-mounted at its own path, is the only writable host directory; `--die-with-parent`,
`--new-session`, an empty environment plus PATH, HOME (the workdir), LANG, TMPDIR and the
caller's `env`. Limits: rlimits set by `prlimit` (CPU, data segment, processes, file size,
no core dumps), the wall clock and output bound by `bot.sandbox.process`. Memory is RLIMIT_DATA
(private writable memory), not RLIMIT_AS: V8 (node) reserves gigabytes of address space at start
and cannot run under an address-space limit of a useful size.

Identity. Run as root (CI, containers), bwrap keeps root only to build the mounts; the command
then runs through `setpriv` as a dedicated unprivileged host uid (one per concurrent run, from
`UID_BASE`), with no capabilities and no_new_privs. That is also what makes the process limit
real: the kernel never applies RLIMIT_NPROC to root. The workdir is handed to that uid for the
run and handed back after it (symlinks are never followed; set-id bits are cleared). Run as
an ordinary user, bwrap uses an unprivileged user namespace (`--unshare-user
--disable-userns --cap-drop ALL`) and the command keeps the bot's uid.

Python. The bot's own interpreter prefix (`sys.base_prefix`) is bound read-only at its path and
its `bin/` leads PATH, so `python3` inside is the bot's Python without the rest of the host's
`/root`. Test tools reach repository code through a read-only toolbox directory
(`bot.sandbox.toolbox`, mounted at `TOOLBOX_MOUNT`, put on PYTHONPATH by the runners) built
offline from the bot's environment; the setup phase may instead install a repository's own
test dependencies into `.venv` in the workdir with the network.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from bot.observe.telemetry import command_name, record_exec, sandbox_span
from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, Limits, check_env
from bot.sandbox.egress import (
    FORWARDER_MOUNT,
    FORWARDER_SOURCE,
    SOCKET_MOUNT,
    EgressFilter,
    forwarded,
    proxy_environment,
)
from bot.sandbox.ownership import UID_BASE, UID_SLOTS, UidLease, hand_back, hand_over
from bot.sandbox.process import run_limited
from bot.sandbox.setup_env import SetupNetwork
from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

ETC_ENTRIES = (
    "passwd", "group", "hosts", "nsswitch.conf", "host.conf", "gai.conf", "services",
    "protocols", "ssl", "ca-certificates", "ca-certificates.conf", "alternatives", "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d", "localtime", "mime.types", "os-release", "debian_version",
    "python3", "python3.11",
)  # fmt: skip


def _is_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def bwrap_problem() -> str | None:
    """Why the bwrap sandbox cannot run on this host, or None when it works."""
    needed = ["bwrap", "prlimit"] + (["setpriv"] if _is_root() else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} on PATH"
    with tempfile.TemporaryDirectory(prefix="draftsmith-probe-") as tmp:
        sandbox = BwrapSandbox()
        uid = UID_BASE if _is_root() else None
        argv = sandbox.command_line(["/bin/true"], Path(tmp), Limits(), False, {}, uid)
        try:
            probe = subprocess.run(argv, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap probe failed: {exc}"
    if probe.returncode != 0:
        return f"bwrap probe failed: {probe.stderr.decode(errors='replace').strip()}"
    return None


class BwrapSandbox:
    """Runs commands in bubblewrap; see the module docstring for what is isolated and how."""

    name = "bwrap"
    runtime = f"bwrap: Python {platform.python_version()} at {sys.base_prefix}, the host's /usr"

    def __init__(
        self,
        *,
        toolbox: Path | None = None,
        uid_base: int = UID_BASE,
        uid_slots: int = UID_SLOTS,
        setup: SetupNetwork | None = None,
    ) -> None:
        self.toolbox = toolbox
        self.setup = setup or SetupNetwork()
        self.uid_base = uid_base
        self.uid_slots = uid_slots

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
        """Run `command` in bubblewrap with `workdir` as the only writable host directory, seen
        at `mount_at` (default: its own path)."""
        if not command:
            raise SandboxError("empty command", "pass the program and its arguments")
        workdir = workdir.resolve()
        if not workdir.is_dir():
            raise SandboxError(f"workdir {workdir} is not a directory", "create the workspace")
        clean_env = check_env(env)
        cancel = threading.Event()
        task = asyncio.to_thread(
            self._run_sync,
            command,
            workdir,
            limits,
            network,
            clean_env,
            cancel,
            tuple(pass_fds),
            mount_at.resolve() if mount_at is not None else workdir,
        )
        with sandbox_span(command_name(command)) as span:
            try:
                result = await asyncio.shield(task)
            except asyncio.CancelledError:
                cancel.set()
                raise
            record_exec(span, result)
        return result

    def _run_sync(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        network: bool,
        env: dict[str, str],
        cancel: threading.Event,
        pass_fds: tuple[int, ...] = (),
        mount_at: Path | None = None,
    ) -> ExecResult:
        lease = UidLease(self.uid_base, self.uid_slots) if _is_root() else None
        try:
            if lease is not None:
                hand_over(workdir, lease.uid)
            uid = lease.uid if lease is not None else None
            logger.info("sandbox bwrap run: %s (network=%s)", command[:3], network)
            if not network:
                info_pipe = os.pipe()
                argv = self.command_line(
                    command, workdir, limits, False, env, uid, info_pipe[1], mount_at=mount_at
                )
                return run_limited(
                    argv, limits, info_pipe=info_pipe, cancel=cancel, pass_fds=pass_fds
                )
            with EgressFilter(self.setup.egress) as egress:
                info_pipe = os.pipe()
                argv = self.command_line(
                    command, workdir, limits, True, env, uid, info_pipe[1], egress.socket_path,
                    mount_at=mount_at,
                )  # fmt: skip
                result = run_limited(
                    argv, limits, info_pipe=info_pipe, cancel=cancel, pass_fds=pass_fds
                )
            return replace(result, refused_egress=tuple(egress.refused))
        finally:
            if lease is not None:
                try:
                    # To this process, never to the workdir's owner: a worker killed mid-command
                    # leaves the workdir itself owned by a sandbox uid.
                    hand_back(workdir, lease.uid, os.geteuid(), os.getegid())
                finally:
                    lease.release()

    def command_line(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        network: bool,
        env: Mapping[str, str],
        uid: int | None,
        info_fd: int | None = None,
        egress_socket: Path | None = None,
        *,
        mount_at: Path | None = None,
    ) -> list[str]:
        """The full prlimit + bwrap (+ setpriv) argv for one command; `workdir` is seen at
        `mount_at` (default: its own path).

        `network=True` (setup) never shares the host's network: the command gets a namespace of
        its own whose only way out is `egress_socket`, the egress filter (bot.sandbox.egress).
        """
        if network and egress_socket is None:
            raise SandboxError("setup network without an egress filter", "pass egress_socket")
        cpu = limits.cpu_time_s
        argv = [
            "prlimit",
            f"--cpu={cpu}:{cpu + 1}",
            f"--data={limits.memory_bytes}",
            f"--nproc={limits.processes}",
            f"--fsize={limits.disk_bytes}",
            "--core=0",
            "--",
            "bwrap",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        if uid is None:
            argv += ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        else:
            argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            argv.append("--unshare-net")
        argv += _system_mounts()
        argv += ["--perms", "1777", "--size", str(limits.disk_bytes), "--tmpfs", "/tmp"]
        made: set[str] = {"/", "/usr", "/etc", "/tmp", "/proc", "/dev"}
        prefix = Path(sys.base_prefix).resolve()
        path_dirs = ["/usr/local/bin", "/usr/bin", "/bin"]
        if not str(prefix).startswith("/usr/"):
            argv += _parents(prefix, made) + ["--ro-bind", str(prefix), str(prefix)]
            path_dirs.insert(0, str(prefix / "bin"))
        if self.toolbox is not None:
            argv += _parents(Path(TOOLBOX_MOUNT), made)
            argv += ["--ro-bind", str(self.toolbox.resolve()), TOOLBOX_MOUNT]
        seen = mount_at or workdir
        argv += _parents(seen, made) + ["--bind", str(workdir), str(seen)]
        git = workdir / ".git"
        if git.exists() and not git.is_symlink():
            # Code in the sandbox must not plant hooks or config that the host's git would run.
            argv += ["--ro-bind", str(git), str(seen / ".git")]
        if egress_socket is not None:
            argv += _setup_mounts(self.setup, egress_socket, made)
            env = {**self.setup.env, **env, **proxy_environment()}
            command = forwarded(str(prefix / "bin" / "python3"), command)
        argv += ["--chdir", str(seen)]
        base_env = {
            "PATH": ":".join(path_dirs),
            "HOME": str(seen),
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
        }
        for key, value in {**base_env, **env}.items():
            argv += ["--setenv", key, value]
        if uid is not None:
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv"]
            argv += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        argv += ["--", *command]
        return argv


def _setup_mounts(setup: SetupNetwork, egress_socket: Path, made: set[str]) -> list[str]:
    """The egress filter's socket, the forwarder and the operator's CA/index files, read-only."""
    argv = _parents(Path(SOCKET_MOUNT), made) + ["--ro-bind", str(egress_socket), SOCKET_MOUNT]
    argv += _parents(Path(FORWARDER_MOUNT), made)
    argv += ["--ro-bind", str(FORWARDER_SOURCE), FORWARDER_MOUNT]
    visible = [Path("/usr"), *(Path("/etc") / name for name in ETC_ENTRIES)]
    for path in setup.files:
        if not any(path == v or v in path.parents for v in visible):
            argv += _parents(path, made) + ["--ro-bind-try", str(path), str(path)]
    return argv


def _system_mounts() -> list[str]:
    """Read-only /usr (with the merged-/usr links) and the /etc files programs need."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "0755", "--dir", "/etc"]
    for name in ETC_ENTRIES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return argv


def _parents(path: Path, made: set[str]) -> list[str]:
    """--dir arguments creating path's missing ancestors as root-owned 0755 directories."""
    argv: list[str] = []
    for parent in reversed(path.parents):
        key = str(parent)
        if key not in made:
            made.add(key)
            argv += ["--perms", "0755", "--dir", key]
    return argv
