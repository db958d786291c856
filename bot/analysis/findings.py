"""A static-analysis finding, and which findings a change introduces.

Findings are matched by (tool, rule, file, message), never by line: a change that shifts an old
finding down by ten lines does not make it new. When the change holds more findings of a key
than the base did, the surplus is new, and the ones on changed lines are taken first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem an analyser reported at a place in a file."""

    tool: str
    rule: str
    file: str
    line: int | None
    message: str
    level: Level

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies a finding across base and change (the line is not part of it)."""
        return (self.tool, self.rule, self.file, self.message)

    @property
    def where(self) -> str:
        """`file:line` (or the file alone when the analyser gave no line)."""
        return f"{self.file}:{self.line}" if self.line else self.file


def introduced(
    base: Iterable[Finding], change: Iterable[Finding], changed_lines: Mapping[str, set[int]]
) -> list[Finding]:
    """The findings of `change` that `base` does not account for, in file and line order."""
    before: dict[tuple[str, str, str, str], int] = {}
    for finding in base:
        before[finding.key] = before.get(finding.key, 0) + 1
    groups: dict[tuple[str, str, str, str], list[Finding]] = {}
    for finding in change:
        groups.setdefault(finding.key, []).append(finding)
    new: list[Finding] = []
    for key, group in groups.items():
        surplus = len(group) - before.get(key, 0)
        if surplus <= 0:
            continue

        def on_changed_line(f: Finding) -> bool:
            return f.line is not None and f.line in changed_lines.get(f.file, set())

        ranked = sorted(group, key=lambda f: (not on_changed_line(f), f.line or 0))
        new.extend(ranked[:surplus])
    return sorted(new, key=lambda f: (f.file, f.line or 0, f.rule))
