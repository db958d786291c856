"""Ownership repair: nothing in a run's directory stays owned by a sandbox uid.

Run as root, the bwrap sandbox hands the workdir to a leased unprivileged uid for each command
and hands it back afterwards (bot/sandbox/bwrap.py). A worker killed in between never hands it
back, and git then refuses the tree ("detected dubious ownership"). Before a run's workspace is
used again, everything owned by a sandbox uid is given back to this process's uid and group,
with set-id bits cleared; symlinks are never followed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from bot.sandbox.bwrap import UID_BASE, UID_SLOTS

logger = logging.getLogger(__name__)


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
