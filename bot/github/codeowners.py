"""CODEOWNERS: find the file by GitHub's precedence, parse it, and name owners and reviewers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from codeowners import parse_owner, path_to_regex

logger = logging.getLogger(__name__)

CODEOWNERS_LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
"""Where GitHub looks for CODEOWNERS, in order; the first file that exists is used."""

_ESCAPED_SPACE = "\x00"


@dataclass(frozen=True)
class Rule:
    """One CODEOWNERS line: a pattern and its owners (none means: explicitly unowned)."""

    pattern: str
    regex: re.Pattern[str]
    owners: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Reviewers:
    """Reviewers to request: user logins (no `@`) and teams as `org/team`."""

    users: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CodeOwners:
    """A parsed CODEOWNERS file; the last matching rule decides a path's owners."""

    rules: tuple[Rule, ...] = ()
    source: str | None = None

    @classmethod
    def parse(cls, text: str, source: str = "CODEOWNERS") -> CodeOwners:
        """Parse CODEOWNERS text; invalid patterns and owners are logged and skipped."""
        rules: list[Rule] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.replace("\\ ", _ESCAPED_SPACE).split()
            pattern = fields[0].replace(_ESCAPED_SPACE, " ")
            try:
                regex = path_to_regex(pattern.replace(" ", _ESCAPED_SPACE))
            except ValueError as exc:
                logger.warning(
                    "%s:%d: invalid pattern %r skipped: %s", source, number, pattern, exc
                )
                continue
            owners: list[str] = []
            for owner in fields[1:]:
                if owner.startswith("#"):
                    break  # a trailing comment
                if parse_owner(owner) is None:
                    logger.warning("%s:%d: invalid owner %r ignored", source, number, owner)
                    continue
                owners.append(owner)
            rules.append(Rule(pattern, regex, tuple(owners), number))
        return cls(tuple(rules), source)

    def owners_of(self, path: str) -> list[str]:
        """The owners of one path (as written: `@user`, `@org/team`, or an email)."""
        candidate = path.lstrip("/").replace(" ", _ESCAPED_SPACE)
        for rule in reversed(self.rules):
            if rule.regex.search(candidate) is not None:
                return list(rule.owners)
        return []

    def owners_for(self, paths: Iterable[str]) -> dict[str, list[str]]:
        """Each path with its owners (an empty list when nobody owns it)."""
        return {path: self.owners_of(path) for path in paths}

    def reviewers_for(self, paths: Iterable[str], exclude: Collection[str] = ()) -> Reviewers:
        """The owners of `paths` split into users and teams, minus `exclude` (author, bot)."""
        excluded = {name.lstrip("@").lower() for name in exclude}
        users: list[str] = []
        teams: list[str] = []
        for owners in self.owners_for(paths).values():
            for owner in owners:
                kind = parse_owner(owner)
                name = owner.lstrip("@")
                if name.lower() in excluded:
                    continue
                if kind is not None and kind[0] == "TEAM":
                    if name not in teams:
                        teams.append(name)
                elif kind is not None and kind[0] == "USERNAME":
                    if name not in users:
                        users.append(name)
                else:
                    logger.info("owner %r cannot be requested as a reviewer (email)", owner)
        return Reviewers(users, teams)


def find_codeowners(read: Callable[[str], str | None]) -> CodeOwners:
    """The CODEOWNERS that GitHub would use; `read(path)` returns a file's text or None."""
    for location in CODEOWNERS_LOCATIONS:
        text = read(location)
        if text is not None:
            return CodeOwners.parse(text, location)
    return CodeOwners()


def codeowners_from_checkout(root: Path) -> CodeOwners:
    """The CODEOWNERS of a local checkout (same precedence as on GitHub)."""

    def read(location: str) -> str | None:
        path = root / location
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    return find_codeowners(read)
