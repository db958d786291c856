"""Differential static analysis: the project's analysers on the base and on the change.

The base tree is extracted with `git archive` into `.draftsmith/analysis-base/` inside the
workspace (so the project's `.venv` and `node_modules` are reachable through relative links, and
the sandbox sees nothing but the workspace), the same commands run on both trees in the sandbox
without network, and only the findings the change introduces are kept (`findings.introduced`).
An analyser that fails or prints what it should not is reported as not run, never as clean.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.analysis.findings import Finding, introduced
from bot.analysis.tools import CONFIG_FILES, Analyser, plan
from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.runners import REPORT_DIR
from bot.shared.errors import WorkspaceError

logger = logging.getLogger(__name__)

BASE_TREE = f"{REPORT_DIR}/analysis-base"
SHARED = (".venv", "node_modules")
"""The project's prepared environment, linked into the base tree rather than copied."""
RunStatus = Literal["ran", "failed"]


@dataclass
class ToolRun:
    """How one analyser went on the change and on the base."""

    name: str
    source: str
    status: RunStatus
    detail: str = ""
    change_findings: int = 0
    base_findings: int = 0
    duration_s: float = 0.0
    base_errors: int | None = None
    """Error-level findings on the base; None when the base could not be analysed."""

    @property
    def kept_clean(self) -> bool:
        """Whether the project keeps this analyser clean: no error on the base, or unknown."""
        return not self.base_errors

    @property
    def not_kept_clean(self) -> str:
        """Why this analyser's new findings inform and do not hold the change: the base already
        fails it (say it only when `kept_clean` is false)."""
        return (
            f"the base already has {self.base_errors} {self.name} error(s), so the project does "
            "not keep it clean: its new findings inform and do not hold the change"
        )


@dataclass
class DifferentialAnalysis:
    """The findings a change introduces, with what ran, what could not, and how long it took."""

    new: list[Finding] = field(default_factory=list)
    preexisting: int = 0
    tools: list[ToolRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def tool_of(self, name: str) -> ToolRun | None:
        """How the analyser called `name` went (None when it is not among those that ran)."""
        return next((t for t in self.tools if t.name == name), None)

    def holds(self, finding: Finding) -> bool:
        """Whether a new finding holds the change: an error of an analyser the project keeps
        clean. An analyser the base already fails (the project does not gate on it) informs."""
        run = self.tool_of(finding.tool)
        return finding.level == "error" and (run is None or run.kept_clean)

    @property
    def errors(self) -> list[Finding]:
        """The new error-level findings that hold the change (each one forces a revision)."""
        return [f for f in self.new if self.holds(f)]


async def analyse_change(
    sandbox: Sandbox,
    root: Path,
    base: str,
    changed_lines: dict[str, set[int]],
    limits: Limits,
    *,
    toolbox_ruff: str | None,
) -> DifferentialAnalysis:
    """Run the project's analysers on `base` and on the tree at `root`; keep the new findings."""
    started = time.monotonic()
    changed = _git(root, "diff", "--name-only", "--no-renames", base, "HEAD").splitlines()
    present = [p for p in changed if (root / p).is_file()]
    tools = plan(root, present, toolbox_ruff)
    analysis = DifferentialAnalysis(notes=list(tools.notes), files=present)
    config_edits = sorted(p for p in changed if Path(p).name in CONFIG_FILES)
    if config_edits and tools.analysers:
        analysis.notes.append(
            "the change edits analyser configuration (" + ", ".join(config_edits) + "): its "
            "findings were judged with the changed configuration"
        )
    if not tools.analysers:
        if not present:
            analysis.notes.append("no changed files to analyse")
        elif not tools.notes:
            analysis.notes.append("no analyser applies to the changed files")
        analysis.duration_s = time.monotonic() - started
        return analysis
    tree = root / BASE_TREE
    base_files = _extract_base(root, base, tree, present, whole=tools.whole_tree)
    try:
        for analyser in tools.analysers:
            await _run_both(analysis, analyser, sandbox, root, base_files, changed_lines, limits)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    analysis.duration_s = time.monotonic() - started
    return analysis


async def _run_both(
    analysis: DifferentialAnalysis,
    analyser: Analyser,
    sandbox: Sandbox,
    root: Path,
    base_files: list[str],
    changed_lines: dict[str, set[int]],
    limits: Limits,
) -> None:
    started = time.monotonic()
    run = ToolRun(analyser.name, analyser.source, "ran")
    analysis.tools.append(run)
    change, problem = await _findings(analyser, sandbox, root, root, analysis.files, limits)
    if change is None:
        run.status, run.detail = "failed", f"did not run on the change: {problem}"
        run.duration_s = time.monotonic() - started
        return
    base, problem = await _findings(analyser, sandbox, root, root / BASE_TREE, base_files, limits)
    run.change_findings = len(change)
    if base is None:
        # Without the base there is no difference to take: findings on changed lines count.
        run.detail = f"did not run on the base ({problem}); findings on changed lines count as new"
        base = [f for f in change if f.line not in changed_lines.get(f.file, set())]
    else:
        run.base_errors = sum(f.level == "error" for f in base)
    run.base_findings = len(base)
    new = introduced(base, change, changed_lines)
    analysis.new.extend(new)
    analysis.preexisting += len(change) - len(new)
    run.duration_s = time.monotonic() - started


async def _findings(
    analyser: Analyser,
    sandbox: Sandbox,
    root: Path,
    tree: Path,
    files: list[str],
    limits: Limits,
) -> tuple[list[Finding] | None, str]:
    """The analyser's findings on `tree` (None and why when it could not run)."""
    findings: list[Finding] = []
    for command in analyser.commands(files):
        if tree != root:
            command = ["env", "-C", str(tree.relative_to(root)), *command]
        result = await sandbox.run(command, workdir=root, limits=limits, env=analyser.env)
        output = result.stderr if analyser.stream == "stderr" else result.stdout
        if result.limit_hit is not None:
            return None, f"the sandbox stopped it ({result.limit_hit} limit)"
        if result.exit_code not in analyser.ok_exits:
            tail = (result.stderr or result.stdout).strip()[-300:]
            return None, f"exit {result.exit_code}: {tail}"
        if result.exit_code == 0 and analyser.per_file:
            continue
        try:
            findings.extend(analyser.parse(output, tree))
        except (ValueError, KeyError, TypeError) as exc:
            return None, f"unreadable output ({exc.__class__.__name__}: {exc})"
    return findings, ""


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise WorkspaceError(f"git {args[0]} failed: {result.stderr.strip()}", "check the clone")
    return result.stdout


def _plain_directory(path: Path, *, empty: bool = False) -> None:
    """Make `path` a real directory of the workspace: the sandboxed test run may have left a
    symlink (to anywhere on the host) or a file there; those are removed, never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif empty and path.exists():
        shutil.rmtree(path)
    path.mkdir(exist_ok=True)


def _extract_base(
    root: Path, base: str, tree: Path, present: list[str], *, whole: bool
) -> list[str]:
    """Write the base commit's files into `tree`: all of them, or the changed files and configs.

    Returns the changed files that exist in the base."""
    _plain_directory(tree.parent)
    _plain_directory(tree, empty=True)
    tracked = set(_git(root, "ls-tree", "-r", "--name-only", base).splitlines())
    wanted = (
        [] if whole else sorted(p for p in tracked if p in present or Path(p).name in CONFIG_FILES)
    )
    if whole or wanted:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", base, "--", *wanted],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise WorkspaceError(
                f"git archive of the base failed: {archive.stderr.decode(errors='replace')}",
                "check that the base commit exists in the clone",
            )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
    _link_environment(root, tree, tracked)
    return [p for p in present if p in tracked]


def _link_environment(root: Path, tree: Path, tracked: set[str]) -> None:
    """Link the prepared environment into the base tree: the root's `.venv` and `node_modules`,
    and the `node_modules` of every folder of the base that has one (a workspace's packages), so
    the base resolves its imports as the change does (a workspace package's link to a sibling
    resolves to the change's sibling: the base has no build of its own)."""
    folders = {Path(p).parent for p in tracked}
    folders |= {parent for folder in list(folders) for parent in folder.parents}
    wanted = [Path(name) for name in SHARED]
    wanted += [f / "node_modules" for f in sorted(folders) if f != Path(".")]
    for link in wanted:
        absent = not (root / link).exists() or not (tree / link).parent.is_dir()
        if absent or (tree / link).exists():
            continue
        up = Path(*[".."] * (len(link.parts) - 1 + len(BASE_TREE.split("/"))))
        (tree / link).symlink_to(up / link)
