"""Static analysis of changed files, run in the sandbox: syntax of Python and JavaScript, and
`go vet` of a Go module (its typed findings in `Analysis.go_vet`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.contracts import ReviewIssue, Severity
from bot.sandbox.base import ExecResult, Limits, Sandbox
from bot.sandbox.golang import VetReport, go_vet

PY_CHECK = (
    "import ast, sys\n"
    "bad = 0\n"
    "for f in sys.argv[1:]:\n"
    "    try:\n"
    "        ast.parse(open(f, encoding='utf-8').read(), f)\n"
    "    except SyntaxError as e:\n"
    "        bad = 1\n"
    "        print(f'{e.filename}:{e.lineno}: SyntaxError: {e.msg}')\n"
    "sys.exit(bad)\n"
)
_LOCATION = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+)")
JS_SUFFIXES = (".js", ".mjs", ".cjs")


@dataclass
class Analysis:
    """What static analysis said: the commands' output and one issue per error found."""

    output: str = ""
    issues: list[ReviewIssue] = field(default_factory=list)
    results: list[tuple[list[str], ExecResult]] = field(default_factory=list)
    go_vet: VetReport | None = None


async def analyse(sandbox: Sandbox, workdir: Path, changed: list[str], limits: Limits) -> Analysis:
    """Check the syntax of changed Python and JavaScript files that still exist."""
    analysis = Analysis()
    existing = [p for p in changed if (workdir / p).is_file()]
    python = [p for p in existing if p.endswith(".py")]
    if python:
        await _check(analysis, sandbox, workdir, ["python3", "-c", PY_CHECK, *python], limits)
    for path in (p for p in existing if p.endswith(JS_SUFFIXES)):
        await _check(analysis, sandbox, workdir, ["node", "--check", path], limits, path)
    go_files = [p for p in existing if p.endswith(".go")]
    if go_files and (workdir / "go.mod").is_file():
        await _vet(analysis, sandbox, workdir, set(go_files), limits)
    if not analysis.output:
        analysis.output = "no errors" if existing else "no files to analyse"
    return analysis


async def _check(
    analysis: Analysis,
    sandbox: Sandbox,
    workdir: Path,
    command: list[str],
    limits: Limits,
    path: str | None = None,
) -> None:
    result = await sandbox.run(command, workdir=workdir, limits=limits)
    analysis.results.append((command, result))
    if result.exit_code == 0:
        return
    text = (result.stdout + result.stderr).strip()
    analysis.output += f"$ {command[0]} {'--check ' + path if path else '(syntax)'}\n{text}\n"
    for line in text.splitlines() or [text]:
        match = _LOCATION.match(line)
        if path is None and match is None:
            continue
        analysis.issues.append(
            ReviewIssue(
                severity=Severity.high,
                category="static-analysis",
                file=match.group("file") if match else path,
                line=int(match.group("line")) if match else None,
                problem=line.strip()[:500] or f"{command[0]} failed",
                recommended_fix="fix the syntax error so the file parses",
            )
        )
        if path is not None:
            break


async def _vet(
    analysis: Analysis, sandbox: Sandbox, workdir: Path, changed: set[str], limits: Limits
) -> None:
    """`go vet` of the module; a finding in a changed file (or a package that does not build)
    becomes a review issue."""
    vet = await go_vet(sandbox, workdir, limits)
    analysis.go_vet = vet
    if not vet.ran:
        analysis.output += f"$ go vet ./... did not finish (exit {vet.exit_code})\n"
        analysis.output += vet.output[-2000:] + "\n"
    for finding in vet.findings:
        analysis.output += f"go vet [{finding.rule}] {finding.file}:{finding.line}: "
        analysis.output += finding.message + "\n"
        if finding.file and finding.file not in changed:
            continue
        broken = finding.rule == "typecheck"
        analysis.issues.append(
            ReviewIssue(
                severity=Severity.high if broken else Severity.medium,
                category="static-analysis",
                file=finding.file or None,
                line=finding.line or None,
                problem=f"go vet [{finding.rule}]: {finding.message}"[:500],
                recommended_fix="make the package build" if broken else "fix what go vet reports",
            )
        )
