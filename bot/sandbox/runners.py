"""Test runners: run a repository's tests in the sandbox and read the runner's own report.

pytest writes JUnit XML (`--junitxml`) under coverage.py, whose JSON report gives the percent
and, per line, the tests that executed it (contexts named by the toolbox's pytest plugin);
`node --test` writes JUnit XML (`--test-reporter=junit`); `go test -json` prints test2json
events. Counts and failure details come only from those files, never from anything else.
Reports go to `.draftsmith/` in the workdir. `paths` runs a subset of test files.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import stat
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.condense import join_bounded
from bot.contracts import TestReport, TestStatus
from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, Limits, Sandbox
from bot.sandbox.golang import go_test
from bot.sandbox.junit import junit_cases
from bot.sandbox.toolbox import CONTEXTS_PLUGIN
from bot.sandbox.witness import PYTEST_ARGS, cross_check, run_witnessed, tampered_report

logger = logging.getLogger(__name__)

REPORT_DIR = ".draftsmith"
MAX_DETAILS = 4000
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
        if case.outcome in ("failed", "error"):
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


def parse_coverage_json(text: str) -> float:
    """Total percent covered from a coverage.py JSON report."""
    return float(json.loads(text)["totals"]["percent_covered"])


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
    coverage: bool = True,
) -> TestReport:
    """Run pytest under coverage in the sandbox; a TestReport from its JUnit XML and JSON.

    `args` go to pytest before `paths` (a repository's own `test_command` options);
    `coverage=False` runs pytest alone (runs on the base commit only need the cases)."""
    (workdir / REPORT_DIR).mkdir(exist_ok=True)
    venv_python = workdir / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else "python3"
    junit = f"{REPORT_DIR}/junit.xml"
    data = f"{REPORT_DIR}/coverage.data"
    run_env = {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    if use_toolbox and not venv_python.exists():
        # A prepared venv reaches the toolbox through a .pth at the end of its sys.path instead
        # (bot.environment): on PYTHONPATH it would shadow the project's own pytest.
        run_env["PYTHONPATH"] = TOOLBOX_MOUNT
    for stale in (junit, data, f"{REPORT_DIR}/coverage.json"):
        (workdir / stale).unlink(missing_ok=True)
    command = [python, "-m", "coverage", "run", f"--data-file={data}", "--source=.", "-m", "pytest"]
    if not coverage:
        command = [python, "-m", "pytest"]
    command += ["-q", "-p", "no:cacheprovider", *PYTEST_ARGS, f"--junitxml={junit}"]
    if coverage and use_toolbox:  # each test's node id is its coverage context (bot.analysis)
        command += ["-p", CONTEXTS_PLUGIN]
    command += [*args, *paths]
    result, witness = await run_witnessed(
        sandbox, command, workdir=workdir, limits=limits, env=run_env
    )
    junit_text = read_report(workdir, junit)
    tampered = cross_check(witness, junit_text, result.exit_code, result.limit_hit)
    if tampered is not None:
        return tampered_report(command, result, tampered)
    if junit_text is None:
        return _error(command, result, "pytest wrote no JUnit report")
    try:
        counts = parse_junit(junit_text)
    except ET.ParseError as exc:
        return _error(command, result, f"pytest's JUnit report is not valid XML: {exc}")
    percent = (
        await _coverage_percent(sandbox, workdir, limits, python, data, run_env)
        if coverage
        else None
    )
    if result.exit_code == 5:  # pytest: no tests collected
        return _error(command, result, "pytest collected no tests")
    return _report(counts, result, command, percent)


async def _coverage_percent(
    sandbox: Sandbox, workdir: Path, limits: Limits, python: str, data: str, env: Mapping[str, str]
) -> float | None:
    """Total percent covered, from coverage.py's JSON report of the run's data file."""
    # -i: files a project executes that are not Python source (templates) are skipped;
    # --show-contexts: which test executed each line (bot.analysis.coverage)
    cov_cmd = [python, "-m", "coverage", "json", "-i", f"--data-file={data}"]
    cov_cmd += ["--show-contexts", "-o", f"{REPORT_DIR}/coverage.json"]
    cov = await sandbox.run(cov_cmd, workdir=workdir, limits=limits, env=env)
    coverage_text = read_report(workdir, f"{REPORT_DIR}/coverage.json")
    if cov.exit_code != 0 or coverage_text is None:
        logger.warning("coverage json failed: %s", cov.stderr[-500:])
        return None
    try:
        return parse_coverage_json(coverage_text)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("coverage report unreadable: %s", exc)
        return None


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
    except ET.ParseError as exc:
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
