"""A repository's own `test_command` (`.github/draftsmith.yml`), honoured instead of detection.

A pytest command (`pytest ...`, `python -m pytest ...`, `.venv/bin/pytest ...`) keeps its
options and gets its JUnit report added, so every figure still comes from pytest's own report.
Any other command is judged by its exit code alone: the report says so and counts nothing.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.runners import MAX_DETAILS
from bot.shared.condense import join_bounded
from bot.shared.contracts import TestReport, TestStatus

VENV_BIN = ".venv/bin"
EXIT_CODE: Final = "exit code"


@dataclass(frozen=True)
class TestCommand:
    """The configured command: pytest's own options, or an argv judged by its exit code."""

    __test__ = False

    argv: list[str]
    pytest_args: list[str] | None


def parse_test_command(text: str) -> TestCommand:
    """Recognise a pytest command and keep its options; anything else is run as it is."""
    argv = shlex.split(text)
    program = Path(argv[0]).name if argv else ""
    if program in ("pytest", "py.test"):
        return TestCommand(argv, argv[1:])
    if program.startswith("python") and argv[1:3] == ["-m", "pytest"]:
        return TestCommand(argv, argv[3:])
    return TestCommand(argv, None)


async def run_exit_code_command(
    sandbox: Sandbox, workdir: Path, limits: Limits, argv: list[str]
) -> TestReport:
    """Run a non-pytest test command; passed or failed by its exit code, no counts claimed."""
    path = [str(workdir / VENV_BIN), str(Path(sys.base_prefix) / "bin"), "/usr/local/bin"]
    env = {"PATH": ":".join([*path, "/usr/bin", "/bin"]), "VIRTUAL_ENV": str(workdir / ".venv")}
    result = await sandbox.run(argv, workdir=workdir, limits=limits, env=env)
    status = TestStatus.passed if result.ok else TestStatus.failed
    details = ""
    if not result.ok:
        why = f"the sandbox's {result.limit_hit} limit" if result.limit_hit else "its exit code"
        tail = (result.stdout[-2000:] + "\n" + result.stderr[-2000:]).strip()
        details = join_bounded(
            [f"`{shlex.join(argv)}` failed by {why} ({result.exit_code})\n{tail}"], MAX_DETAILS
        )
    return TestReport(
        status=status,
        tests_passed=0,
        tests_failed=0,
        failure_details=details,
        command=shlex.join(argv),
        duration_s=result.duration_s,
        judged_by=EXIT_CODE,
    )
