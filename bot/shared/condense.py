"""The one way to shorten a long log for a prompt or a comment: failure lines first, then the tail.

Colour codes are dropped (they help neither a model nor a reader); a log that fits is kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SIGNAL = re.compile(
    r"(?i)(error|fail|assert|exception|traceback|panic|denied|not found|not ok)|^E  "
)
MARKER = "[... condensed ...]"


def condense(text: str, limit: int = 6000) -> str:
    """At most `limit` characters of `text`: lines that look like failures, then its tail."""
    text = _ANSI.sub("", text)
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    signal = "\n".join(line for line in lines if _SIGNAL.search(line))[: limit // 2]
    room = max(0, limit - len(signal) - len(MARKER) - 2)
    tail = text[len(text) - room :] if room else ""
    return f"{signal}\n{MARKER}\n{tail}"[:limit]


def join_bounded(items: Sequence[str], limit: int) -> str:
    """`items` joined by blank lines up to `limit` characters, saying how many were left out."""
    out: list[str] = []
    size = 0
    for i, text in enumerate(items):
        if size + len(text) > limit:
            out.append(f"... and {len(items) - i} more failure(s)")
            break
        out.append(text)
        size += len(text)
    return "\n\n".join(out)
