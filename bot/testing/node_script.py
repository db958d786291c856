"""Which test runner a JavaScript/TypeScript package uses, read from its `scripts.test`.

`scripts.test` is split at `&&`, `||` and `;`. The segment that starts a known runner (jest,
vitest, mocha, `node --test`, `tsx --test`; behind `cross-env`, `npx`, `nyc`, `c8`, or `npm run`
of another script, followed) is the runner: Draftsmith runs it with the runner's own
machine-readable reporter. Every other segment (`tsc --noEmit`, `eslint .`, `npm run build`) is
a check of its own, run as written in the same order around the runner and judged by its exit
code. A `scripts.test` that starts no runner Draftsmith knows (karma, ava, react-scripts) runs as
`npm test`, judged by its exit code. Without `scripts.test` (or with npm's placeholder) the
package's (or the workspace root's) devDependencies decide, then `node --test`. The notes say
which way it went. Tokens keep their quotes, so a
quoted glob (`'test/**/*.js'`) still reaches the runner unexpanded, as under `npm test`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.environment.node import read_manifest


class Runner(StrEnum):
    """The test runners Draftsmith reads per-test results from."""

    jest = "jest"
    vitest = "vitest"
    mocha = "mocha"
    node_test = "node --test"
    script = "npm test"
    """scripts.test as written, judged by its exit code (no runner Draftsmith reads)."""


RUNNER_BINARIES = {"jest": Runner.jest, "vitest": Runner.vitest, "mocha": Runner.mocha,
                   "_mocha": Runner.mocha, "ts-mocha": Runner.mocha}  # fmt: skip
CONFIG_FILES = {
    Runner.jest: ("jest.config.js", "jest.config.ts", "jest.config.mjs", "jest.config.cjs",
                  "jest.config.json"),
    Runner.vitest: ("vitest.config.ts", "vitest.config.js", "vitest.config.mts",
                    "vitest.config.mjs", "vite.config.ts", "vite.config.js"),
    Runner.mocha: (".mocharc.js", ".mocharc.cjs", ".mocharc.json", ".mocharc.jsonc",
                   ".mocharc.yml", ".mocharc.yaml"),
}  # fmt: skip
WRAPPERS = ("nyc", "c8", "npx", "pnpx", "cross-env", "dotenv", "env")
OPERATORS = ("&&", "||", ";", "|", "&")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SCRIPT_CALL = {"npm": ("run", "run-script", "test", "t"), "pnpm": ("run", "test", "t"),
               "yarn": ("run", "test")}  # fmt: skip
MAX_DEPTH = 5
# Options of each runner that are Draftsmith's to set (reporters, output) or that would not end
# (watch modes), each with whether it takes a separate value.
DROPPED: dict[Runner, dict[str, bool]] = {
    Runner.jest: {"--watch": False, "--watchAll": False, "--json": False, "--outputFile": True,
                  "--reporters": True, "--coverage": False, "--collectCoverage": False,
                  "--bail": False, "-b": False},
    Runner.vitest: {"--watch": False, "-w": False, "--reporter": True, "--outputFile": True,
                    "--coverage": False, "--ui": False, "--run": False, "--bail": True},
    Runner.mocha: {"--reporter": True, "-R": True, "--reporter-option": True, "-O": True,
                   "--reporter-options": True, "--watch": False, "-w": False, "--bail": False,
                   "-b": False},
    Runner.node_test: {"--test-reporter": True, "--test-reporter-destination": True,
                       "--watch": False, "--experimental-test-coverage": False},
    Runner.script: {},
}  # fmt: skip
# Stopping at the first failure: dropped, since the evidence needs every test's result on the base
# (a test that never ran there proves nothing) and every failure of the change.
BAIL = frozenset({"--bail", "-b"})
# Options that take a separate value, so that the value is not read as a test file.
VALUED: dict[Runner, frozenset[str]] = {
    Runner.jest: frozenset({"-c", "--config", "-t", "--testNamePattern", "--testPathPattern",
                            "--testPathIgnorePatterns", "-w", "--maxWorkers", "--rootDir",
                            "--roots", "--selectProjects", "--testEnvironment", "--testTimeout",
                            "--shard", "--seed"}),
    Runner.vitest: frozenset({"-c", "--config", "-r", "--root", "--dir", "--environment",
                              "--project", "--pool", "-t", "--testNamePattern", "--maxWorkers",
                              "--mode", "--shard"}),
    Runner.mocha: frozenset({"-r", "--require", "-t", "--timeout", "-s", "--slow", "-u", "--ui",
                             "--extension", "--config", "--package", "--file", "--ignore",
                             "--exclude", "-g", "--grep", "-f", "--fgrep", "--spec", "-j",
                             "--jobs", "-n", "--node-option", "--retries", "--loader"}),
    Runner.node_test: frozenset({"--import", "--require", "-r", "--loader",
                                 "--experimental-loader", "--test-name-pattern",
                                 "--test-concurrency", "--test-timeout", "--env-file"}),
    Runner.script: frozenset(),
}  # fmt: skip
PLACEHOLDER = "no test specified"  # npm init's scripts.test: `echo "Error: no test specified" ...`


@dataclass
class NodeTestSetup:
    """How a package's tests run: the runner, its launcher and options, and the other checks."""

    runner: Runner
    launcher: list[str]
    """How the runner starts: `["jest"]` (a node_modules/.bin name), `["node", "--import",
    "tsx"]` for `node --test`, `["node", "--experimental-vm-modules", "node_modules/..."]`."""
    options: list[str] = field(default_factory=list)
    """The runner's own options from scripts.test (quoted as written), reporters excluded."""
    specs: list[str] = field(default_factory=list)
    """Test files, globs or patterns scripts.test names (quoted as written)."""
    env: list[str] = field(default_factory=list)
    """`NAME=value` assignments before the runner (as written)."""
    before: list[str] = field(default_factory=list)
    """Commands scripts.test runs before the runner (each a check of its own)."""
    after: list[str] = field(default_factory=list)
    """Commands scripts.test runs after the runner (each a check of its own)."""
    notes: list[str] = field(default_factory=list)


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=False, punctuation_chars="&|;")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: whitespace split as the last resort
        return text.split()


def unquote(token: str) -> str:
    """A token as the shell passes it (`'a b'` -> `a b`)."""
    try:
        parts = shlex.split(token)
    except ValueError:
        return token
    return parts[0] if len(parts) == 1 else token


def _segments(text: str) -> list[list[str]]:
    segments: list[list[str]] = [[]]
    for token in _tokens(text):
        if token in OPERATORS or set(token) <= set("&|;"):
            segments.append([])
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def _strip_prefixes(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(env assignments, the command) with wrappers such as cross-env, npx or nyc removed."""
    env: list[str] = []
    rest = list(tokens)
    while rest:
        word = unquote(rest[0])
        if ENV_ASSIGNMENT.match(word):
            env.append(rest.pop(0))
        elif word in WRAPPERS:
            rest.pop(0)
            while rest and unquote(rest[0]).startswith("-") and unquote(rest[0]) != "--":
                rest.pop(0)
            if rest and unquote(rest[0]) == "--":
                rest.pop(0)
        elif word in ("pnpm", "yarn") and len(rest) > 1 and unquote(rest[1]) in ("exec", "dlx"):
            rest = rest[2:]
        else:
            break
    return env, rest


def _script_called(command: list[str], scripts: dict[str, Any]) -> str | None:
    """The package script a segment runs (`npm run x`, `pnpm x`, `yarn test`), if any."""
    words = [unquote(t) for t in command]
    if len(words) < 2 or words[0] not in SCRIPT_CALL:
        return None
    verb = words[1]
    if verb in ("test", "t"):
        return "test"
    if verb in SCRIPT_CALL[words[0]] and len(words) > 2:
        return words[2]
    if words[0] in ("pnpm", "yarn") and verb in scripts:
        return verb
    return None


def _runner_of(command: list[str]) -> tuple[Runner, list[str], list[str]] | None:
    """(runner, launcher, the runner's arguments) when a command starts a known runner."""
    words = [unquote(t) for t in command]
    program = Path(words[0]).name
    if program in RUNNER_BINARIES:
        return RUNNER_BINARIES[program], [words[0]], command[1:]
    if program == "tsx" and "--test" in words:
        at = words.index("--test")
        return Runner.node_test, ["node", "--import", "tsx", *words[1:at]], command[at + 1 :]
    if program != "node":
        return None
    for at, word in enumerate(words[1:], start=1):
        if word == "--test":
            return Runner.node_test, words[:at], command[at + 1 :]
        name = Path(word).name.removesuffix(".js").removesuffix(".mjs").removesuffix(".cjs")
        if not word.startswith("-") and name in RUNNER_BINARIES:
            return RUNNER_BINARIES[name], words[: at + 1], command[at + 1 :]
    return None


def _split_arguments(runner: Runner, arguments: list[str]) -> tuple[list[str], list[str]]:
    """(options kept, specs) of a runner's arguments, Draftsmith's own options dropped."""
    options: list[str] = []
    specs: list[str] = []
    dropped, valued = DROPPED[runner], VALUED[runner]
    index = 0
    while index < len(arguments):
        token = arguments[index]
        word = unquote(token)
        name = word.split("=", 1)[0]
        index += 1
        if name in dropped:
            if dropped[name] and "=" not in word and index < len(arguments):
                index += 1
            elif name in BAIL and index < len(arguments) and unquote(arguments[index]).isdigit():
                index += 1  # jest's `--bail 3`
            continue
        if runner is Runner.vitest and word in ("run", "watch", "dev") and not specs:
            continue
        if runner is Runner.node_test and word == "--test":
            continue
        if word.startswith("-"):
            options.append(token)
            if name in valued and "=" not in word and index < len(arguments):
                options.append(arguments[index])
                index += 1
        else:
            specs.append(token)
    return options, specs


def _expand(text: str, scripts: dict[str, Any], depth: int = 0) -> list[list[str]]:
    """The segments of a script, with `npm run <script>` segments replaced by that script's."""
    out: list[list[str]] = []
    for segment in _segments(text):
        env, command = _strip_prefixes(segment)
        called = _script_called(command, scripts) if command else None
        body = scripts.get(called) if called else None
        if isinstance(body, str) and depth < MAX_DEPTH and _has_runner(body, scripts, depth + 1):
            out += [[*env, *s] for s in _expand(body, scripts, depth + 1)]
        else:
            out.append(segment)
    return out


def _has_runner(text: str, scripts: dict[str, Any], depth: int) -> bool:
    for segment in _expand(text, scripts, depth):
        _, command = _strip_prefixes(segment)
        if command and _runner_of(command) is not None:
            return True
    return False


def parse_test_script(text: str, scripts: dict[str, Any] | None = None) -> NodeTestSetup | None:
    """The runner and checks of a `scripts.test` text; None when it starts no known runner."""
    scripts = scripts or {}
    segments = _expand(text, scripts)
    for position, segment in enumerate(segments):
        env, command = _strip_prefixes(segment)
        found = _runner_of(command) if command else None
        if found is None:
            continue
        runner, launcher, arguments = found
        options, specs = _split_arguments(runner, arguments)
        return NodeTestSetup(
            runner=runner,
            launcher=launcher,
            options=options,
            specs=specs,
            env=env,
            before=[_check_line(s, scripts) for s in segments[:position]],
            after=[_check_line(s, scripts) for s in segments[position + 1 :]],
        )
    return None


def _check_line(segment: list[str], scripts: dict[str, Any]) -> str:
    """A check as the check phase can run it: pnpm and yarn are not there (corepack fetched them
    for setup only), so `pnpm lint`/`yarn run lint` run the same package script with npm
    (`npm run lint`), and `pnpm exec tsc`/`yarn tsc` the binary from node_modules/.bin."""
    leading = 0
    while leading < len(segment) and ENV_ASSIGNMENT.match(unquote(segment[leading])):
        leading += 1
    env, command = segment[:leading], segment[leading:]
    words = [unquote(t) for t in command]
    if not words or words[0] not in ("pnpm", "yarn"):
        return " ".join(segment)
    if len(words) > 2 and words[1] == "exec":
        return " ".join([*env, *command[2:]])
    called = _script_called(command, scripts)
    if called is not None and called in scripts:
        rest = command[command.index(next(t for t in command if unquote(t) == called)) + 1 :]
        return " ".join([*env, "npm", "run", called, *(["--", *rest] if rest else [])])
    return " ".join([*env, *command[1:]]) if len(command) > 1 else " ".join(segment)


def _from_dependencies(directory: Path, root: Path) -> Runner | None:
    """The runner a package (or its workspace root) depends on; one with a config file first."""
    declared: set[str] = set()
    for place in dict.fromkeys((directory, root)):
        manifest = read_manifest(place)
        for key in ("devDependencies", "dependencies"):
            value = manifest.get(key)
            if isinstance(value, dict):
                declared.update(value)
    candidates = [r for r in (Runner.jest, Runner.vitest, Runner.mocha) if r.value in declared]
    configured = [r for r in candidates if any((directory / f).exists() for f in CONFIG_FILES[r])]
    chosen = configured or candidates
    return chosen[0] if chosen else None


def detect_test_setup(directory: Path, root: Path | None = None) -> NodeTestSetup:
    """How the tests of the package at `directory` run (see the module docstring)."""
    root = root or directory
    manifest = read_manifest(directory)
    scripts = manifest.get("scripts") if isinstance(manifest.get("scripts"), dict) else {}
    assert isinstance(scripts, dict)
    text = scripts.get("test")
    if isinstance(text, str) and text.strip():
        setup = parse_test_script(text, scripts)
        if setup is not None:
            checks = len(setup.before) + len(setup.after)
            also = f"; {checks} other command(s) of it run as checks of their own" if checks else ""
            setup.notes.append(
                f"runner {setup.runner.value} from scripts.test `{text.strip()[:200]}`{also}"
            )
            return setup
    if isinstance(text, str) and text.strip() and PLACEHOLDER not in text:
        # karma, ava, react-scripts, a Makefile...: run as the project runs it, by its exit code
        return NodeTestSetup(
            Runner.script,
            ["npm", "test"],
            notes=[
                f"scripts.test `{text.strip()[:200]}` starts no runner Draftsmith reads "
                "per-test results from: ran `npm test`, judged by its exit code (no per-test "
                "results, so no fail-before/pass-after proof)"
            ],
        )
    runner = _from_dependencies(directory, root)
    said = "scripts.test is npm's placeholder" if text else "package.json has no scripts.test"
    if runner is not None:
        note = f"{said}: ran {runner.value}, declared in devDependencies"
        return NodeTestSetup(runner, [runner.value], notes=[note])
    return NodeTestSetup(
        Runner.node_test,
        ["node"],
        notes=[f"{said} and no jest, vitest or mocha dependency: ran `node --test`"],
    )
