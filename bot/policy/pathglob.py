"""Repository path rules in the one dialect of every path rule: gitignore's, through `pathspec`.

A pattern without a slash (other than a trailing one) matches a file or directory of that name at
any depth; a pattern with one is anchored at the repository root. `*` and `?` stay inside one path
segment, `**` spans any number of them, `[...]` is a character class, and a pattern that matches
a directory also matches everything inside it; a trailing `/` matches directories only. Matching
ignores case, so a policy errs on the side of gating ("Auth/" is as risky as "auth/"). Negation
(`!`) has no meaning in a list of rules and is refused. (The setup allow-list matches whole
commands, not paths: it is not a path rule.)
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from bot.shared.errors import PolicyError


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The case-insensitive regular expression of one gitignore-style path pattern.

    Use `.match(path)` on a normalised repository path; raises PolicyError for a pattern that is
    empty, a comment, a negation or not valid.
    """
    text = pattern.strip()
    if text.startswith("!"):
        raise PolicyError(
            f"negated path pattern {pattern!r}", "list the paths that match; remove the `!`"
        )
    try:
        compiled = GitIgnoreSpecPattern(text)
    except (ValueError, re.error) as exc:
        raise PolicyError(f"invalid path pattern {pattern!r}: {exc}", "fix the pattern") from exc
    if compiled.regex is None or text == "/":
        raise PolicyError(f"empty path pattern {pattern!r}", "remove it or name a path")
    return re.compile(compiled.regex.pattern, re.IGNORECASE | re.DOTALL)


def normalise_path(path: str) -> str | None:
    """A repository-relative POSIX path, or None if it is empty, absolute or escapes the repo."""
    text = path.replace("\\", "/").strip()
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return None
    if any(part == ".." for part in text.split("/")):
        return None
    normal = posixpath.normpath(text)
    return None if normal in (".", "") else normal


def path_matches(pattern: str, path: str) -> bool:
    """Whether a normalised repository path matches one path pattern."""
    return compile_glob(pattern).match(path) is not None


def matching(path: str, patterns: Iterable[str]) -> list[str]:
    """The patterns (in order) that match a normalised repository path."""
    return [p for p in patterns if path_matches(p, path)]
