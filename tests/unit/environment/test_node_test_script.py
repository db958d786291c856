"""Which runner a package's tests use and what else its `scripts.test` runs (checks)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from bot.testing.node import node_targets, runner_script
from bot.testing.node_script import Runner, detect_test_setup, parse_test_script


@pytest.mark.parametrize(
    ("script", "runner", "launcher", "options", "specs"),
    [
        ("jest", Runner.jest, ["jest"], [], []),
        ("jest --coverage --runInBand", Runner.jest, ["jest"], ["--runInBand"], []),
        ("jest --watch -c jest.unit.js", Runner.jest, ["jest"], ["-c", "jest.unit.js"], []),
        ("jest --json --outputFile out.json src", Runner.jest, ["jest"], [], ["src"]),
        ("vitest", Runner.vitest, ["vitest"], [], []),
        ("vitest run --coverage --reporter=verbose", Runner.vitest, ["vitest"], [], []),
        ("vitest --run --project unit", Runner.vitest, ["vitest"], ["--project", "unit"], []),
        (
            "mocha 'test/**/*.spec.ts' --require ts-node/register",
            Runner.mocha,
            ["mocha"],
            ["--require", "ts-node/register"],
            ["'test/**/*.spec.ts'"],
        ),
        ("mocha -R spec --recursive test", Runner.mocha, ["mocha"], ["--recursive"], ["test"]),
        # stopping at the first failure leaves the base's other tests unrun: dropped
        (
            "mocha --reporter spec --bail --check-leaks test/",
            Runner.mocha,
            ["mocha"],
            ["--check-leaks"],
            ["test/"],
        ),
        ("jest -b --bail 3 src", Runner.jest, ["jest"], [], ["src"]),
        (
            "vitest run --bail 1 --project unit",
            Runner.vitest,
            ["vitest"],
            ["--project", "unit"],
            [],
        ),
        ("nyc --reporter=lcov mocha", Runner.mocha, ["mocha"], [], []),
        ("c8 mocha test/unit", Runner.mocha, ["mocha"], [], ["test/unit"]),
        ("npx jest", Runner.jest, ["jest"], [], []),
        ("pnpm exec vitest run", Runner.vitest, ["vitest"], [], []),
        ("node --test", Runner.node_test, ["node"], [], []),
        (
            "node --import tsx --test test/*.test.ts",
            Runner.node_test,
            ["node", "--import", "tsx"],
            [],
            ["test/*.test.ts"],
        ),
        ("tsx --test", Runner.node_test, ["node", "--import", "tsx"], [], []),
        (
            "node --experimental-vm-modules node_modules/jest/bin/jest.js",
            Runner.jest,
            ["node", "--experimental-vm-modules", "node_modules/jest/bin/jest.js"],
            [],
            [],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)
def test_the_runner_and_its_options_come_from_scripts_test(
    script: str, runner: Runner, launcher: list[str], options: list[str], specs: list[str]
) -> None:
    setup = parse_test_script(script)
    assert setup is not None
    assert (setup.runner, setup.launcher, setup.options, setup.specs) == (
        runner,
        launcher,
        options,
        specs,
    )
    assert setup.before == setup.after == []


@pytest.mark.parametrize(
    ("script", "env"),
    [
        ("NODE_OPTIONS=--experimental-vm-modules jest", ["NODE_OPTIONS=--experimental-vm-modules"]),
        ("cross-env NODE_ENV=test TZ=UTC mocha", ["NODE_ENV=test", "TZ=UTC"]),
    ],
    ids=["inline-assignment", "cross-env"],
)
def test_environment_assignments_before_the_runner_are_kept(script: str, env: list[str]) -> None:
    setup = parse_test_script(script)
    assert setup is not None and setup.env == env
    line = runner_script(setup, Path("/w/.draftsmith/r.json"), None)
    assert line.startswith(" ".join(env) + " ") and " exec " in line


@pytest.mark.parametrize(
    ("script", "scripts", "runner", "before", "after"),
    [
        ("jest && tsc --noEmit", {}, Runner.jest, [], ["tsc --noEmit"]),
        ("tsc -p . && mocha", {}, Runner.mocha, ["tsc -p ."], []),
        ("eslint . && vitest run && tsc", {}, Runner.vitest, ["eslint ."], ["tsc"]),
        (
            "npm run lint && npm run test:unit",
            {"lint": "eslint .", "test:unit": "jest --ci"},
            Runner.jest,
            ["npm run lint"],
            [],
        ),
        ("yarn build; mocha", {"build": "tsc"}, Runner.mocha, ["npm run build"], []),
        (
            "pnpm lint && vitest run --typecheck && pnpm exec tsc --noEmit && yarn run x --fix",
            {"lint": "eslint .", "x": "prettier -c src"},
            Runner.vitest,
            ["npm run lint"],
            ["tsc --noEmit", "npm run x -- --fix"],
        ),
    ],
    ids=[
        "check-after",
        "build-before",
        "both-sides",
        "npm-run-followed",
        "yarn-script-with-npm",
        "pnpm-and-yarn-without-them",
    ],
)
def test_commands_chained_with_the_runner_become_checks_of_their_own(
    script: str, scripts: dict[str, str], runner: Runner, before: list[str], after: list[str]
) -> None:
    setup = parse_test_script(script, scripts)
    assert setup is not None
    assert (setup.runner, setup.before, setup.after) == (runner, before, after)


@pytest.mark.parametrize(
    "script",
    ['echo "Error: no test specified" && exit 1', "make test", "karma start"],
    ids=["npm-init-default", "make", "karma"],
)
def test_a_script_without_a_known_runner_is_not_guessed(script: str) -> None:
    assert parse_test_script(script) is None


def package(root: Path, manifest: dict[str, Any], *files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(json.dumps(manifest))
    for name in files:
        (root / name).write_text("")
    return root


def test_without_a_runner_in_scripts_test_the_declared_one_runs_and_the_notes_say_so(
    tmp_path: Path,
) -> None:
    manifest = {
        "scripts": {"test": 'echo "Error: no test specified" && exit 1'},
        "devDependencies": {"jest": "29", "vitest": "2"},
    }
    root = package(tmp_path / "p", manifest, "vitest.config.ts")
    setup = detect_test_setup(root)
    assert setup.runner is Runner.vitest  # the one with a configuration file
    assert setup.notes == [
        "scripts.test is npm's placeholder: ran vitest, declared in devDependencies"
    ]


def test_a_script_with_an_unknown_runner_runs_as_written_judged_by_its_exit_code(
    tmp_path: Path,
) -> None:
    manifest = {"scripts": {"test": "karma start --single-run"}, "devDependencies": {"mocha": "10"}}
    setup = detect_test_setup(package(tmp_path / "p", manifest, ".mocharc.json"))
    assert (setup.runner, setup.launcher) == (Runner.script, ["npm", "test"])  # never mocha alone
    assert "judged by its exit code (no per-test results" in setup.notes[0]


def test_with_no_runner_anywhere_node_test_runs_and_the_notes_say_so(tmp_path: Path) -> None:
    setup = detect_test_setup(package(tmp_path / "p", {"name": "p"}))
    assert setup.runner is Runner.node_test
    assert "no scripts.test and no jest, vitest or mocha dependency" in setup.notes[0]


def test_a_workspace_package_may_use_the_runner_its_root_declares(tmp_path: Path) -> None:
    root = package(
        tmp_path / "mono", {"workspaces": ["packages/*"], "devDependencies": {"mocha": "10"}}
    )
    package(root / "packages" / "a", {"name": "a"})
    assert detect_test_setup(root / "packages" / "a", root).runner is Runner.mocha


def test_a_workspace_runs_the_tests_of_the_packages_the_change_touches(tmp_path: Path) -> None:
    root = package(tmp_path / "mono", {"private": True, "workspaces": ["packages/*"]})
    package(root / "packages" / "core", {"scripts": {"test": "vitest run"}})
    package(root / "packages" / "cli", {"scripts": {"test": "jest"}})
    package(root / "packages" / "docs", {"scripts": {"test": "mocha"}})
    targets = node_targets(root, ["packages/cli/src/x.ts", "packages/core/test/y.test.ts"])
    assert [(t.directory, t.setup.runner) for t in targets] == [
        ("packages/cli", Runner.jest),
        ("packages/core", Runner.vitest),
    ]
    everything = node_targets(root, ["README.md"])  # no package touched, no root tests
    assert [t.directory for t in everything] == ["packages/cli", "packages/core", "packages/docs"]


def test_chosen_files_replace_the_script_s_own_specs(tmp_path: Path) -> None:
    setup = parse_test_script("mocha 'test/**/*.js' --timeout 5000")
    assert setup is not None
    suite = runner_script(setup, tmp_path / "r.json", None)
    alone = runner_script(setup, tmp_path / "r.json", ["test/new file.test.js"])
    assert suite.endswith("'test/**/*.js'") and "--timeout 5000" in suite
    assert alone.endswith("'test/new file.test.js'") and "test/**" not in alone
    jest = parse_test_script("jest src")
    assert jest is not None
    line = runner_script(jest, tmp_path / "r.json", ["test/a.test.js"])
    given = line.split("DRAFTSMITH_JEST_ARGS=", 1)[1].split(" exec ", 1)[0]
    assert json.loads(shlex.split(given)[0])[-2:] == ["--runTestsByPath", "test/a.test.js"]
    assert line.endswith(f"exec node {tmp_path}/jest-run.js")  # nothing of it in process.argv
