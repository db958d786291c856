"""A container's output as it streams: both streams kept up to the limit, the container killed
when it writes more (bot.sandbox.docker)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Output:
    """Both output streams of a container, each kept up to the limit."""

    limit: int
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    overflowed: bool = False

    def feed(self, out: bytes | None, err: bytes | None) -> None:
        for chunk, buffer in ((out, self.stdout), (err, self.stderr)):
            if chunk:
                room = self.limit - len(buffer)
                buffer += chunk[: max(room, 0)]
                self.overflowed |= len(chunk) > room


def read_stream(stream: Iterator[tuple[bytes | None, bytes | None]], output: Output, container: Any
          ) -> None:  # fmt: skip
    """Collect the container's output as it streams; kill it when the output overflows, from
    another thread while this one drains the stream: the engine blocks on an attach stream nobody
    reads, and a kill waits behind it (it hung past the API timeout)."""
    killer: threading.Thread | None = None
    try:
        for out, err in stream:
            if killer is None:
                output.feed(out, err)
                if output.overflowed:
                    killer = threading.Thread(target=kill, args=(container,), daemon=True)
                    killer.start()
    except Exception as exc:  # the stream ends with the container; a broken one is logged
        logger.info("docker output stream ended: %s", exc)


def kill(container: Any) -> None:
    """Kill the container; one already gone is no error."""

    from docker.errors import APIError

    try:
        container.kill()
    except APIError as exc:  # already gone
        logger.debug("docker kill: %s", exc)


def text_of(data: bytearray, cut: bool) -> str:
    """A stream's text, marked where the output limit cut it."""
    text = bytes(data).decode("utf-8", errors="replace")
    if cut:
        text += f"\n[draftsmith sandbox: output cut at {len(data)} bytes (output limit)]\n"
    return text
