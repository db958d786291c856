"""Shared prompt building: system prompts from text files, untrusted text wrapped as data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bot.security.untrusted import UNTRUSTED_RULE, as_data

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


def condense(text: str, limit: int = 6000) -> str:
    """A bounded slice of a long log for a prompt: failure lines first, then the tail."""
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    keys = ("FAIL", "Error", "error", "assert", "Traceback", "not ok", "E  ")
    important = [line for line in lines if any(k in line for k in keys)]
    head = "\n".join(important)[: limit // 2]
    tail = text[-(limit - len(head) - 40) :]
    return f"{head}\n[... condensed ...]\n{tail}"
