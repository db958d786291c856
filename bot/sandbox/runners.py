"""Test runners: run a repository's tests in the sandbox and read the runner's own report.

pytest writes JUnit XML (`--junitxml`); a run measuring coverage (`coverage_of`) also writes
coverage.py's JSON report of the files it measures, with, per line, the tests that executed it
(the toolbox's pytest plugin runs coverage.py in the pytest process: bot.sandbox.coverage_contexts);
`node --test` writes JUnit XML (`--test-reporter=junit`); `go test -json` prints test2json
events. Counts and failure details come only from those files, never from anything else.
Reports go to `.draftsmith/` in the workdir. `paths` runs a subset of test files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, Limits, Sandbox
from bot.sandbox.golang import go_test
from bot.sandbox.junit import JUnitReportError, junit_cases
from bot.sandbox.toolbox import CONTEXTS_PLUGIN
from bot.sandbox.witness import PYTEST_ARGS, cross_check, run_witnessed, tampered_report
from bot.shared.condense import join_bounded
from bot.shared.contracts import TestReport, TestStatus

logger = logging.getLogger(__name__)

REPORT_DIR = ".draftsmith"
COVERAGE_RC = f"{REPORT_DIR}/coverage.rc"
COVERAGE_DATA = f"{REPORT_DIR}/coverage.data"
COVERAGE_JSON = f"{REPORT_DIR}/coverage.json"
COVERAGE_PLAN = f"{REPORT_DIR}/coverage-plan.json"
MAX_DETAILS = 4000
_UNSAFE = re.compile(r"[^A-Za-z0-9_./-]")
MAX_FAILURE_LINES = 12


@dataclass
class Counts:
    """Test counts and condensed failures read from a runner's report."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    failures: list[str] = field(default_factory=list)
    cases: dict[str, bool] = field(default_factory=dict)
    """Each test case (`classname::name`) and whether it passed (JUnit reports only)."""


MAX_REPORT_BYTES = 20 * 1024 * 1024


def read_report(workdir: Path, relative: str) -> str | None:
    """A report the sandboxed runner wrote, or None when it is missing or not a plain file.

    Sandboxed code controls the workdir: a report may be a symlink to a host secret, a FIFO that
    blocks the reader, or huge. Only a regular file reached without any symlink is read, bounded.
    """
    path = workdir
    for part in Path(relative).parts:
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            logger.warning("report path %s is a symlink; not read", relative)
            return None
    if not stat.S_ISREG(st.st_mode):
        logger.warning("report %s is not a regular file; not read", relative)
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        logger.warning("report %s is over %d bytes; not read", relative, MAX_REPORT_BYTES)
        return None
    return data.decode("utf-8", errors="replace")


def _failure_text(name: str, message: str, body: str) -> str:
    """The failing test, its assertion and the lines of the traceback that matter."""
    lines = [ln for ln in body.strip().splitlines() if ln.strip()]
    relevant = [ln for ln in lines if ln.lstrip().startswith(("E ", ">", "assert", "Error"))]
    picked = (relevant or lines)[-MAX_FAILURE_LINES:]
    head = f"{name}: {message.strip()}" if message.strip() else name
    return "\n".join([head, *picked])


def parse_junit(xml_text: str) -> Counts:
    """Counts and failures from a JUnit XML report (pytest, node --test)."""
    counts = Counts()
    for case in junit_cases(xml_text):
        if case.failing:
            if case.outcome == "error":
                counts.errors += 1
            else:
                counts.failed += 1
            counts.failures.append(_failure_text(case.name, case.message, case.text))
        elif case.outcome == "skipped":
            counts.skipped += 1
        else:
            counts.passed += 1
        counts.cases[case.name] = case.outcome == "passed"
    return counts


def parse_go_test_json(text: str) -> Counts:
    """Counts and failures from `go test -json` (test2json) events."""
    counts = Counts()
    output: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        test = event.get("Test")
        if not test:
            continue
        key = f"{event.get('Package', '')}.{test}"
        action = event.get("Action")
        if action == "output":
            output.setdefault(key, []).append(event.get("Output", "").rstrip("\n"))
        elif action == "pass":
            counts.passed += 1
        elif action == "skip":
            counts.skipped += 1
        elif action == "fail":
            counts.failed += 1
            lines = [ln for ln in output.get(key, []) if not ln.startswith(("=== ", "--- "))]
            counts.failures.append("\n".join([key, *lines[-MAX_FAILURE_LINES:]]))
    return counts


def _report(counts: Counts, result: ExecResult, command: list[str], coverage: float | None,
            ) -> TestReport:  # fmt: skip
    if result.limit_hit is not None or counts.errors:
        status = TestStatus.error if not counts.failed else TestStatus.failed
    elif counts.failed or result.exit_code != 0:
        status = TestStatus.failed if counts.failed else TestStatus.error
    else:
        status = TestStatus.passed
    details = counts.failures[:]
    if result.limit_hit is not None:
        details.insert(0, f"the sandbox stopped the run: {result.limit_hit} limit")
    return TestReport(
        status=status,
        tests_passed=counts.passed,
        tests_failed=counts.failed + counts.errors,
        tests_skipped=counts.skipped,
        coverage_percent=coverage,
        failure_details=join_bounded(details, MAX_DETAILS),
        command=shlex.join(command),
        duration_s=result.duration_s,
    )


def _error(command: list[str], result: ExecResult, why: str) -> TestReport:
    tail = (result.stderr or result.stdout)[-1500:]
    return TestReport(
        status=TestStatus.error,
        tests_passed=0,
        tests_failed=0,
        failure_details=join_bounded([f"{why} (exit {result.exit_code})\n{tail}"], MAX_DETAILS),
        command=shlex.join(command),
        duration_s=result.duration_s,
    )


async def run_pytest(
    sandbox: Sandbox,
    workdir: Path,
    limits: Limits,
    *,
    paths: Sequence[str] = (),
    use_toolbox: bool = True,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    coverage_of: Sequence[str] = (),
    coverage_tests: Sequence[str] | None = None,
    mount_at: Path | None = None,
) -> TestReport:
    """Run pytest in the sandbox; a TestReport from its JUnit XML. `mount_at`: the path the
    sandbox shows `workdir` at (`Sandbox.run`), where its venv was prepared.

    `args` go to pytest before `paths` (a repository's own `test_command` options).
    `coverage_of` (files relative to the workdir) measures those files alone with coverage.py, in
    the pytest process (the toolbox's plugin, `CONTEXTS_PLUGIN`): each test's node id is the
    context of the lines it ran, the JSON report goes to `COVERAGE_JSON` (bot.analysis.coverage).
    With `coverage_tests`, only collection and the tests of those files are measured; the rest of
    the run is not traced. Tracing the whole project would cost twice the suite's time on Python
    3.11 and a report of hundreds of megabytes, so no run measures the project's total:
    `coverage_percent` stays None (shown as unknown)."""
    (workdir / REPORT_DIR).mkdir(exist_ok=True)
    venv_python = workdir / ".venv" / "bin" / "python"
    seen_python = (mount_at or workdir) / ".venv" / "bin" / "python"
    python = str(seen_python) if venv_python.exists() else "python3"
    junit = f"{REPORT_DIR}/junit.xml"
    run_env = {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    if use_toolbox and not venv_python.exists():
        # A prepared venv reaches the toolbox through a .pth at the end of its sys.path instead
        # (bot.environment): on PYTHONPATH it would shadow the project's own pytest.
        run_env["PYTHONPATH"] = TOOLBOX_MOUNT
    for stale in (junit, COVERAGE_DATA, COVERAGE_JSON, COVERAGE_RC, COVERAGE_PLAN):
        (workdir / stale).unlink(missing_ok=True)
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PYTEST_ARGS]
    command.append(f"--junitxml={junit}")
    if coverage_of and use_toolbox:
        (workdir / COVERAGE_RC).write_text(coverage_config(coverage_of))
        plan = {"rcfile": COVERAGE_RC, "json": COVERAGE_JSON, "tests": coverage_tests}
        (workdir / COVERAGE_PLAN).write_text(json.dumps(plan))
        command += ["-p", CONTEXTS_PLUGIN, f"--draftsmith-coverage={COVERAGE_PLAN}"]
    command += [*args, *paths]
    result, witness = await run_witnessed(
        sandbox, command, workdir=workdir, limits=limits, env=run_env, mount_at=mount_at
    )
    junit_text = read_report(workdir, junit)
    tampered = cross_check(witness, junit_text, result.exit_code, result.limit_hit)
    if tampered is not None:
        return tampered_report(command, result, tampered)
    if junit_text is None:
        return _error(command, result, "pytest wrote no JUnit report")
    try:
        counts = parse_junit(junit_text)
    except JUnitReportError as exc:
        return _error(command, result, f"pytest's JUnit report is not valid XML: {exc}")
    if result.exit_code == 5:  # pytest: no tests collected
        return _error(command, result, "pytest collected no tests")
    return _report(counts, result, command, None)


def coverage_config(files: Sequence[str]) -> str:
    """coverage.py's configuration for a run measuring `files` (relative to the workdir) alone.

    Draftsmith's own file, so the project's coverage settings (branch coverage, a `source` that
    widens tracing, `parallel` data files) do not apply: lines only, every other file untraced.
    A character outside `[A-Za-z0-9_./-]` becomes `?` (any one character) in the pattern, so no
    file name is read as glob syntax or breaks the file's lines."""
    include = "".join(f"\n    {_UNSAFE.sub('?', f)}" for f in files)
    return (
        f"[run]\nbranch = false\ndata_file = {COVERAGE_DATA}\ninclude ={include}\n"
        "[report]\nignore_errors = true\n"
    )


async def run_node_test(
    sandbox: Sandbox,
    workdir: Path,
    limits: Limits,
    *,
    paths: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> TestReport:
    """Run `node --test` in the sandbox; a TestReport from its JUnit reporter."""
    (workdir / REPORT_DIR).mkdir(exist_ok=True)
    junit = f"{REPORT_DIR}/node-junit.xml"
    (workdir / junit).unlink(missing_ok=True)
    command = ["node", "--test", "--test-reporter=junit", f"--test-reporter-destination={junit}"]
    command += ["--test-reporter=spec", "--test-reporter-destination=stdout", *paths]
    result = await sandbox.run(command, workdir=workdir, limits=limits, env=env)
    junit_text = read_report(workdir, junit)
    if junit_text is None or not junit_text.strip():
        return _error(command, result, "node --test wrote no JUnit report")
    try:
        counts = parse_junit(junit_text)
    except JUnitReportError as exc:
        return _error(command, result, f"node's JUnit report is not valid XML: {exc}")
    return _report(counts, result, command, None)


async def run_go_test(
    sandbox: Sandbox,
    workdir: Path,
    limits: Limits,
    *,
    packages: Sequence[str] = ("./...",),
    tests: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> TestReport:
    """Run `go test -json` in the sandbox (bot.sandbox.golang); a TestReport from its events."""
    command, result = await go_test(
        sandbox, workdir, limits, packages=packages, tests=tests, env=env
    )
    counts = parse_go_test_json(result.stdout)
    if not (counts.passed or counts.failed or counts.skipped):
        return _error(command, result, "go test reported no tests")
    return _report(counts, result, command, None)
