"""Sandbox uids, and ownership repair: nothing in a run's directory stays owned by one.

Run as root, a sandbox (bwrap and Docker alike) hands the workdir to a leased unprivileged uid
(`UidLease`, `hand_over`) for each command and hands it back afterwards (`hand_back`). A worker
killed in between never hands it back, and git then refuses the tree ("detected dubious
ownership"). Before a run's workspace is used again, everything owned by a sandbox uid is given
back to this process's uid and group, with set-id bits cleared (`reclaim`); symlinks are never
followed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

# Run as root, each sandboxed command (bwrap and Docker alike) runs as one of these host uids.
UID_BASE = 2_000_000
UID_SLOTS = 1024


def _sandbox_owned(st: os.stat_result) -> bool:
    return (
        UID_BASE <= st.st_uid < UID_BASE + UID_SLOTS or UID_BASE <= st.st_gid < UID_BASE + UID_SLOTS
    )


def reclaim(directory: Path) -> int:
    """Give everything under `directory` a sandbox uid owns back to this process; returns how many
    paths changed hands (0 when not root: without root the sandbox never changes ownership)."""
    if os.geteuid() != 0 or not directory.exists():
        return 0
    owner, group = os.geteuid(), os.getegid()
    changed = 0
    paths = [str(directory)]
    for top, dirs, files in os.walk(directory, followlinks=False):
        paths.extend(os.path.join(top, name) for name in dirs + files)
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not _sandbox_owned(st):
            continue
        os.chown(path, owner, group, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
        changed += 1
    if changed:
        logger.warning(
            "gave back %d path(s) a sandbox uid still owned in %s (a worker stopped mid-command)",
            changed,
            directory,
        )
    return changed


class UidLease:
    """An unprivileged host uid reserved for one run, across processes (flock)."""

    def __init__(self, base: int, slots: int) -> None:
        lock_dir = Path(tempfile.gettempdir()) / "draftsmith-sandbox-uids"
        lock_dir.mkdir(mode=0o700, exist_ok=True)
        for uid in range(base, base + slots):
            fd = os.open(lock_dir / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise SandboxError(
            f"all {slots} sandbox uids from {base} are in use", "run fewer sandboxes at once"
        )

    def release(self) -> None:
        os.close(self._fd)


def _walk(root: Path) -> Iterator[str]:
    """Every path under root (root included), never following symlinks."""
    yield str(root)
    for top, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            yield os.path.join(top, name)


def hand_over(workdir: Path, uid: int) -> None:
    """Give the workdir tree to the sandbox uid (lchown: symlinks are not followed)."""
    for path in _walk(workdir):
        os.chown(path, uid, uid, follow_symlinks=False)


def hand_back(workdir: Path, uid: int, owner: int, group: int) -> None:
    """Give back what the sandbox uid owns in the workdir and clear set-id bits on it."""
    for path in _walk(workdir):
        st = os.lstat(path)
        if st.st_uid != uid and st.st_gid != uid:
            continue
        os.chown(path, owner, group, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))


def clear_setid(workdir: Path) -> None:
    """Clear set-uid/set-gid bits the sandboxed command set in the workdir (never following
    symlinks): the workdir stays owned by its owner, and nothing in it gains privilege."""
    for top, dirs, files in os.walk(workdir, followlinks=False):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
