"""Read each analyser's own output format into findings; paths become relative to the tree.

Every parser raises ValueError when the output is not what the tool writes, so a tool that
crashed or was cut off is reported as not run, never as "no findings".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.analysis.findings import Finding, Level
from bot.sandbox import golang

# Ruff has no severities: these rules mean the code cannot run as written.
RUFF_ERROR_PREFIXES = ("E9", "F63", "F7", "F82", "PLE")
_MYPY = re.compile(
    r"^(?P<file>[^:\n]+\.pyi?):(?P<line>\d+):(?:\d+:)? (?P<level>error|warning): "
    r"(?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)
_TSC = re.compile(
    r"^(?P<file>[^(\n]+)\((?P<line>\d+),\d+\): (?P<level>error|warning) "
    r"(?P<code>TS\d+): (?P<message>.*)$"
)
_NODE_LOCATION = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+)$")


def relative(path: str, tree: Path) -> str:
    """`path` relative to the analysed tree (tools print absolute or ./-prefixed paths)."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(tree).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix().removeprefix("./")


def ruff_level(code: str | None) -> Level:
    """Error for syntax errors and rules whose code cannot run (undefined names, ...)."""
    if code is None or code.startswith(RUFF_ERROR_PREFIXES):
        return "error"
    return "warning"


def parse_ruff(stdout: str, tree: Path) -> list[Finding]:
    """`ruff check --output-format=json`."""
    findings = []
    for item in json.loads(stdout or "[]"):
        code = item.get("code")
        findings.append(
            Finding(
                tool="ruff",
                rule=code or "syntax-error",
                file=relative(item["filename"], tree),
                line=(item.get("location") or {}).get("row"),
                message=item["message"],
                level=ruff_level(code),
            )
        )
    return findings


def parse_mypy(stdout: str, tree: Path) -> list[Finding]:
    """mypy's text output (`file:line: error: message  [code]`); notes are dropped."""
    findings = []
    for line in stdout.splitlines():
        match = _MYPY.match(line.strip())
        if match is None:
            continue
        level: Level = "error" if match.group("level") == "error" else "warning"
        findings.append(
            Finding(
                "mypy",
                match.group("code") or "mypy",
                relative(match.group("file"), tree),
                int(match.group("line")),
                match.group("message"),
                level,
            )
        )
    return findings


def parse_pyright(stdout: str, tree: Path) -> list[Finding]:
    """`pyright --outputjson`."""
    findings = []
    for item in json.loads(stdout)["generalDiagnostics"]:
        severity = item.get("severity")
        if severity not in ("error", "warning"):
            continue
        start = ((item.get("range") or {}).get("start") or {}).get("line")
        findings.append(
            Finding(
                "pyright",
                item.get("rule") or "pyright",
                relative(item["file"], tree),
                start + 1 if isinstance(start, int) else None,
                item["message"],
                "error" if severity == "error" else "warning",
            )
        )
    return findings


def parse_eslint(stdout: str, tree: Path) -> list[Finding]:
    """`eslint -f json`: severity 2 is an error, 1 a warning."""
    findings = []
    for result in json.loads(stdout):
        for message in result.get("messages", []):
            level: Level = "error" if message.get("severity") == 2 else "warning"
            rule = message.get("ruleId") or ("syntax-error" if message.get("fatal") else "eslint")
            findings.append(
                Finding(
                    "eslint",
                    rule,
                    relative(result["filePath"], tree),
                    message.get("line"),
                    message["message"],
                    level,
                )
            )
    return findings


def parse_tsc(stdout: str, tree: Path) -> list[Finding]:
    """`tsc --noEmit --pretty false`: `file(line,col): error TS1234: message`."""
    findings = []
    for line in stdout.splitlines():
        match = _TSC.match(line.strip())
        if match is None:
            continue
        level: Level = "error" if match.group("level") == "error" else "warning"
        findings.append(
            Finding(
                "tsc",
                match.group("code"),
                relative(match.group("file"), tree),
                int(match.group("line")),
                match.group("message"),
                level,
            )
        )
    return findings


def parse_node_check(output: str, tree: Path) -> list[Finding]:
    """`node --check FILE` (stderr): `path:line`, the source line, then `SyntaxError: ...`."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    located = next((m for m in map(_NODE_LOCATION.match, lines) if m is not None), None)
    message = next((t for t in lines if re.match(r"^\w*Error: ", t)), None)
    if located is None or message is None:
        raise ValueError("node --check failed without a syntax error")
    path = relative(located.group("file"), tree)
    return [
        Finding("node --check", "syntax-error", path, int(located.group("line")), message, "error")
    ]


def parse_go_vet(output: str, tree: Path) -> list[Finding]:
    """`go vet -json`: each analyzer's findings (`bot.sandbox.golang` reads Go's format); a package
    that does not type-check is an error, every other analyzer's finding a warning."""
    return [
        Finding(
            "go vet",
            f.rule,
            f.file,
            f.line or None,
            f.message,
            "error" if f.rule == "typecheck" else "warning",
        )
        for f in golang.parse_go_vet(output, tree)
    ]
