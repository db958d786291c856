"""Runs a sandbox's launcher process: bounded output, wall-clock kill, whole-tree CPU usage.

The launcher (bwrap, docker) is started in its own process group; at the wall-clock deadline or
when output overflows, the whole group is killed with SIGKILL (no grace period: a command that
ignores SIGTERM is not given the chance). Classification of which limit ended the command uses
only facts: our own kills, the termination signal, the CPU time the kernel accounted, and the
error text the kernel's refusal produces (EAGAIN on fork, ENOMEM, EFBIG). That text is printed by
the command itself, so a hostile command can fake a `limit_hit`; the limits are enforced by the
kernel regardless of what is reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.sandbox.base import ExecResult, LimitHit, Limits
from bot.shared.errors import SandboxError

_MEMORY_MARKERS = (
    "MemoryError",
    "Cannot allocate memory",
    "out of memory",
    "std::bad_alloc",
    "JavaScript heap out of memory",
    "runtime: out of memory",
)
_PROCESS_MARKERS = (
    "Resource temporarily unavailable",
    "Cannot fork",
    "fork: retry",
    "can't start new thread",
    "pthread_create failed",
)
_DISK_MARKERS = ("File too large", "No space left on device")
_KILL_GRACE_S = 5.0


@dataclass
class _Capture:
    """One output stream, kept up to a byte limit."""

    limit: int
    data: bytearray
    overflowed: bool = False

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.data += chunk[: max(room, 0)]
            self.overflowed = True
        else:
            self.data += chunk

    def text(self) -> str:
        out = self.data.decode("utf-8", errors="replace")
        if self.overflowed:
            out += f"\n[draftsmith sandbox: output cut at {self.limit} bytes (output limit)]\n"
        return out


def run_limited(
    argv: Sequence[str],
    limits: Limits,
    *,
    info_pipe: tuple[int, int] | None = None,
    cancel: threading.Event | None = None,
    pass_fds: Sequence[int] = (),
) -> ExecResult:
    """Run a launcher command to completion under the wall-clock and output limits.

    `info_pipe` (read end, write end) is bwrap's `--info-fd`: from it we learn the host pid of
    the sandbox's init, and we return only once that init is gone, which the kernel allows only
    after every process of the sandbox's PID namespace is gone. No process outlives a run.
    `pass_fds` are inherited by the command as well (the caller keeps and closes them).
    """
    started = time.monotonic()
    pass_fds = (*pass_fds, *((info_pipe[1],) if info_pipe else ()))
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=pass_fds,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )
    except OSError as exc:
        if info_pipe:
            os.close(info_pipe[0])
        raise SandboxError(
            f"cannot start the sandbox launcher {argv[0]}: {exc.strerror}",
            "check that bubblewrap and util-linux are installed",
        ) from exc
    finally:
        if info_pipe:
            os.close(info_pipe[1])
    assert proc.stdout is not None and proc.stderr is not None
    out = _Capture(limits.output_bytes, bytearray())
    err = _Capture(limits.output_bytes, bytearray())
    killed_for: LimitHit | None = None
    deadline = started + limits.wall_time_s
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    info = bytearray()
    init_pidfd: int | None = None
    if info_pipe:
        sel.register(info_pipe[0], selectors.EVENT_READ, None)
    hard_stop: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if killed_for is None and now >= deadline:
                killed_for = LimitHit.wall_time
                hard_stop = _kill(proc)
            if killed_for is None and cancel is not None and cancel.is_set():
                hard_stop = _kill(proc)
                killed_for = LimitHit.wall_time
            if hard_stop is not None and now >= hard_stop:
                break  # a killed tree that still holds the pipes: stop reading
            wait = (hard_stop or deadline) - now
            for key, _ in sel.select(timeout=min(max(wait, 0.0), 0.25)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    if key.data is None:
                        init_pidfd = _open_init(bytes(info))
                    continue
                if key.data is None:
                    info += chunk
                    continue
                capture: _Capture = key.data
                capture.feed(chunk)
                if capture.overflowed and killed_for is None:
                    killed_for = LimitHit.output
                    hard_stop = _kill(proc)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        if info_pipe:
            os.close(info_pipe[0])
    status, usage = _reap(proc, deadline if killed_for is None else None)
    if status is None:
        killed_for = killed_for or LimitHit.wall_time
        _kill(proc)
        status, usage = _reap(proc, None)
    assert status is not None
    if init_pidfd is not None:
        _wait_gone(init_pidfd)
    duration = time.monotonic() - started
    exit_code = _exit_code(status)
    cpu_s = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
    stderr_text = err.text()
    limit_hit = killed_for or _classify(exit_code, cpu_s, limits, stderr_text)
    return ExecResult(
        exit_code=exit_code,
        stdout=out.text(),
        stderr=stderr_text,
        duration_s=duration,
        timed_out=killed_for is LimitHit.wall_time,
        limit_hit=limit_hit,
    )


def _open_init(info: bytes) -> int | None:
    """A pidfd on the sandbox's init process, from bwrap's --info-fd JSON."""
    try:
        pid = int(json.loads(info.decode())["child-pid"])
        return os.pidfd_open(pid)
    except (ValueError, KeyError, ProcessLookupError):
        return None


def _wait_gone(pidfd: int) -> None:
    """Wait until the sandbox's init, hence its whole PID namespace, has exited."""
    try:
        ready, _, _ = select.select([pidfd], [], [], _KILL_GRACE_S)
    finally:
        os.close(pidfd)
    if not ready:
        raise SandboxError(
            "a sandbox's processes did not exit after SIGKILL",
            "inspect the host for processes of the sandbox uids; this is a kernel-level problem",
        )


def _kill(proc: subprocess.Popen[bytes]) -> float:
    """SIGKILL the launcher's process group; returns when to stop waiting for its pipes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return time.monotonic() + _KILL_GRACE_S


def _reap(
    proc: subprocess.Popen[bytes], deadline: float | None
) -> tuple[int | None, resource.struct_rusage | None]:
    """wait4 the launcher (its rusage covers every reaped process of the tree).

    With a deadline, waits on a pidfd at most until then and returns (None, None) if the
    launcher is still running (a command that closed its output but did not exit).
    """
    if deadline is not None:
        pidfd = os.pidfd_open(proc.pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], max(deadline - time.monotonic(), 0.0))
        finally:
            os.close(pidfd)
        if not ready:
            return None, None
    pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = _exit_code(status)
    return status, usage


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _classify(exit_code: int, cpu_s: float, limits: Limits, stderr: str) -> LimitHit | None:
    """Name the limit that ended a command from its signal, CPU time and the kernel's errors."""
    if exit_code == 0:
        return None
    if exit_code == 128 + signal.SIGXCPU or (
        exit_code == 128 + signal.SIGKILL and cpu_s >= limits.cpu_time_s - 0.05
    ):
        return LimitHit.cpu_time
    if exit_code == 128 + signal.SIGXFSZ:
        return LimitHit.disk
    tail = stderr[-8192:]
    if any(m in tail for m in _DISK_MARKERS):
        return LimitHit.disk
    if any(m in tail for m in _MEMORY_MARKERS):
        return LimitHit.memory
    if any(m in tail for m in _PROCESS_MARKERS):
        return LimitHit.processes
    return None
