"""Coverage of the change for TypeScript in the real bubblewrap sandbox: real installs from the npm
registry, the new test file run alone by the project's runner with its coverage, mapped to the
changed lines (bot.testing.node_coverage), TypeScript through the runner's or the loader's
source maps."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.coverage import ChangeCoverage
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork
from bot.shared.contracts import TestStatus
from bot.testing.node import run_node_tests
from bot.testing.node_coverage import NodeCoverage
from tests.helpers.node_projects import locked_project
from tests.helpers.repos import make_repo
from tests.integration.environment.test_node_in_bwrap import LIMITS, prepare

pytestmark = [
    pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs node and npm"),
]


@pytest.fixture(scope="module")
def sandbox() -> BwrapSandbox:
    # behind this machine's registry mirror, corepack needs COREPACK_INTEGRITY_KEYS=0
    # (test_node_in_bwrap.py says why); npm itself does not
    environ = {**os.environ, "COREPACK_INTEGRITY_KEYS": "0"}
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, environ)
    return BwrapSandbox(uid_base=2_100_600, uid_slots=4, setup=setup)


ADD = "export function add(a: number, b: number): number {\n  return a + b;\n}\n"
CHANGED = (
    ADD
    + "\nexport function subtract(a: number, b: number): number {\n  return a - b;\n}\n"
    + "\nexport function multiply(a: number, b: number): number {\n  return a * b;\n}\n"
)
SUBTRACT_LINES = {5, 6, 7}
MULTIPLY_LINES = {9, 10, 11}


def project(tmp_path: Path, manifest: dict[str, Any], files: dict[str, str]) -> Path:
    """A committed TypeScript project whose src/calc.ts then gains subtract and multiply."""
    root = make_repo(tmp_path / "calc", locked_project(manifest, {"src/calc.ts": ADD, **files}))
    (root / "src" / "calc.ts").write_text(CHANGED)
    return root


def measured(sandbox: BwrapSandbox, root: Path, new_test: str, text: str) -> ChangeCoverage:
    """The new test file run alone under coverage, as the suite's run of new tests does."""
    (root / new_test).write_text(text)
    coverage = NodeCoverage(["src/calc.ts"])
    report, cases = asyncio.run(
        run_node_tests(sandbox, root, LIMITS, [], files=[new_test], coverage=coverage)
    )
    assert report.status is TestStatus.passed and cases.cases, report.failure_details
    diff = subprocess.run(["git", "diff"], cwd=root, capture_output=True, text=True, check=True)
    return coverage.result(root, diff.stdout, sorted(cases.cases))


def assert_subtract_ran_and_multiply_did_not(coverage: ChangeCoverage, case: str) -> None:
    assert coverage.available, coverage.reason
    executed = {c.line for c in coverage.executed}
    assert executed >= SUBTRACT_LINES and not MULTIPLY_LINES & executed, coverage
    assert {c.line for c in coverage.missed} == MULTIPLY_LINES
    assert coverage.tests_executing_change() == {case}


VITEST_TEST = (
    "import { expect, test } from 'vitest';\nimport { subtract } from '../src/calc';\n\n"
    "test('subtract', () => {\n  expect(subtract(5, 3)).toBe(2);\n});\n"
)
JEST_TEST = (
    "import { subtract } from '../src/calc';\n\n"
    "test('subtract', () => {\n  expect(subtract(5, 3)).toBe(2);\n});\n"
)


def test_vitest_measures_typescript_with_the_provider_the_project_installed(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    manifest = {
        "name": "calc",
        "private": True,
        "type": "module",
        "scripts": {"test": "vitest"},
        "devDependencies": {"vitest": "2.1.9", "@vitest/coverage-v8": "2.1.9"},
    }
    root = project(tmp_path, manifest, {})
    prepare(sandbox, root, tmp_path / "cache")
    coverage = measured(sandbox, root, "src/calc.test.ts", VITEST_TEST)
    assert_subtract_ran_and_multiply_did_not(coverage, "src/calc.test.ts::subtract")


def test_jest_measures_typescript_through_ts_jest_source_maps(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    manifest = {
        "name": "calc",
        "private": True,
        "scripts": {"test": "jest"},
        "devDependencies": {
            "jest": "29.7.0",
            "ts-jest": "29.2.5",
            "typescript": "5.6.3",
            "@types/jest": "29.5.14",
        },  # fmt: skip
    }
    files = {
        "jest.config.js": "module.exports = { preset: 'ts-jest', testEnvironment: 'node' };\n",
        "tsconfig.json": '{"compilerOptions": {"strict": true, "types": ["jest"]}}\n',
    }
    root = project(tmp_path, manifest, files)
    prepare(sandbox, root, tmp_path / "cache")
    coverage = measured(sandbox, root, "src/calc.test.ts", JEST_TEST)
    assert_subtract_ran_and_multiply_did_not(coverage, "src/calc.test.ts::subtract")


def test_typescript_run_through_tsx_under_node_test_maps_back_through_its_source_map(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    manifest = {
        "name": "calc",
        "private": True,
        "type": "module",
        "scripts": {"test": "node --import tsx --test"},
        "devDependencies": {"tsx": "4.19.2"},
    }
    root = project(tmp_path, manifest, {})
    prepare(sandbox, root, tmp_path / "cache")
    text = (
        "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
        "import { subtract } from '../src/calc.ts';\n\n"
        "test('subtract', () => {\n  assert.strictEqual(subtract(5, 3), 2);\n});\n"
    )
    (root / "test").mkdir()
    coverage = measured(sandbox, root, "test/calc.test.ts", text)
    assert_subtract_ran_and_multiply_did_not(coverage, "test::subtract")  # as node names it
