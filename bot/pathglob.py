"""Repository path patterns: gitignore-like globs with `**`, compiled to regular expressions.

A pattern without "/" matches a file or directory of that name at any depth; a pattern with
"/" is anchored at the repository root (a leading "/" only anchors). "*" and "?" stay inside
one path segment, "**" spans any number of segments, "[...]" is a character class. A pattern
that matches a directory also matches everything inside it. Matching ignores case, so a
policy errs on the side of gating ("Auth/" is as risky as "auth/").
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache

from bot.errors import PolicyError


def _segment(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = text.find("]", i + 2 if text[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = text[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The compiled, case-insensitive regular expression of one path pattern."""
    text = pattern.strip()
    if not text or text == "/":
        raise PolicyError(f"empty path pattern {pattern!r}", "remove it or name a path")
    anchored = "/" in text.rstrip("/")
    text = text.strip("/")
    parts = text.split("/")
    regex = "" if anchored else "(?:.*/)?"
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]*/)*"
        else:
            regex += _segment(part) + ("" if last else "/")
    regex += "(?:/.*)?"
    try:
        return re.compile(regex, re.IGNORECASE | re.DOTALL)
    except re.error as exc:
        raise PolicyError(
            f"invalid path pattern {pattern!r}: {exc}", "fix the character class"
        ) from exc


def normalise_path(path: str) -> str | None:
    """A repository-relative POSIX path, or None if it is empty, absolute or escapes the repo."""
    text = path.replace("\\", "/").strip()
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return None
    if any(part == ".." for part in text.split("/")):
        return None
    normal = posixpath.normpath(text)
    return None if normal in (".", "") else normal


def matching(path: str, patterns: Iterable[str]) -> list[str]:
    """The patterns (in order) that match a normalised repository path."""
    return [p for p in patterns if compile_glob(p).fullmatch(path)]
