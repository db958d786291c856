"""Requirement lines (PEP 508) read with `packaging`, the one reader of them in setup."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement


def parsed(line: str) -> Requirement | None:
    """The requirement a line states; None when it is not one (a path, a bare URL, an option)."""
    try:
        return Requirement(line.strip())
    except InvalidRequirement:
        return None


def without_pin(requirement: Requirement) -> str:
    """The requirement without its version specifier (its extras, URL and marker kept)."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    url = f" @ {requirement.url}" if requirement.url else ""
    marker = f"; {requirement.marker}" if requirement.marker is not None else ""
    return f"{requirement.name}{extras}{url}{marker}"
