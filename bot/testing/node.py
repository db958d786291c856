"""A JavaScript/TypeScript suite in the sandbox: the project's own runner, per-test results.

Which packages: a workspace runs the tests of the packages the change touches (with the root's
installation), else the root package's. For each, `bot.testing.node_script` says which runner
and which checks `scripts.test` holds; the runner runs in the package's directory with its own
configuration (ts-jest, vitest, tsx, ...) and writes its machine-readable report to
`.draftsmith/`, read by `bot.sandbox.node_reports`. Chosen files (the new tests alone, on the
base and with the change) run through the runner's own file selection (`jest --runTestsByPath`,
vitest and mocha file arguments, `node --test FILE`), and only the cases of those files count
(mocha adds the files its configuration names). A check of `scripts.test` (`tsc`, `eslint`) is
a case of its own named `scripts.test check: <command>`, passed or failed by its exit code: a
check failing with the change and not on the base is a new failure, one failing on both is
already failing. Test counts are the runner's alone. A run of chosen files can also record the
changed sources' coverage with the runner's own (bot.testing.node_coverage).
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.environment.node import package_of, touched_packages, workspace_packages
from bot.environment.workspace_builds import builds_needed, record_built
from bot.sandbox.base import ExecResult, Limits, Sandbox
from bot.sandbox.junit import JUnitCase, junit_cases
from bot.sandbox.node_reports import (
    UNKNOWN_FILE,
    FileResults,
    jest_results,
    mocha_load_error,
    mocha_results,
    mocha_stdout_report,
)
from bot.sandbox.runners import MAX_DETAILS, MAX_FAILURE_LINES, REPORT_DIR, Counts, read_report
from bot.shared.condense import join_bounded
from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import CaseResults, CaseStatus
from bot.testing.command import EXIT_CODE
from bot.testing.node_coverage import NodeCoverage
from bot.testing.node_script import NodeTestSetup, Runner, detect_test_setup, unquote

logger = logging.getLogger(__name__)

CHECK_PREFIX = "scripts.test check"
BUILD_PREFIX = "workspace build"
SCRIPT_CASE = "scripts.test (judged by its exit code)"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class NodeTarget:
    """One package whose tests run: its directory (relative; "" for the root) and its setup."""

    directory: str
    setup: NodeTestSetup


def node_targets(root: Path, touched: Sequence[str]) -> list[NodeTarget]:
    """The packages to test: those of a workspace the change touches, else the root package.

    A workspace change that touches no package (only root files) tests the root package when
    it has tests of its own, else every package."""
    packages = touched_packages(root, list(touched))
    if not packages and workspace_packages(root):
        root_setup = detect_test_setup(root)
        if root_setup.notes and "no scripts.test" not in root_setup.notes[0]:
            return [NodeTarget("", root_setup)]
        packages = workspace_packages(root)
    if not packages:
        return [NodeTarget("", detect_test_setup(root))]
    return [NodeTarget(p, detect_test_setup(root / p, root)) for p in packages]


def target_notes(root: Path, touched: Sequence[str]) -> list[str]:
    """What the evidence says about which packages ran which runner, and why."""
    notes: list[str] = []
    for target in node_targets(root, touched):
        notes += [f"{where(target.directory)}: {note}" for note in target.setup.notes]
    return notes


def where(directory: str) -> str:
    """A package directory as the evidence names it."""
    return f"package {directory}" if directory else "the root package"


def _report_path(root: Path, index: int, runner: Runner) -> str:
    suffix = "xml" if runner is Runner.node_test else "json"
    return f"{REPORT_DIR}/node-{index}-{runner.name}.{suffix}"


def runner_script(setup: NodeTestSetup, report: Path, files: Sequence[str] | None) -> str:
    """The shell line that runs the runner with its reporter, on `files` or its own specs."""
    chosen = [shlex.quote(f) for f in files] if files is not None else setup.specs
    launcher = [shlex.quote(w) for w in setup.launcher]
    out = shlex.quote(str(report))
    if setup.runner is Runner.jest:  # its options reach it through JEST_RUN, not process.argv
        select = ["--runTestsByPath"] if files is not None else []
        arguments = [*setup.options, "--ci", "--json", f"--outputFile={report}", *select]
        arguments += list(files) if files is not None else setup.specs
        node = launcher[:-1] if Path(setup.launcher[-1]).name.startswith("jest") else launcher
        node = node if node and node[0] == "node" else ["node"]
        given = json.dumps([unquote(a) for a in arguments])
        runs = shlex.quote(str(report.parent / JEST_RUN_NAME))
        return " ".join([*setup.env, f"{JEST_ARGS}={shlex.quote(given)}", "exec", *node, runs])
    elif setup.runner is Runner.vitest:
        parts = [*launcher, "run", "--reporter=json", f"--outputFile={out}", *setup.options]
    elif setup.runner is Runner.mocha:
        ours = ["--reporter", "json", "--reporter-option", f"output={out}"]
        parts = [*launcher, *setup.options, *ours]
    else:
        ours = ["--test-reporter=junit", f"--test-reporter-destination={out}"]
        ours += ["--test-reporter=spec", "--test-reporter-destination=stdout"]
        parts = [*launcher, *setup.options, "--test", *ours]
    return " ".join([*setup.env, "exec", *parts, *chosen])


JEST_RUN_NAME = "jest-run.js"
JEST_ARGS = "DRAFTSMITH_JEST_ARGS"
JEST_RUN = f"""// Draftsmith: the project's jest, its options given through {JEST_ARGS}, so
// that tests reading process.argv (a CLI library's) see what they see under `jest` alone.
const jest = require(require.resolve("jest", {{ paths: [process.cwd()] }}));
jest.run(JSON.parse(process.env.{JEST_ARGS} || "[]"));
"""


def _environment(root: Path, directory: str) -> dict[str, str]:
    bins = [str(root / directory / "node_modules" / ".bin")] if directory else []
    bins.append(str(root / "node_modules" / ".bin"))
    # nothing else: a variable such as FORCE_COLOR or CI changes what the project's tests see
    # (commander.js tests colour detection through FORCE_COLOR)
    return {"PATH": ":".join([*bins, SYSTEM_PATH])}


async def _shell(
    sandbox: Sandbox, root: Path, directory: str, line: str, limits: Limits
) -> ExecResult:
    where = shlex.quote(str(root / directory)) if directory else shlex.quote(str(root))
    return await sandbox.run(
        ["sh", "-c", f"cd {where} && {line}"],
        workdir=root,
        limits=limits,
        env=_environment(root, directory),
    )


def _read(
    runner: Runner, root: Path, relative: str, result: ExecResult, files: Sequence[str] | None
) -> tuple[FileResults | None, str | None]:
    """The report's cases, or why there are none."""
    text = read_report(root, relative)
    if runner is Runner.mocha and (text is None or not text.strip()):
        text = mocha_stdout_report(result.stdout)
    if text is None or not text.strip():
        output = (result.stdout + "\n" + result.stderr).strip()
        if files and result.limit_hit is None and result.exit_code != 0:
            # chosen test files that end the runner before its report (mocha cannot load one; a
            # test that calls process.exit on the base, where what it tests does not exist
            # yet): those files failed, as a module pytest could not collect
            errors = mocha_load_error(output, list(files)) if runner is Runner.mocha else {}
            tail = f"{runner.value} ended (exit {result.exit_code}) before its report:\n"
            return FileResults(
                load_errors=errors or {f: tail + output[-2000:] for f in files}
            ), None
        return None, f"{runner.value} wrote no report"
    try:
        if runner is Runner.node_test:
            return FileResults(cases=junit_cases(text)), None
        if runner is Runner.mocha:
            return mocha_results(text, root, files[0] if files and len(files) == 1 else None), None
        return jest_results(text, root), None
    except ValueError as exc:  # JUnitReportError is one
        return None, f"{runner.value}'s report could not be read: {exc}"


def failure_text(case: JUnitCase) -> str:
    """A failing case, its message and the first lines of what the runner said (the assertion
    and the test's own frames come first in JavaScript stacks)."""
    lines = [line for line in case.text.strip().splitlines() if line.strip()]
    head = f"{case.name}: {case.message.strip()}" if case.message.strip() else case.name
    return "\n".join([head, *lines[:MAX_FAILURE_LINES]])


def _count(counts: Counts, results: CaseResults, cases: list[JUnitCase]) -> None:
    for case in cases:
        if case.outcome in ("failed", "error"):
            counts.failed += case.outcome == "failed"
            counts.errors += case.outcome == "error"
            counts.failures.append(failure_text(case))
        elif case.outcome == "skipped":
            counts.skipped += 1
        else:
            counts.passed += 1
        results.cases[case.name] = CaseStatus(case.outcome)


async def run_node_tests(
    sandbox: Sandbox,
    root: Path,
    limits: Limits,
    touched: Sequence[str],
    *,
    files: Sequence[str] | None = None,
    checks: bool = True,
    coverage: NodeCoverage | None = None,
) -> tuple[TestReport, CaseResults]:
    """Run the project's runner(s) on the suite (`files` None) or on chosen test files;
    `coverage` records what runs of chosen files execute of the changed sources."""
    (root / REPORT_DIR).mkdir(exist_ok=True)
    counts, results = Counts(), CaseResults()
    commands: list[str] = []
    problems: list[str] = []
    failed_exit, duration, limit_hit, exit_code_only = False, 0.0, None, True
    targets = node_targets(root, touched)
    groups: list[tuple[NodeTarget, list[str] | None]] = [(t, None) for t in targets]
    if files is not None:
        packages = [t.directory for t in targets if t.directory] + workspace_packages(root)
        by_package: dict[str, list[str]] = {}
        for path in files:
            by_package.setdefault(package_of(path, sorted(set(packages))) or "", []).append(path)
        setups = {t.directory: t.setup for t in targets}
        groups = [
            (NodeTarget(d, setups.get(d) or detect_test_setup(root / d, root)), paths)
            for d, paths in sorted(by_package.items())
        ]
    built: set[str] = set()
    for index, (target, paths) in enumerate(groups):
        directory, setup = target.directory, target.setup
        local = [p.removeprefix(directory + "/") if directory else p for p in paths or []]
        # the sibling packages it imports through their builds (bot.environment.workspace_builds)
        for sibling in [b for b in builds_needed(root, directory) if b not in built]:
            built.add(sibling)
            record_built(root, [sibling])
            commands.append(f"(cd {sibling} && npm run build)")
            into = results if files is None else CaseResults()  # a case of the suite's run only
            duration += await _check(
                sandbox, root, sibling, "npm run build", limits, counts, into, BUILD_PREFIX
            )
        for line in setup.before if checks and files is None else []:
            commands.append(f"(cd {directory or '.'} && {line})")
            duration += await _check(sandbox, root, directory, line, limits, counts, results)
        if setup.runner is Runner.script:
            if paths is None:  # the whole script, judged by its exit code, as a check
                commands.append(f"(cd {directory or '.'} && npm test)")
                duration += await _check(
                    sandbox, root, directory, "npm test", limits, counts, results, SCRIPT_CASE
                )
            else:
                problems.append(f"{where(directory)}: `npm test` cannot run chosen test files")
                if coverage is not None:
                    coverage.instrument(root, directory, index, setup)  # notes it is unknown
            continue
        exit_code_only = False
        relative = _report_path(root, index, setup.runner)
        (root / relative).unlink(missing_ok=True)
        if setup.runner is Runner.jest:
            (root / REPORT_DIR / JEST_RUN_NAME).unlink(missing_ok=True)
            (root / REPORT_DIR / JEST_RUN_NAME).write_text(JEST_RUN)
        measured = setup
        if coverage is not None and paths is not None:
            measured = coverage.instrument(root, directory, index, setup)
        line = runner_script(measured, root / relative, local if paths is not None else None)
        commands.append(f"(cd {directory or '.'} && {line})")
        result = await _shell(sandbox, root, directory, line, limits)
        if coverage is not None and paths is not None:
            coverage.collect(root, directory, index, setup.runner)
        duration += result.duration_s
        limit_hit = limit_hit or result.limit_hit
        found, why = _read(setup.runner, root, relative, result, paths)
        if found is None:
            tail = (result.stderr or result.stdout).strip()[-1500:]
            problems.append(f"{why} (exit {result.exit_code})\n{tail}")
            failed_exit = True
        else:
            cases, load_errors = found.cases, found.load_errors
            if paths is not None:  # only the chosen files count (mocha adds its config's spec)
                prefixes = tuple(f"{p}::" for p in paths)
                named = not any(c.name.startswith(f"{UNKNOWN_FILE}::") for c in cases)
                if setup.runner is not Runner.node_test and named:  # node's JUnit and mocha
                    cases = [c for c in cases if c.name.startswith(prefixes)]  # < 8 name none
                load_errors = {f: m for f, m in load_errors.items() if f in paths}
            _count(counts, results, cases)
            for file, message in load_errors.items():
                results.collection_errors[file] = message[-2000:]
                counts.errors += 1
                counts.failures.append(f"{file}: the test file failed to load\n{message[-800:]}")
            failed_exit = failed_exit or result.exit_code != 0
        for line in setup.after if checks and files is None else []:
            commands.append(f"(cd {directory or '.'} && {line})")
            duration += await _check(sandbox, root, directory, line, limits, counts, results)
    report, _ = _node_report(counts, results, commands, problems, failed_exit, duration, limit_hit)
    if exit_code_only and files is None:
        report = report.model_copy(update={"judged_by": EXIT_CODE})
    return report, results


async def _check(
    sandbox: Sandbox,
    root: Path,
    directory: str,
    line: str,
    limits: Limits,
    counts: Counts,
    results: CaseResults,
    prefix: str = CHECK_PREFIX,
) -> float:
    """Run one check of scripts.test; a case of its own, judged by its exit code."""
    result = await _shell(sandbox, root, directory, line, limits)
    inside = f" (in {directory})" if directory else ""
    name = f"{prefix}{inside}: {line}"
    results.cases[name] = CaseStatus.passed if result.ok else CaseStatus.failed
    if not result.ok:
        tail = (result.stdout[-1200:] + "\n" + result.stderr[-1200:]).strip()
        why = f"the sandbox's {result.limit_hit} limit" if result.limit_hit else "its exit code"
        counts.failures.append(f"{name}: failed by {why} ({result.exit_code})\n{tail}")
    return result.duration_s


def _node_report(
    counts: Counts,
    results: CaseResults,
    commands: list[str],
    problems: list[str],
    failed_exit: bool,
    duration: float,
    limit_hit: object,
) -> tuple[TestReport, CaseResults]:
    details = [*problems, *counts.failures]
    if limit_hit is not None:
        details.insert(0, f"the sandbox stopped the run: {limit_hit} limit")
    failing = results.failing()
    checks_failed = any(
        name.startswith((CHECK_PREFIX, SCRIPT_CASE, BUILD_PREFIX)) for name in failing
    )
    if problems and not results.cases and not results.collection_errors:
        status = TestStatus.error
    elif counts.failed or checks_failed:  # as pytest's report: failures first, then errors
        status = TestStatus.failed
    elif counts.errors or limit_hit is not None or failed_exit:
        status = TestStatus.error
    else:
        status = TestStatus.passed
    report = TestReport(
        status=status,
        tests_passed=counts.passed,
        tests_failed=counts.failed + counts.errors,
        tests_skipped=counts.skipped,
        failure_details=join_bounded(details, MAX_DETAILS),
        command=" ; ".join(commands),
        duration_s=round(duration, 3),
    )
    return report, results
