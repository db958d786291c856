"""Prepare a repository's own environment in the sandbox's setup phase, before any test runs.

The plan comes from `.github/draftsmith.yml`'s `setup_commands` when the repository has them,
else from its files (`bot.environment.detect`). Commands pass the policy's setup allow-list
whichever way they came. A prepared environment is reused while its plan's key (the commands
and the contents of the files they read) is unchanged. Python gets a venv without the host's
site-packages; Draftsmith's read-only toolbox (pytest, coverage) is appended to the venv's
`sys.path` by a `.pth` file, so it fills only what the project lacks and never shadows it.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.environment.cache import RepositoryCache
from bot.environment.detect import (
    VENV,
    EnvironmentPlan,
    Installer,
    configured_plan,
    node_plan,
    pinned_requirements,
    python_plan,
)
from bot.environment.kept import keep, restore
from bot.environment.node import choose_manager, keep_lock_out_of_change, node_setup_env
from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, LimitHit, Limits, Sandbox
from bot.sandbox.phases import CommandRecord, run_phase
from bot.sandbox.toolbox import BIN_DIR, toolbox_program

logger = logging.getLogger(__name__)

SCRATCH = (".venv/", ".draftsmith/", "node_modules/", "__pycache__/", ".coverage")
MARKER = ".draftsmith/environment.json"
TOOLBOX_PTH = "_draftsmith_toolbox.pth"
UV_BIN = f"{BIN_DIR}/uv"
TAIL_CHARS = 1500
CONFIG_HINT = (
    "Say how to prepare it in .github/draftsmith.yml (read from the default branch), e.g.\n"
    "setup_commands:\n  - python3 -m venv .venv\n"
    "  - .venv/bin/python -m pip install -e '.[test]'\n"
    "test_command: .venv/bin/python -m pytest"
)


@dataclass
class PreparedEnvironment:
    """What setup did: the plan, each command's record, and why it failed if it did."""

    plan: EnvironmentPlan
    installer: str
    records: list[CommandRecord] = field(default_factory=list)
    reused: bool = False
    restored: bool = (
        False  # copied from the environment an earlier run kept (bot/environment/kept.py)
    )
    duration_s: float = 0.0
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the environment is ready for the tests."""
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """Stored as the run's `environment.rN` artifact."""
        data = asdict(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedEnvironment:
        """The environment the setup step stored (`to_dict`), for the testing step."""
        records = [
            CommandRecord(
                **{**r, "limit_hit": LimitHit(r["limit_hit"]) if r["limit_hit"] else None}
            )
            for r in data.get("records") or []
        ]
        names = ("installer", "reused", "restored", "duration_s", "problem", "notes")
        fields = {k: data[k] for k in names if k in data}
        return cls(plan=EnvironmentPlan(**data["plan"]), records=records, **fields)


def exclude_scratch(root: Path) -> None:
    """Keep the environment and reports out of the change (`.git/info/exclude`)."""
    exclude = root / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text() if exclude.exists() else ""
    missing = [p for p in SCRATCH if p not in current.splitlines()]
    if missing:
        exclude.write_text(current + "".join(f"{p}\n" for p in missing))


def installer_for(sandbox: Sandbox) -> Installer:
    """uv from the sandbox's toolbox when it has one (measured faster), else pip in the venv."""
    uv = toolbox_program(sandbox, "uv")
    return Installer("uv", uv=uv) if uv is not None else Installer("pip")


def plan_for(
    root: Path, language: str, setup_commands: Sequence[str], installer: Installer
) -> EnvironmentPlan:
    """The repository's configured setup commands, else the ones detected from its files."""
    if setup_commands:
        return configured_plan(root, language, [shlex.split(c) for c in setup_commands])
    if language == "python":
        return python_plan(root, installer)
    if language == "node":
        return node_plan(root)
    if language == "go" and go_requirements(root):
        return EnvironmentPlan("go", [["go", "mod", "download"]], ["go.mod"], ["go.mod"])
    return EnvironmentPlan(language)


def installer_name(root: Path, plan: EnvironmentPlan, installer: Installer) -> str:
    """What installs the environment: uv or pip for Python, the package manager for Node."""
    if plan.language == "node" and not plan.configured:
        return choose_manager(root).manager.value
    return installer.name


def go_requirements(root: Path) -> bool:
    """Whether go.mod requires modules (a standard-library module has nothing to download)."""
    try:
        text = (root / "go.mod").read_text()
    except OSError:
        return False
    return re.search(r"^\s*require\b", text, re.M) is not None


async def prepare_environment(
    sandbox: Sandbox,
    root: Path,
    *,
    language: str,
    limits: Limits,
    allow: Sequence[str],
    setup_commands: Sequence[str] = (),
    cache: RepositoryCache | None = None,
) -> PreparedEnvironment:
    """Run the environment's setup commands in the sandbox (network on), unless already done."""
    exclude_scratch(root)
    kept_out = keep_lock_out_of_change(root) if language == "node" and not setup_commands else None
    installer = installer_for(sandbox)
    plan = plan_for(root, language, setup_commands, installer)
    prepared = PreparedEnvironment(plan=plan, installer=installer_name(root, plan, installer))
    prepared.notes += [kept_out] if kept_out else []
    marker = _marker(root)
    if marker.get("key") == plan.key and _ready(root, plan):
        prepared.reused = True
        prepared.notes = list(marker.get("notes") or [])
        return prepared
    (root / MARKER).unlink(missing_ok=True)
    # an environment without its marker is half made (a worker killed mid-setup) or stale: start
    # from nothing (`uv venv` refuses an existing .venv, and a half install is no environment)
    shutil.rmtree(root / VENV, ignore_errors=True)
    started = time.monotonic()
    if cache is not None and plan.language == "python" and restore(cache.root, plan.key, root):
        prepared.restored = True
        prepared.notes.append(RESTORED_NOTE)
        prepared.duration_s = round(time.monotonic() - started, 3)
        _write_marker(root, plan, installer.name, prepared.notes)
        return prepared
    if plan.commands:
        if cache is not None:
            with cache.lend_downloads(root) as downloads:
                prepared.records = await _run(sandbox, root, plan, limits, allow, downloads)
        else:
            prepared.records = await _run(sandbox, root, plan, limits, allow, None)
    failed = next((r for r in prepared.records if r.exit_code != 0 or r.limit_hit), None)
    if failed is not None:
        prepared.problem = setup_problem(failed, plan)
    elif plan.language == "python" and not (root / VENV / "bin" / "python").exists():
        prepared.problem = (
            f"setup left no {VENV}/bin/python: the tests need a virtual environment in {VENV} "
            "so that they never see the host's packages.\n" + CONFIG_HINT
        )
    elif plan.language == "python":
        add_toolbox(root)
        await _runner_starts(sandbox, root, limits, allow, cache, prepared, installer)
    prepared.duration_s = round(time.monotonic() - started, 3)
    if not prepared.ok:
        return prepared
    _write_marker(root, plan, installer.name, prepared.notes)
    if cache is not None and plan.language == "python" and plan.commands:
        keep(cache.root, plan.key, root)  # for the next run with the same inputs
    return prepared


RESTORED_NOTE = (
    "environment restored: a copy of the one an earlier run prepared from the same dependency "
    "files and setup commands (nothing installed; paths rewritten to this workspace)"
)


def _write_marker(root: Path, plan: EnvironmentPlan, installer: str, notes: list[str]) -> None:
    (root / MARKER).parent.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        json.dumps({"key": plan.key, "installer": installer, "notes": notes})
    )


async def _runner_starts(
    sandbox: Sandbox,
    root: Path,
    limits: Limits,
    allow: Sequence[str],
    cache: RepositoryCache | None,
    prepared: PreparedEnvironment,
    installer: Installer,
) -> None:
    """Check that pytest starts in the venv; pinned requirements that cannot start it on this
    Python are installed once more without their pins (the evidence says so)."""
    check = await _pytest_version(sandbox, root, limits)
    if check.ok:
        return
    tail = (check.stdout + check.stderr).strip()[-TAIL_CHARS:]
    if prepared.plan.configured or not pinned_requirements(root):
        prepared.problem = f"pytest cannot start in the prepared environment:\n{tail}\n\n" + (
            CONFIG_HINT
        )
        return
    relaxed = python_plan(root, installer, relax=True)
    prepared.notes.append(
        "the pinned test requirements cannot start pytest on the sandbox's Python ("
        + (tail.splitlines() or ["?"])[-1][:200]
        + "); installed again without their pins: "
        + "; ".join(relaxed.sources)
    )
    shutil.rmtree(root / VENV, ignore_errors=True)
    if cache is not None:
        with cache.lend_downloads(root) as downloads:
            records = await _run(sandbox, root, relaxed, limits, allow, downloads)
    else:
        records = await _run(sandbox, root, relaxed, limits, allow, None)
    prepared.records += records
    failed = next((r for r in records if r.exit_code != 0 or r.limit_hit), None)
    if failed is not None:
        prepared.problem = setup_problem(failed, relaxed)
        return
    add_toolbox(root)
    check = await _pytest_version(sandbox, root, limits)
    if not check.ok:
        tail = (check.stdout + check.stderr).strip()[-TAIL_CHARS:]
        prepared.problem = f"pytest cannot start in the prepared environment:\n{tail}\n\n" + (
            CONFIG_HINT
        )


async def _pytest_version(sandbox: Sandbox, root: Path, limits: Limits) -> ExecResult:
    command = [str(root / VENV / "bin" / "python"), "-m", "pytest", "--version"]
    return await sandbox.run(
        command, workdir=root, limits=limits, env={"PYTHONDONTWRITEBYTECODE": "1"}
    )


async def _run(
    sandbox: Sandbox,
    root: Path,
    plan: EnvironmentPlan,
    limits: Limits,
    allow: Sequence[str],
    downloads: Path | None,
) -> list[CommandRecord]:
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_PYTHON_DOWNLOADS": "never"}
    env |= node_setup_env(root, downloads)
    if downloads is not None:
        env |= {
            "PIP_CACHE_DIR": str(downloads / "pip"),
            "UV_CACHE_DIR": str(downloads / "uv"),
        }
    return await run_phase(
        sandbox, "setup", plan.commands, workdir=root, limits=limits, allow=allow, env=env
    )


def add_toolbox(root: Path) -> None:
    """Append the toolbox to the end of the venv's sys.path (after the project's packages)."""
    for site in (root / VENV / "lib").glob("python3*/site-packages"):
        (site / TOOLBOX_PTH).write_text(TOOLBOX_MOUNT + "\n")


def _marker(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / MARKER).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def _ready(root: Path, plan: EnvironmentPlan) -> bool:
    return plan.language != "python" or (root / VENV / "bin" / "python").exists()


def setup_problem(record: CommandRecord, plan: EnvironmentPlan) -> str:
    """What failed in setup, the tail of its output, and what the repository can say instead."""
    if record.refused:
        what = f"setup command refused by the policy's setup allow-list: `{record.command}`"
    elif record.limit_hit is not None:
        what = f"setup command `{record.command}` hit the sandbox's {record.limit_hit} limit"
    else:
        what = f"setup command `{record.command}` failed (exit {record.exit_code})"
    origin = "; ".join(plan.sources) or "(none)"
    tail = record.output_tail.strip()[-TAIL_CHARS:]
    hint = (
        "Fix the commands in .github/draftsmith.yml, or narrow them to what the sandbox allows."
        if plan.configured
        else CONFIG_HINT
    )
    return f"{what}\nPrepared from: {origin}\nOutput (tail):\n{tail}\n\n{hint}"
