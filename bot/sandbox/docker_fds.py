"""Host file descriptors into a Docker container (`pass_fds`): a FIFO each, copied on the host.

A container cannot inherit a host pipe. For each descriptor N, `FdChannels` makes a FIFO in a
private host directory outside the workspace, bind-mounted at `/run/draftsmith/fd/N`; the command
runs under `fd_forward.py` (standard library, `python3 -I -S`), which opens the FIFO for writing
onto descriptor N and execs the command. On the host a thread copies the FIFO into (a duplicate
of) the real descriptor N while the command runs, so what was written is already outside: the
stream is append-only, as with a pipe. Draftsmith holds a write end of each FIFO itself, so its
reader never blocks on a command that never opens the FIFO and never sees an early end of file;
it closes that end after the container has exited (which ends every process of the container),
and the copy ends when the FIFO is drained.

Nothing in the container may read the FIFO (that would retract what was written): it belongs to
another uid than the container's, with write-only permission for group and others, and the
container has no capabilities to override that. When Draftsmith cannot give it another owner (it
runs, not as root, under the container's own uid) the container could chmod and read it; that is
logged as a warning.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

FD_MOUNT_DIR = "/run/draftsmith/fd"
FD_FORWARDER_MOUNT = "/opt/draftsmith/fd_forward.py"
FD_FORWARDER_SOURCE = Path(__file__).with_name("fd_forward.py")
NOBODY = 65534
JOIN_TIMEOUT_S = 30.0
WRITE_ONLY_FOR_OTHERS = 0o622


def _copy(reader: int, target: int) -> None:
    """Copy the FIFO into the real descriptor until every writer has closed it."""
    try:
        while chunk := os.read(reader, 65536):
            while chunk:
                chunk = chunk[os.write(target, chunk) :]
    except OSError as exc:  # the real descriptor's reader is gone: the stream ends here
        logger.warning("fd channel copy stopped: %s", exc)
    finally:
        os.close(reader)
        os.close(target)


class FdChannels:
    """FIFOs standing in for `fds` in a container running as `uid`; a context manager."""

    def __init__(self, fds: Sequence[int], uid: int) -> None:
        self.fds = list(fds)
        self.uid = uid
        self.directory: Path | None = None
        self._held: list[int] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> FdChannels:
        if self.fds:
            self.directory = Path(tempfile.mkdtemp(prefix="draftsmith-fd-"))
            try:
                for number in self.fds:
                    self._open(number)
            except BaseException:
                self.close()
                raise
        return self

    def _open(self, number: int) -> None:
        assert self.directory is not None
        path = self.directory / str(number)
        os.mkfifo(path, 0o600)
        self._protect(path)
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # no writer yet: must not block
        try:
            self._held.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            os.set_blocking(reader, True)
            target = os.dup(number)  # its own copy: the caller may close N after the run
        except BaseException:
            os.close(reader)
            raise
        thread = threading.Thread(
            target=_copy, args=(reader, target), name=f"draftsmith-fd-{number}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _protect(self, path: Path) -> None:
        """Owned by a uid other than the container's; the container may only write."""
        me = os.geteuid()
        owner = me if me != self.uid else NOBODY if me == 0 else None
        if owner is None:
            logger.warning(
                "the fd channel %s belongs to the container's own uid %d (Draftsmith is not "
                "root): the command could make it readable and take back what it wrote",
                path,
                self.uid,
            )
            return
        if owner != me:
            os.chown(path, owner, -1)
        os.chmod(path, WRITE_ONLY_FOR_OTHERS)

    def mounts(self) -> list[tuple[Path, str, bool]]:
        """(host path, container path, read-only) of each FIFO and of the forwarder."""
        if self.directory is None:
            return []
        fifos = [(self.directory / str(n), f"{FD_MOUNT_DIR}/{n}", False) for n in self.fds]
        return [*fifos, (FD_FORWARDER_SOURCE, FD_FORWARDER_MOUNT, True)]

    def wrap(self, python: str, command: Sequence[str]) -> list[str]:
        """`command` run under the forwarder, or unchanged when no descriptor is handed in."""
        if not self.fds:
            return list(command)
        places = [f"{n}={FD_MOUNT_DIR}/{n}" for n in self.fds]
        return [python, "-I", "-S", FD_FORWARDER_MOUNT, *places, "--", *command]

    def close(self) -> None:
        """Call after the container has exited: let the copies drain, remove the FIFOs."""
        for held in self._held:
            os.close(held)
        self._held.clear()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():  # only a writer that outlived its container could hold it
                logger.error("fd channel %s still has a writer after the run", thread.name)
        self._threads.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory)
            self.directory = None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
