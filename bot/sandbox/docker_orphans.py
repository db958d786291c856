"""Containers whose worker died: found by label and removed before the workdir is used again.

A Docker sandbox command runs in a container the worker creates, waits on, and removes. A worker
killed mid-command (SIGKILL, OOM kill, node loss) does none of that: the container keeps running
(the wall clock is the worker's) and keeps writing into the run's workdir while the resumed run
uses it. So every container carries its owner: this host's name, the worker's pid and that
process's start time (a pid is reused; the pair is not). Before a command runs in a workdir, the
containers left there by a process of this host that no longer exists are killed and removed.
Containers of other hosts (an engine shared by several) are never judged from here.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

OWNER_LABEL = "draftsmith.sandbox.owner"


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name may hold spaces and ")"


@functools.cache
def owner_tag() -> str:
    """This process as a container's owner: host, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _dead(tag: str) -> bool:
    """Whether the owner `tag` names a process of this host that no longer runs."""
    host, _, rest = tag.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return _start_time(int(pid)) != started


def remove_orphans(client: Any, label: str, workdir: Path) -> int:
    """Kill and remove the containers in `workdir` whose owner died; returns how many."""
    from docker.errors import NotFound

    removed = 0
    listed = client.containers.list(all=True, filters={"label": f"{label}={workdir}"})
    for container in listed:
        tag = container.labels.get(OWNER_LABEL, "")
        if not tag or not _dead(tag):
            continue
        try:
            container.remove(force=True)
        except NotFound:  # another worker removed it first
            continue
        removed += 1
        logger.warning(
            "removed sandbox container %s left running in %s by a dead worker (%s)",
            container.short_id,
            workdir,
            tag,
        )
    return removed
