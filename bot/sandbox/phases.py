"""The two phases: `setup` (network, allow-listed commands only) and `check` (never network).

Setup commands come from the repository's `.github/draftsmith.yml` or are detected from its files
by `bot.environment`. Every command, run or refused, is returned as a `CommandRecord`.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.policy.config import command_allowed
from bot.sandbox.base import ExecResult, LimitHit, Limits, Sandbox

logger = logging.getLogger(__name__)

Phase = Literal["setup", "check"]
REFUSED_EXIT = 126  # like a shell's "cannot execute"


@dataclass(frozen=True)
class CommandRecord:
    """One command of a phase, as stored in the run's artifacts."""

    command: str
    phase: Phase
    exit_code: int
    duration_s: float
    limit_hit: LimitHit | None
    refused: bool = False
    output_tail: str = ""
    refused_egress: list[str] = field(default_factory=list)  # setup: what the filter refused


def _stderr_tail(phase: str, result: ExecResult) -> int:
    """How much of stderr a record keeps: more of a failed setup command's, whose package
    manager names the failing dependency's script above that script's own output."""
    return 6000 if phase == "setup" and not result.ok else 2000


def allowed(command: list[str], allow: Sequence[str]) -> bool:
    """Whether `shlex.join(command)` matches one of the allow-list's fnmatch patterns."""
    return command_allowed(shlex.join(command), allow)


async def run_phase(
    sandbox: Sandbox,
    phase: Phase,
    commands: Sequence[list[str]],
    *,
    workdir: Path,
    limits: Limits,
    allow: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> list[CommandRecord]:
    """Run a phase's commands; setup stops at the first failure or refusal, check runs all."""
    records: list[CommandRecord] = []
    for command in commands:
        line = shlex.join(command)
        if phase == "setup" and not allowed(command, allow):
            logger.warning("setup command refused by the allow-list: %s", line)
            records.append(
                CommandRecord(
                    command=line,
                    phase=phase,
                    exit_code=REFUSED_EXIT,
                    duration_s=0.0,
                    limit_hit=None,
                    refused=True,
                    output_tail="refused: the command matches no pattern of the setup allow-list",
                )
            )
            break
        result = await sandbox.run(
            command, workdir=workdir, limits=limits, network=phase == "setup", env=env
        )
        records.append(
            CommandRecord(
                command=line,
                phase=phase,
                exit_code=result.exit_code,
                duration_s=result.duration_s,
                limit_hit=result.limit_hit,
                output_tail=result.stdout[-2000:] + result.stderr[-_stderr_tail(phase, result) :],
                refused_egress=list(result.refused_egress),
            )
        )
        if phase == "setup" and not result.ok:
            break
    return records
