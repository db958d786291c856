"""What setup says when it fails: the command, the tail of its output, what else was tried, and
how the repository can say how to prepare itself (`.github/draftsmith.yml`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.environment.detect import EnvironmentPlan
from bot.sandbox.phases import CommandRecord

TAIL_CHARS = 1500
CONFIG_HINT = (
    "Say how to prepare it in .github/draftsmith.yml (read from the default branch), e.g.\n"
    "setup_commands:\n  - python3 -m venv .venv\n"
    "  - .venv/bin/python -m pip install -e '.[test]'\n"
    "test_command: .venv/bin/python -m pytest"
)


def setup_problem(record: CommandRecord, plan: EnvironmentPlan, notes: Sequence[str] = ()) -> str:
    """What failed in setup, the tail of its output, what else was tried (`notes`), and what the
    repository can say instead."""
    if record.refused:
        what = f"setup command refused by the policy's setup allow-list: `{record.command}`"
    elif record.limit_hit is not None:
        what = f"setup command `{record.command}` hit the sandbox's {record.limit_hit} limit"
    else:
        what = f"setup command `{record.command}` failed (exit {record.exit_code})"
    origin = "; ".join(plan.sources) or "(none)"
    tail = record.output_tail.strip()[-TAIL_CHARS:]
    hint = (
        "Fix the commands in .github/draftsmith.yml, or narrow them to what the sandbox allows."
        if plan.configured
        else CONFIG_HINT
    )
    tried = "".join(f"\n{note}" for note in notes)
    return f"{what}\nPrepared from: {origin}\nOutput (tail):\n{tail}{tried}\n\n{hint}"
