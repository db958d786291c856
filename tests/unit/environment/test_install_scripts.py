"""A dependency's failed install script, read from what npm, pnpm and yarn print (their real
output, captured from a local package whose postinstall cannot reach the network), and the install
made again without install scripts."""

from __future__ import annotations

import asyncio

import pytest

from bot.environment.detect import EnvironmentPlan
from bot.environment.install_scripts import failed_dependency_script, install_without_scripts
from bot.environment.node import PackageManager
from bot.sandbox.phases import CommandRecord

NPM = """npm error code 1
npm error path /tmp/scr/app/node_modules/broken-dep
npm error command failed
npm error command sh -c node fetch-data.js
npm error getaddrinfo ENOTFOUND example.com
npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log
"""
PNPM = """Progress: resolved 1, reused 0, downloaded 1, added 1, done
.../node_modules/broken-dep postinstall$ node fetch-data.js
.../node_modules/broken-dep postinstall: getaddrinfo ENOTFOUND example.com
.../node_modules/broken-dep postinstall: Failed
 ELIFECYCLE  Command failed with exit code 1.
"""
YARN = """[4/4] Building fresh packages...
error /tmp/scr/app/node_modules/broken-dep: Command failed.
Exit code: 1
Command: node fetch-data.js
Arguments: \x20
Directory: /tmp/scr/app/node_modules/broken-dep
"""
BERRY = (
    "➤ YN0009: │ broken-dep@file:../dep#../dep::hash=1 couldn't be built successfully "
    "(exit code 1, logs can be found here: /tmp/xfs-1/build.log)\n"
)
NOT_A_SCRIPT = """npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/no-such-package - Not found
"""
OWN_SCRIPT = """npm error code 1
npm error path /tmp/scr/app
npm error command failed
npm error command sh -c tsc -p .
"""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (NPM, "broken-dep: `node fetch-data.js`"),
        (PNPM, "broken-dep: `node fetch-data.js`"),
        (YARN, "broken-dep: `node fetch-data.js`"),
        (BERRY, "broken-dep"),
        (NOT_A_SCRIPT, None),
        (OWN_SCRIPT, None),  # the project's own script: reported as it is
    ],
)
def test_the_failed_dependency_script_is_read_from_each_manager(
    output: str, expected: str | None
) -> None:
    assert failed_dependency_script(output) == expected


def record(command: str, exit_code: int, output: str = "") -> CommandRecord:
    return CommandRecord(command=command, phase="setup", exit_code=exit_code, duration_s=0.1,
                         limit_hit=None, output_tail=output)  # fmt: skip


PLAN = EnvironmentPlan("node", [["npm", "ci"]], ["package-lock.json"], ["package.json"], "k")


def test_installed_again_without_scripts_says_so_and_keeps_the_key() -> None:
    asked: list[list[list[str]]] = []

    async def install(plan: EnvironmentPlan) -> list[CommandRecord]:
        asked.append(plan.commands)
        return [record("npm ci --ignore-scripts", 0)]

    records: list[CommandRecord] = [record("npm ci", 1, NPM)]
    notes: list[str] = []
    plan, failed = asyncio.run(
        install_without_scripts(install, PLAN, PackageManager.npm, records[0], records, notes)
    )
    assert failed is None and asked == [[["npm", "ci", "--ignore-scripts"]]]
    assert plan.commands == [["npm", "ci", "--ignore-scripts"]] and plan.key == "k"
    assert [r.command for r in records] == ["npm ci", "npm ci --ignore-scripts"]
    assert "broken-dep: `node fetch-data.js`" in notes[0] and "--ignore-scripts" in notes[0]


def test_a_second_failure_reports_the_first_and_what_was_tried() -> None:
    async def install(plan: EnvironmentPlan) -> list[CommandRecord]:
        return [record("npm ci --ignore-scripts", 1, NOT_A_SCRIPT)]

    first = record("npm ci", 1, NPM)
    notes: list[str] = []
    plan, failed = asyncio.run(
        install_without_scripts(install, PLAN, PackageManager.npm, first, [first], notes)
    )
    assert failed is first and plan is PLAN
    assert "the install failed too: `npm ci --ignore-scripts` (exit 1)" in notes[0]


def test_another_failure_is_not_retried() -> None:
    async def install(plan: EnvironmentPlan) -> list[CommandRecord]:
        raise AssertionError("nothing to retry")

    first = record("npm ci", 1, NOT_A_SCRIPT)
    plan, failed = asyncio.run(
        install_without_scripts(install, PLAN, PackageManager.npm, first, [first], [])
    )
    assert failed is first and plan is PLAN
