"""Go in the sandbox: `go test -json` per test, and `go vet` findings in a typed form.

Standard library only: the module proxy is off (`GOPROXY=off`), the toolchain is the machine's
(`GOTOOLCHAIN=local`), cgo is off. The build cache and GOPATH live in the workdir's report
directory (ignored by git), so later commands of a run reuse what earlier ones compiled.
`go test -json` events are kept in `.draftsmith/go-test.json`: per-test results come from
them, never from the model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.sandbox.base import ExecResult, Limits, Sandbox

logger = logging.getLogger(__name__)

SCRATCH = ".draftsmith"
GO_TEST_REPORT = f"{SCRATCH}/go-test.json"
_TEST_FUNC = re.compile(r"^func\s+(Test[A-Z_0-9]\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)
_PLAIN_FAIL = re.compile(r"^FAIL\t(?P<package>\S+) \[(build|setup) failed\]$")
_POSITION = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<msg>.+)$")


def go_env(workdir: Path) -> dict[str, str]:
    """The environment of every Go command in the sandbox for `workdir`."""
    ignore_scratch(workdir)
    return {
        "GOCACHE": str(workdir / SCRATCH / "go" / "cache"),
        "GOPATH": str(workdir / SCRATCH / "go" / "path"),
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        "GOFLAGS": "-buildvcs=false",
        "CGO_ENABLED": "0",
    }


def ignore_scratch(workdir: Path) -> None:
    """Keep the scratch directory out of commits (`git add --all` of a later revision)."""
    exclude = workdir / ".git" / "info" / "exclude"
    if not (workdir / ".git").is_dir():
        return  # a linked worktree shares its main repository's exclude file
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text() if exclude.exists() else ""
    if f"{SCRATCH}/" in current.splitlines():
        return
    separator = "" if not current or current.endswith("\n") else "\n"
    exclude.write_text(f"{current}{separator}{SCRATCH}/\n")


def go_test_names(text: str) -> list[str]:
    """The `TestXxx(t *testing.T)` functions declared in a Go test file's text."""
    return _TEST_FUNC.findall(text)


def packages_of(paths: Sequence[str]) -> list[str]:
    """The package patterns (`./dir`) holding the given Go files."""
    dirs = sorted({str(Path(p).parent) for p in paths})
    return ["./" if d == "." else f"./{d}" for d in dirs]


async def go_test(
    sandbox: Sandbox,
    workdir: Path,
    limits: Limits,
    *,
    packages: Sequence[str] = ("./...",),
    tests: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[list[str], ExecResult]:
    """Run `go test -json` (only `tests` when given); its events are kept in GO_TEST_REPORT."""
    command = ["go", "test", "-json", "-count=1"]
    if tests:
        command.append("-run=^(" + "|".join(re.escape(t) for t in tests) + ")$")
    command += list(packages)
    report = workdir / GO_TEST_REPORT
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    result = await sandbox.run(
        command, workdir=workdir, limits=limits, env={**go_env(workdir), **(env or {})}
    )
    report.write_text(result.stdout)
    return command, result


def go_cases(text: str) -> dict[str, bool]:
    """Each test of `go test -json` events (`package.TestName`) and whether it passed."""
    return {name: action == "pass" for name, action in go_outcomes(text)[0].items()}


def go_outcomes(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """From `go test -json` events: each test (`package.TestName`) and how it ended (pass, fail
    or skip), and each package that failed with no test run (it did not build, or TestMain or
    init failed) with its output."""
    cases: dict[str, str] = {}
    failed: set[str] = set()
    ran: set[str] = set()
    output: dict[str, str] = {}
    for line in text.splitlines():
        plain = _PLAIN_FAIL.match(line)  # before Go 1.24 a build failure is a plain line
        if plain:
            failed.add(plain["package"])
            output[plain["package"]] = line
            continue
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        test, action = event.get("Test"), event.get("Action")
        package = str(event.get("Package") or event.get("ImportPath") or "")
        if test and action in ("pass", "fail", "skip"):
            cases[f"{package}.{test}"] = str(action)
            ran.add(package)
        elif not test and action in ("output", "build-output"):
            output[package] = (output.get(package, "") + str(event.get("Output", "")))[-2000:]
        elif not test and action == "fail":
            failed.add(package)
    broken = {p: output.get(p, "") or "the package failed" for p in sorted(failed - ran)}
    return cases, broken


@dataclass(frozen=True)
class VetFinding:
    """One `go vet` finding: the analyzer (`rule`), where, and what it says."""

    rule: str
    file: str
    line: int
    column: int | None
    message: str


def parse_go_vet(text: str, workdir: Path) -> list[VetFinding]:
    """Findings from `go vet -json` output (JSON per package, `# pkg` lines, and plain
    `file:line:col: message` lines for packages that do not type-check)."""
    findings: list[VetFinding] = []
    decoder = json.JSONDecoder()
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    index = 0
    while index < len(body):
        if body[index].isspace():
            index += 1
            continue
        if body[index] != "{":
            end = body.find("\n", index)
            end = len(body) if end == -1 else end
            plain = _POSITION.match(body[index:end].strip().removeprefix("vet: "))
            if plain:
                findings.append(_finding("typecheck", plain["file"], plain["line"],
                                         plain["col"], plain["msg"], workdir))  # fmt: skip
            index = end + 1
            continue
        try:
            data, index = decoder.raw_decode(body, index)
        except ValueError:
            index = body.find("\n", index) + 1 or len(body)
            continue
        for analyzers in data.values():
            for rule, items in analyzers.items():
                if not isinstance(items, list):  # {"error": "..."} for a broken package
                    findings.append(_finding(rule, "", "0", None, str(items), workdir))
                    continue
                for item in items:
                    where = _POSITION.match(f"{item.get('posn', '')}: x")
                    file, line, col = (where["file"], where["line"], where["col"]) if where else (
                        "", "0", None)  # fmt: skip
                    findings.append(_finding(rule, file, line, col, item["message"], workdir))
    return findings


def _finding(
    rule: str, file: str, line: str, col: str | None, message: str, workdir: Path
) -> VetFinding:
    path = Path(file)
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            file = str(path.relative_to(workdir))
    return VetFinding(rule, file.removeprefix("./"), int(line), int(col) if col else None,
                      message.strip())  # fmt: skip
