"""Cross-checking pytest's verdict: Draftsmith's witness stream against the JUnit file and exit.

The tests run in the same process as the code they judge, so pytest's JUnit report and exit code
can be forged from inside (a conftest that rewrites reports, a test that rewrites the JUnit file
and calls `os._exit(0)`). Draftsmith's own plugin (`bot.sandbox.pytest_witness`, loaded with
`-p` before any conftest) streams each test's outcome to a pipe whose read end Draftsmith holds
outside the sandbox; `cross_check` compares that stream with the JUnit file and the exit code.
Any disagreement means the results were tampered with: the run never counts them as evidence.
Code in the test process can still reach the plugin and the pipe (docs/security-model.md).
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.sandbox.base import ExecResult, LimitHit, Limits, Sandbox
from bot.sandbox.junit import JUnitReportError, junit_cases
from bot.shared.contracts import TestReport, TestStatus

WITNESS_MODULE = "draftsmith_witness"
"""The module name the plugin has in the sandbox toolbox (`-p draftsmith_witness`)."""
WITNESS_FD_VAR = "PYTEST_WITNESS_FD"
TAMPERED = "the test results were tampered with"
MAX_WITNESS_BYTES = 32 * 1024 * 1024
JOIN_TIMEOUT_S = 30.0
_RANK = {"passed": 0, "skipped": 1, "failed": 2}


def install_plugin(toolbox: Path) -> Path:
    """Put the witness plugin into a toolbox directory (read-only in the sandbox)."""
    source = resources.files("bot.sandbox").joinpath("pytest_witness.py")
    target = toolbox / f"{WITNESS_MODULE}.py"
    text = source.read_text(encoding="utf-8")
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
    return target


class WitnessPipe:
    """The pipe the sandboxed pytest writes to, drained on a thread while the command runs.

    Pass `write_fd` into the sandbox; `close()` after the command has ended returns the stream.
    """

    def __init__(self) -> None:
        self._read, self.write_fd = os.pipe()
        self._data = bytearray()
        self.overflowed = False
        self._thread = threading.Thread(target=self._drain, name="pytest-witness", daemon=True)
        self._thread.start()
        self._closed = False

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._read, 65536):
                if len(self._data) + len(chunk) > MAX_WITNESS_BYTES:
                    self.overflowed = True
                    continue
                self._data += chunk
        finally:
            os.close(self._read)

    def close(self) -> Witness:
        """Close Draftsmith's write end, read what the sandbox wrote, and parse it."""
        if not self._closed:
            self._closed = True
            os.close(self.write_fd)
            self._thread.join(JOIN_TIMEOUT_S)
        witness = Witness.parse(bytes(self._data), overflowed=self.overflowed)
        if self._thread.is_alive():  # only a process that outlived the sandbox could hold it
            witness.problems.append("the witness pipe stayed open after the tests ended")
        return witness

    def __enter__(self) -> WitnessPipe:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class Witness:
    """What the witness plugin streamed: whether it started and finished, and each test's phases."""

    started: bool = False
    finish: dict[str, Any] | None = None
    phases: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, *, overflowed: bool = False) -> Witness:
        """Read the JSON lines; a line that is not one of the plugin's is a problem."""
        witness = cls()
        if overflowed:
            witness.problems.append(f"the witness stream passed {MAX_WITNESS_BYTES} bytes")
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            try:
                record = json.loads(line)
                witness._add(record)
            except (ValueError, KeyError, TypeError, AttributeError):
                witness.problems.append(f"line {number} of the witness stream is not the plugin's")
        return witness

    def _add(self, record: dict[str, Any]) -> None:
        event = record["event"]
        if event == "start":
            self.started = True
        elif event == "finish":
            if self.finish is not None:
                self.problems.append("the witness stream finished twice")
            self.finish = {"exitstatus": int(record["exitstatus"])}
        elif event == "collect":
            self._phase(str(record["junit"]), "collect", str(record.get("outcome", "failed")))
        elif event == "case":
            outcome = str(record["outcome"])
            if outcome == "passed" and record["raised"] and not record["xfail"]:
                outcome = "failed"  # an inner hook turned a raised exception into a pass
            self._phase(str(record["junit"]), str(record["when"]), outcome)
        else:
            raise ValueError(event)

    def _phase(self, name: str, when: str, outcome: str) -> None:
        if outcome not in _RANK:
            raise ValueError(outcome)
        seen = self.phases.setdefault(name, {})
        if when in seen and seen[when] != outcome:
            self.problems.append(
                f"the witness stream says both {seen[when]} and {outcome} for {name}"
            )
        seen[when] = outcome

    def cases(self) -> dict[str, str]:
        """Each test (by its JUnit name) and its outcome: passed, skipped or failed."""
        return {
            name: max(phases.values(), key=_RANK.__getitem__)
            for name, phases in self.phases.items()
        }


def junit_outcomes(text: str) -> dict[str, str]:
    """Each test case of a JUnit report (`classname::name`) and its outcome (the worst of
    duplicates; an error counts as failed)."""
    outcomes: dict[str, str] = {}
    for case in junit_cases(text):
        outcome = "failed" if case.outcome == "error" else case.outcome
        previous = outcomes.get(case.name, "passed")
        outcomes[case.name] = max(previous, outcome, key=_RANK.__getitem__)
    return outcomes


def cross_check(
    witness: Witness, junit_text: str | None, exit_code: int, limit_hit: LimitHit | None
) -> str | None:
    """Why pytest's JUnit report and exit code disagree with the witness, or None if they agree.

    A run the sandbox stopped (a limit) or that wrote no JUnit report is an error already; only
    what the report and the exit code claim is judged.
    """
    problems = list(witness.problems)
    if junit_text is not None and not witness.started:
        problems.append("pytest ran without Draftsmith's witness plugin (something disabled it)")
    seen = witness.cases()
    if junit_text is not None and witness.started:
        try:
            claimed = junit_outcomes(junit_text)
        except JUnitReportError:
            claimed = {}
        for name, outcome in sorted(claimed.items()):
            if name not in seen:
                problems.append(f"the JUnit report lists {name}, which pytest never ran")
            elif seen[name] != outcome:
                problems.append(f"the JUnit report says {name} {outcome}; pytest saw {seen[name]}")
        if witness.finish is not None:
            hidden = sorted(set(seen) - set(claimed))
            problems += [f"the JUnit report leaves out {name} ({seen[name]})" for name in hidden]
    if limit_hit is None and witness.started:
        failing = sorted(name for name, outcome in seen.items() if outcome == "failed")
        if witness.finish is None and exit_code == 0:
            problems.append("the test process exited 0 before pytest finished")
        if witness.finish is not None and witness.finish["exitstatus"] != exit_code:
            problems.append(
                f"pytest finished with exit status {witness.finish['exitstatus']}, "
                f"the process exited {exit_code}"
            )
        if failing and exit_code == 0:
            problems.append(f"pytest saw {len(failing)} failing test(s), the process exited 0")
    if not problems:
        return None
    shown = problems[:8] + ([f"... and {len(problems) - 8} more"] if len(problems) > 8 else [])
    return "; ".join(shown)


PYTEST_ARGS = ("-p", WITNESS_MODULE)
"""pytest arguments that load the witness before any conftest.py."""


async def run_witnessed(
    sandbox: Sandbox,
    command: Sequence[str],
    *,
    workdir: Path,
    limits: Limits,
    env: Mapping[str, str],
    mount_at: Path | None = None,
) -> tuple[ExecResult, Witness]:
    """Run a pytest command (with `PYTEST_ARGS`) in the sandbox, the witness pipe handed to it."""
    pipe = WitnessPipe()
    try:
        result = await sandbox.run(
            list(command),
            workdir=workdir,
            limits=limits,
            env={**env, WITNESS_FD_VAR: str(pipe.write_fd)},
            pass_fds=(pipe.write_fd,),
            mount_at=mount_at,
        )
    finally:
        witness = pipe.close()
    return result, witness


def tampered_report(command: Sequence[str], result: ExecResult, why: str) -> TestReport:
    """The report of a run whose results were tampered with: an error that counts nothing."""
    return TestReport(
        status=TestStatus.error,
        tests_passed=0,
        tests_failed=0,
        failure_details=f"{TAMPERED}: {why}"[:4000],
        command=shlex.join(command),
        duration_s=result.duration_s,
        tampered=why,
    )
