"""A JavaScript dependency whose install script fails: installed again without install scripts.

Install scripts (`preinstall`, `install`, `postinstall`) of dependencies run in the setup phase,
under its egress allow-list. Some cannot work there: a benchmark's data set downloaded from a
website at install time, a binary fetched from a CDN. A careful person installs again with
`--ignore-scripts` (yarn berry: `--mode=skip-build`) and carries on: most test suites never need
what such a script makes. The evidence says which script failed and that the environment was
installed without install scripts, so a test that needed one fails visibly on the base too (and
is never blamed on the change). Only a dependency's script is passed over this way: a failure of
the project's own scripts, or of the install itself, is reported as it is.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.environment.node import PackageManager

if TYPE_CHECKING:
    from bot.environment.detect import EnvironmentPlan
    from bot.sandbox.phases import CommandRecord

_DEPENDENCY = r"\S*node_modules/(?P<name>(?:@[^/\s]+/)?[^/\s:]+)"
_PATTERNS = (
    # npm 7+: "npm error path …/node_modules/top-sites" … "npm error command sh -c node x.js"
    re.compile(
        rf"npm (?:error|ERR!) path {_DEPENDENCY}\s*\n(?:.*\n)*?npm (?:error|ERR!) "
        r"command \S+ -c (?P<command>.+)"
    ),  # fmt: skip
    # pnpm: "…/node_modules/top-sites postinstall$ node x.js" … "…/top-sites postinstall: Failed"
    re.compile(
        rf"{_DEPENDENCY} (?:preinstall|install|postinstall)\$ (?P<command>.+)\n(?:.*\n)*?"
        r"\S*node_modules/\S+ (?:preinstall|install|postinstall): Failed"
    ),  # fmt: skip
    # yarn classic: "error …/node_modules/top-sites: Command failed." … "Command: node x.js"
    re.compile(rf"error {_DEPENDENCY}: Command failed\.\s*\n(?:.*\n)*?Command: (?P<command>.+)"),
    # yarn berry: "YN0009: │ top-sites@npm:1.1.194 couldn't be built successfully (exit code 1…"
    re.compile(
        r"YN0009: \W*(?P<name>(?:@[^/\s]+/)?[^@\s]+)@\S+ couldn't be built successfully"
        r"(?P<command>)"
    ),  # fmt: skip
)
SKIP_SCRIPTS = {
    PackageManager.npm: "--ignore-scripts",
    PackageManager.pnpm: "--ignore-scripts",
    PackageManager.yarn_classic: "--ignore-scripts",
    PackageManager.yarn_berry: "--mode=skip-build",
}


def failed_dependency_script(output: str) -> str | None:
    """The dependency whose install script failed, and the script when the output names it
    ("top-sites: `node scripts/postinstall`"); None when no dependency's script failed."""
    for pattern in _PATTERNS:
        found = pattern.search(output)
        if found is not None:
            command = found.group("command").strip()
            return f"{found.group('name')}: `{command}`" if command else found.group("name")
    return None


async def install_without_scripts(
    install: Callable[[EnvironmentPlan], Awaitable[list[CommandRecord]]],
    plan: EnvironmentPlan,
    manager: PackageManager,
    failed: CommandRecord,
    records: list[CommandRecord],
    notes: list[str],
) -> tuple[EnvironmentPlan, CommandRecord | None]:
    """After an install that failed in a dependency's install script: the same install once more
    without install scripts. Returns the plan that made the environment and the failure to
    report (None when the second install succeeded); `records` and `notes` are extended."""
    script = failed_dependency_script(failed.output_tail)
    if script is None:
        return plan, failed
    flag = SKIP_SCRIPTS[manager]
    again = replace(plan, commands=[[*command, flag] for command in plan.commands])
    done = await install(again)
    records += done
    second = next((r for r in done if r.exit_code != 0 or r.limit_hit), None)
    if second is not None:
        notes.append(
            f"a dependency's install script failed ({script}); without install scripts "
            f"(`{flag}`) the install failed too: `{second.command}` (exit {second.exit_code})"
        )
        return plan, failed
    notes.append(
        f"a dependency's install script failed in the sandbox ({script}): installed again "
        f"without install scripts (`{flag}`), so what such scripts build is missing; a test that "
        "needs it fails on the base as well"
    )
    return again, None
