"""The Docker sandbox image runs every language Draftsmith tests: Node >= 20.11 (the JUnit
reporter), npm, and Go, through the same runners as bubblewrap."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.base import Limits
from bot.sandbox.runners import run_go_test, run_node_test
from bot.shared.contracts import TestStatus
from tests.helpers.sandboxes import make_sandbox

LIMITS = Limits(wall_time_s=120, cpu_time_s=120)
NODE_TESTS = """
const test = require('node:test');
const assert = require('node:assert');
test('adds', () => { assert.strictEqual(1 + 1, 2); });
test('broken', () => { assert.strictEqual(2 + 2, 5); });
test('skipped', { skip: true }, () => {});
"""
GO_FILES = {
    "go.mod": "module example.com/calc\n\ngo 1.19\n",
    "calc.go": "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
    "calc_test.go": (
        'package calc\n\nimport "testing"\n\n'
        'func TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal("2+3")\n\t}\n}\n\n'
        'func TestWrong(t *testing.T) {\n\tif Add(2, 2) != 5 {\n\t\tt.Fatal("2+2")\n\t}\n}\n'
    ),
}


async def test_node_suites_run_with_the_junit_reporter_on_docker(tmp_path: Path) -> None:
    sandbox = make_sandbox("docker")
    version = await sandbox.run(["node", "--version"], workdir=tmp_path, limits=LIMITS)
    major, minor = (int(n) for n in version.stdout.strip().lstrip("v").split(".")[:2])
    assert (major, minor) >= (20, 11), version.stdout
    npm = await sandbox.run(["npm", "--version"], workdir=tmp_path, limits=LIMITS)
    assert npm.ok, npm.stderr
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "math.test.js").write_text(NODE_TESTS)
    report = await run_node_test(sandbox, tmp_path, LIMITS)
    assert report.status is TestStatus.failed, report.failure_details
    assert (report.tests_passed, report.tests_failed, report.tests_skipped) == (1, 1, 1)
    assert "broken" in report.failure_details


async def test_go_modules_are_tested_on_docker(tmp_path: Path) -> None:
    sandbox = make_sandbox("docker")
    for name, text in GO_FILES.items():
        (tmp_path / name).write_text(text)
    report = await run_go_test(sandbox, tmp_path, LIMITS)
    assert report.status is TestStatus.failed, report.failure_details
    assert (report.tests_passed, report.tests_failed) == (1, 1)
    assert "TestWrong" in report.failure_details
