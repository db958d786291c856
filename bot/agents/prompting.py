"""Shared prompt building: system prompts from text files, untrusted text wrapped as data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bot.security.untrusted import UNTRUSTED_RULE, as_data
from bot.shared.condense import condense

__all__ = ["condense"]

PROMPTS = Path(__file__).parent / "prompts"


@cache
def system_prompt(role: str) -> str:
    """The role's system prompt (its text file) followed by the rule on untrusted text."""
    return (PROMPTS / f"{role}.txt").read_text().strip() + "\n\n" + UNTRUSTED_RULE


def messages(role: str, *sections: str) -> list[dict[str, Any]]:
    """A system message for `role` and one user message made of `sections`."""
    return [
        {"role": "system", "content": system_prompt(role)},
        {"role": "user", "content": "\n\n".join(s for s in sections if s)},
    ]


def file_blocks(files: dict[str, str]) -> str:
    """Repository files as data blocks, one per file, with their paths as provenance."""
    return "\n".join(
        as_data(text, source=f"file {path}", kind="file") for path, text in files.items()
    )
