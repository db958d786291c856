"""Prepare a repository's own environment in the sandbox's setup phase, before any test runs.

The plan comes from `.github/draftsmith.yml`'s `setup_commands` when the repository has them,
else from its files (`bot.environment.detect`). Commands pass the policy's setup allow-list
whichever way they came. A prepared environment is reused while its plan's key (the commands
and the contents of the files they read) is unchanged. Python gets a venv without the host's
site-packages; Draftsmith's read-only toolbox (pytest, coverage) is appended to the venv's
`sys.path` by a `.pth` file, so it fills only what the project lacks and never shadows it.
A project that cannot be installed (bot.environment.source_tree: known from its files, or its
editable install failed in a build and its dependencies alone install) runs from the source
tree: the evidence's note says so and why ("not installable: <the build's error line>; ...").
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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
from bot.environment.install_scripts import install_without_scripts
from bot.environment.kept import RESTORED_NOTE, keep, restore, runtime_of, untracked
from bot.environment.node import choose_manager, keep_lock_out_of_change, node_setup_env
from bot.environment.problems import CONFIG_HINT, TAIL_CHARS, setup_problem
from bot.environment.source_tree import build_failure, recorded_reason, use_source_tree
from bot.sandbox.base import TOOLBOX_MOUNT, ExecResult, LimitHit, Limits, Sandbox
from bot.sandbox.phases import CommandRecord, run_phase
from bot.sandbox.toolbox import BIN_DIR, toolbox_program

logger = logging.getLogger(__name__)

SCRATCH = (".venv/", ".draftsmith/", "node_modules/", "__pycache__/", ".coverage")
MARKER = ".draftsmith/environment.json"
TOOLBOX_PTH = "_draftsmith_toolbox.pth"
UV_BIN = f"{BIN_DIR}/uv"


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
        why = marker.get("source_tree")
        if isinstance(why, str) and plan.source_tree is None and not plan.configured:
            # the install of the project failed when this environment was prepared
            prepared.plan = replace(python_plan(root, installer, not_installed=why), key=plan.key)
        return prepared
    (root / MARKER).unlink(missing_ok=True)
    # an environment without its marker is half made (a worker killed mid-setup) or stale: start
    # from nothing (`uv venv` refuses an existing .venv, and a half install is no environment)
    shutil.rmtree(root / VENV, ignore_errors=True)
    started = time.monotonic()
    kept = cache is not None and plan.language in ("python", "node") and bool(plan.commands)
    runtime = runtime_of(plan.language, sandbox.runtime)
    earlier = restore(cache.root, plan.key, root, runtime) if cache and kept else None
    if earlier is not None:
        prepared.restored = True
        prepared.notes += [note for note in earlier if note not in prepared.notes]
        if plan.language == "python":
            _restored_from_source_tree(root, prepared, installer)
        prepared.notes.append(RESTORED_NOTE)
        prepared.duration_s = round(time.monotonic() - started, 3)
        _write_marker(root, prepared)
        return prepared
    before = untracked(root) if kept else None
    prepared.records = await _install(sandbox, root, plan, limits, allow, cache)
    failed = _first_failure(prepared.records)
    if failed is not None and plan.language == "python" and not plan.configured:
        failed = await _without_the_project(
            sandbox, root, limits, allow, cache, prepared, installer, failed
        )
    if failed is not None and plan.language == "node" and not plan.configured:
        prepared.plan, failed = await install_without_scripts(
            lambda again: _install(sandbox, root, again, limits, allow, cache),
            plan, choose_manager(root).manager, failed, prepared.records, prepared.notes,
        )  # fmt: skip
    if failed is not None:
        prepared.problem = setup_problem(failed, plan, prepared.notes)
    elif plan.language == "python" and not (root / VENV / "bin" / "python").exists():
        prepared.problem = (
            f"setup left no {VENV}/bin/python: the tests need a virtual environment in {VENV} "
            "so that they never see the host's packages.\n" + CONFIG_HINT
        )
    elif plan.language == "python":
        _finish_venv(root, prepared)
        await _runner_starts(sandbox, root, limits, allow, cache, prepared, installer)
    prepared.duration_s = round(time.monotonic() - started, 3)
    if not prepared.ok:
        return prepared
    _write_marker(root, prepared)
    if cache is not None and kept:  # for the next run with the same inputs
        keep(cache.root, plan.key, root, plan.language, before, prepared.notes, runtime=runtime)
    return prepared


def _write_marker(root: Path, prepared: PreparedEnvironment) -> None:
    """What the next step checks before reusing the workspace's environment (the plan's key)."""
    (root / MARKER).parent.mkdir(parents=True, exist_ok=True)
    marked = {"key": prepared.plan.key, "installer": prepared.installer, "notes": prepared.notes}
    (root / MARKER).write_text(json.dumps({**marked, "source_tree": prepared.plan.source_tree}))


def _restored_from_source_tree(
    root: Path, prepared: PreparedEnvironment, installer: Installer
) -> None:
    """A restored environment that was prepared without the project (its install failed): the
    plan and the note say so again, and the source tree's paths are this workspace's."""
    plan = prepared.plan
    why = recorded_reason(root, VENV)
    if why is not None and plan.source_tree is None and not plan.configured:
        prepared.plan = replace(python_plan(root, installer, not_installed=why), key=plan.key)
    if prepared.plan.source_tree is not None:
        _finish_venv(root, prepared)


async def _without_the_project(
    sandbox: Sandbox,
    root: Path,
    limits: Limits,
    allow: Sequence[str],
    cache: RepositoryCache | None,
    prepared: PreparedEnvironment,
    installer: Installer,
    failed: CommandRecord,
) -> CommandRecord | None:
    """After an install that failed in a build: the project's dependencies alone, once. When they
    install, the build that failed was the project's own (it cannot be installed): its tests run
    from the source tree and `prepared.plan` becomes that plan (under the detected plan's key).
    Returns the failure to report (the first one), or None when the dependencies installed."""
    why = build_failure(failed.output_tail) if prepared.plan.source_tree is None else None
    if why is None:
        return failed
    detected = prepared.plan
    fallback = python_plan(root, installer, not_installed=f"not installable: {why}")
    shutil.rmtree(root / VENV, ignore_errors=True)
    records = await _install(sandbox, root, fallback, limits, allow, cache)
    prepared.records += records
    again = _first_failure(records)
    if again is not None:
        prepared.notes.append(
            f"without the project ({why}), its dependencies alone did not install either: "
            f"`{again.command}` (exit {again.exit_code})"
        )
        return failed
    prepared.plan = replace(fallback, key=detected.key)
    return None


def _finish_venv(root: Path, prepared: PreparedEnvironment) -> None:
    """The toolbox at the end of the venv's sys.path; the source tree when not installed."""
    add_toolbox(root)
    why = prepared.plan.source_tree
    note = use_source_tree(root, VENV, why) if why is not None else None
    if note is not None and note not in prepared.notes:
        prepared.notes.append(note)


def _first_failure(records: list[CommandRecord]) -> CommandRecord | None:
    return next((r for r in records if r.exit_code != 0 or r.limit_hit), None)


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
    relaxed = python_plan(root, installer, relax=True, not_installed=prepared.plan.source_tree)
    prepared.notes.append(
        "the pinned test requirements cannot start pytest on the sandbox's Python ("
        + (tail.splitlines() or ["?"])[-1][:200]
        + "); installed again without their pins: "
        + "; ".join(relaxed.sources)
    )
    shutil.rmtree(root / VENV, ignore_errors=True)
    records = await _install(sandbox, root, relaxed, limits, allow, cache)
    prepared.records += records
    failed = _first_failure(records)
    if failed is not None:
        prepared.problem = setup_problem(failed, relaxed)
        return
    _finish_venv(root, prepared)
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


async def _install(
    sandbox: Sandbox,
    root: Path,
    plan: EnvironmentPlan,
    limits: Limits,
    allow: Sequence[str],
    cache: RepositoryCache | None,
) -> list[CommandRecord]:
    """Run the plan's commands, with the repository's download cache lent when there is one."""
    if not plan.commands:
        return []
    if cache is None:
        return await _run(sandbox, root, plan, limits, allow, None)
    with cache.lend_downloads(root) as downloads:
        return await _run(sandbox, root, plan, limits, allow, downloads)


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
