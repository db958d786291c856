"""Which analysers a project would run on its own code, decided from its files.

Python: ruff with the project's configuration when it has one, else a small safe default
(pyflakes `F`, syntax `E9`, bugbear `B`); mypy or pyright only when the project configures them.
JavaScript/TypeScript: the project's eslint when configured, `tsc --noEmit` when there is a
`tsconfig.json`, `node --check` otherwise. Go: `go vet`. A tool comes from the project's prepared
environment (`.venv/`, `node_modules/`) when it is there, else from Draftsmith's read-only
toolbox (ruff only); what cannot run is named in `notes`, never silently skipped.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.analysis import parsers
from bot.analysis.findings import Finding
from bot.sandbox.golang import go_env
from bot.sandbox.runners import read_report

PY_SUFFIXES = (".py", ".pyi")
JS_SUFFIXES = (".js", ".jsx", ".mjs", ".cjs")
TS_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
RUFF_DEFAULT_RULES = "F,E9,B"
ESLINT_CONFIGS = (
    "eslint.config.js",
    "eslint.config.mjs",
    "eslint.config.cjs",
    "eslint.config.ts",
    ".eslintrc",
    ".eslintrc.js",
    ".eslintrc.cjs",
    ".eslintrc.json",
    ".eslintrc.yml",
    ".eslintrc.yaml",
)
CONFIG_FILES = (
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    "setup.cfg",
    "mypy.ini",
    ".mypy.ini",
    "pyrightconfig.json",
    "tsconfig.json",
    "package.json",
    *ESLINT_CONFIGS,
)
Parser = Callable[[str, Path], list[Finding]]


@dataclass(frozen=True)
class Analyser:
    """One analyser: its command, the files it takes and how to read what it prints."""

    name: str
    program: tuple[str, ...]
    parse: Parser
    source: str
    suffixes: tuple[str, ...] = ()
    """The changed files it checks; empty: it checks the whole tree."""
    ok_exits: frozenset[int] = frozenset({0, 1})
    stream: str = "stdout"
    per_file: bool = False
    env: dict[str, str] = field(default_factory=dict)

    def commands(self, files: list[str]) -> list[list[str]]:
        """The argv lists to run for `files` (the changed files present in the tree)."""
        if not self.suffixes:
            return [list(self.program)]
        mine = [f for f in files if f.endswith(self.suffixes)]
        if not mine:
            return []
        if self.per_file:
            return [[*self.program, f] for f in mine]
        return [[*self.program, *mine]]


@dataclass
class ToolPlan:
    """The analysers to run and what could not be analysed, and why."""

    analysers: list[Analyser] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def whole_tree(self) -> bool:
        """Whether some analyser reads the whole tree (else changed files and configs suffice)."""
        return any(
            not a.suffixes or a.name in ("mypy", "pyright", "eslint") for a in self.analysers
        )


def _read(root: Path, name: str) -> str:
    """A config file of the tree, read safely: the sandboxed test run could have replaced it
    with a symlink or a FIFO (then it reads as empty)."""
    return read_report(root, name) or ""


def _pyproject(root: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(_read(root, "pyproject.toml"))
    except tomllib.TOMLDecodeError:
        return {}
    tool = data.get("tool")
    return tool if isinstance(tool, dict) else {}


def _setup_cfg_has(root: Path, section: str) -> bool:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(_read(root, "setup.cfg"))
    except configparser.Error:
        return False
    return parser.has_section(section)


def _exists(root: Path, *names: str) -> bool:
    return any((root / n).is_file() for n in names)


def _tool(root: Path, *candidates: str) -> str | None:
    return next((c for c in candidates if (root / c).is_file()), None)


def plan(root: Path, changed: list[str], toolbox_ruff: str | None) -> ToolPlan:
    """The analysers for the changed files of the tree at `root`."""
    result = ToolPlan()
    if any(p.endswith(PY_SUFFIXES) for p in changed):
        _python(root, toolbox_ruff, result)
    if any(p.endswith(JS_SUFFIXES + TS_SUFFIXES) for p in changed):
        _javascript(root, changed, result)
    if any(p.endswith(".go") for p in changed) and (root / "go.mod").is_file():
        result.analysers.append(
            Analyser(
                "go vet",
                ("go", "vet", "-json", "./..."),
                parsers.parse_go_vet,
                "the Go toolchain",
                stream="stderr",
                env=go_env(root),  # the same Go settings as the tests
            )
        )
    return result


def _python(root: Path, toolbox_ruff: str | None, result: ToolPlan) -> None:
    tool = _pyproject(root)
    venv_ruff = _tool(root, ".venv/bin/ruff")
    ruff = venv_ruff or toolbox_ruff
    if ruff is None:
        result.notes.append("ruff is not available in the sandbox: Python files not analysed")
    else:
        source = "the project's environment" if venv_ruff else "Draftsmith's toolbox"
        configured = "ruff" in tool or _exists(root, "ruff.toml", ".ruff.toml")
        common = ("check", "--no-cache", "--exit-zero", "--output-format=json")
        rules = (
            ("--force-exclude",) if configured else ("--isolated", "--select", RUFF_DEFAULT_RULES)
        )
        how = "the project's configuration" if configured else f"default rules {RUFF_DEFAULT_RULES}"
        result.analysers.append(
            Analyser(
                "ruff",
                (ruff, *common, *rules),
                parsers.parse_ruff,
                f"{source}, {how}",
                PY_SUFFIXES,
                frozenset({0}),
            )
        )
    if "mypy" in tool or _exists(root, "mypy.ini", ".mypy.ini") or _setup_cfg_has(root, "mypy"):
        mypy = _tool(root, ".venv/bin/mypy")
        if mypy is None:
            result.notes.append(
                "mypy is configured but not installed in the project's environment (.venv): not run"
            )
        else:
            args = (
                "--no-error-summary",
                "--show-error-codes",
                "--no-pretty",
                "--no-color-output",
                "--cache-dir=/dev/null",
            )
            result.analysers.append(
                Analyser(
                    "mypy",
                    (mypy, *args),
                    parsers.parse_mypy,
                    "the project's environment and configuration",
                    PY_SUFFIXES,
                )
            )
    if "pyright" in tool or _exists(root, "pyrightconfig.json"):
        pyright = _tool(root, "node_modules/.bin/pyright", ".venv/bin/pyright")
        if pyright is None:
            result.notes.append(
                "pyright is configured but not installed in the project's environment: not run"
            )
        else:
            result.analysers.append(
                Analyser(
                    "pyright",
                    (pyright, "--outputjson"),
                    parsers.parse_pyright,
                    "the project's environment and configuration",
                    PY_SUFFIXES,
                )
            )


def _eslint_configured(root: Path) -> bool:
    if _exists(root, *ESLINT_CONFIGS):
        return True
    return '"eslintConfig"' in _read(root, "package.json")


def _javascript(root: Path, changed: list[str], result: ToolPlan) -> None:
    if _eslint_configured(root):
        eslint = _tool(root, "node_modules/.bin/eslint")
        if eslint is None:
            result.notes.append("eslint is configured but not installed (node_modules): not run")
        else:
            result.analysers.append(
                Analyser(
                    "eslint",
                    (eslint, "-f", "json"),
                    parsers.parse_eslint,
                    "the project's node_modules and configuration",
                    JS_SUFFIXES + TS_SUFFIXES,
                )
            )
    tsc = _tool(root, "node_modules/.bin/tsc")
    if (root / "tsconfig.json").is_file() and tsc is not None:
        result.analysers.append(
            Analyser(
                "tsc",
                (tsc, "--noEmit", "--pretty", "false", "-p", "tsconfig.json"),
                parsers.parse_tsc,
                "the project's node_modules and tsconfig.json",
                ok_exits=frozenset({0, 1, 2}),
            )
        )
        return
    if any(p.endswith(TS_SUFFIXES) for p in changed):
        why = "no tsconfig.json" if tsc else "typescript is not installed (node_modules)"
        result.notes.append(f"TypeScript files not type-checked: {why}")
    if not any(p.endswith(JS_SUFFIXES) for p in changed):
        return
    result.analysers.append(
        Analyser(
            "node --check",
            ("node", "--check"),
            parsers.parse_node_check,
            "the system's node",
            JS_SUFFIXES,
            stream="stderr",
            per_file=True,
        )
    )
