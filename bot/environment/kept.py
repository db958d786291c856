"""Prepared environments kept per repository and dependency key, restored by copy.

After a setup succeeds, what it made in the workspace (every path git did not see before it ran
and sees now, untracked or ignored: `.venv` for Python; every `node_modules` of a JavaScript
project or workspace, and what its install scripts built, such as a `prepare` script's `dist/`)
is copied into the repository's cache under the plan's key (which changes with any lock or
manifest file, setup command or installer: `EnvironmentPlan.key`) and the runtime that made it
(`runtime_of`: the Python or Node version, and the sandbox's, such as a Docker image). A later run
whose plan has the same key and runtime gets a fresh copy instead of installing again. Safe by
construction:
- a copy, never a link: nothing a run does to its environment reaches the kept one, or the next
  run's;
- kept atomically: copied into a temporary folder, described, then renamed into place; a folder
  without its description (a worker killed while keeping it) is never restored, and an
  environment is kept only after its setup succeeded (a worker killed mid-setup keeps nothing);
- the absolute paths a venv holds (script shebangs, `.pth` files, editable-install finders,
  `direct_url.json`), a package manager's shims and state files in `node_modules`, and any
  absolute symbolic link into the workspace name the workspace that made it: they are rewritten
  to the new workspace.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import time
import uuid
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

VENV = ".venv"
RESTORED_NOTE_START = "environment restored"
RESTORED_NOTE = (
    f"{RESTORED_NOTE_START}: a copy of the one an earlier run prepared from the same dependency "
    "files and setup commands (nothing installed; paths rewritten to this workspace)"
)
DESCRIPTION = "kept-v2.json"  # v2: the paths setup made (v1 kept `.venv` alone)
KEEP_PER_REPOSITORY = 3
_REWRITE_MAX_BYTES = 4_000_000


@cache
def _node_version() -> str:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip().lstrip("v") or "unknown"


def runtime_of(language: str, sandbox_runtime: str) -> str:
    """What an environment was made with: the language's runtime on the host (the Node the
    sandbox finds on the host's PATH, the bot's Python) and the sandbox's own (`Sandbox.runtime`:
    a Docker image makes its environments with the image's Python and Node)."""
    host = f"node{_node_version()}" if language == "node" else f"py{platform.python_version()}"
    return f"{language} {host} {sandbox_runtime}"


def _folder(cache_root: Path, key: str, runtime: str) -> Path:
    digest = hashlib.sha256(runtime.encode()).hexdigest()[:16]
    return cache_root / "environments" / f"{key[:32]}-{digest}"


def untracked(workspace: Path) -> set[str] | None:
    """The paths git does not track in the workspace, untracked or ignored (a folder whole);
    None when git cannot say (then nothing is kept)."""
    done = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=normal"],
        cwd=workspace,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        logger.warning("environment not kept: git status failed: %s", done.stderr.strip()[:300])
        return None
    entries = (e for e in done.stdout.split("\0") if e[:3] in ("?? ", "!! "))
    return {e[3:].rstrip("/") for e in entries}


def made_by_setup(workspace: Path, before: set[str]) -> list[str] | None:
    """What setup made: the paths untracked now that were not before it ran (not Draftsmith's);
    None when git cannot say."""
    now = untracked(workspace)
    if now is None:
        return None
    return sorted(p for p in now - before if p.split("/")[0] != ".draftsmith")


def keep(
    cache_root: Path,
    key: str,
    workspace: Path,
    language: str,
    before: set[str] | None,
    notes: list[str],
    *,
    runtime: str,
) -> Path | None:
    """Keep a copy of what setup made (the untracked paths that were not `before` it ran) under
    `key` and `runtime` (`runtime_of`), with the setup's notes for the evidence; the kept
    folder, or None."""
    paths = made_by_setup(workspace, before) if before is not None else None
    if paths is None or (language == "python" and VENV not in paths):
        return None
    final = _folder(cache_root, key, runtime)
    if (final / DESCRIPTION).is_file():
        return final  # already kept (by this run's earlier attempt, or another worker)
    staging = final.parent / f".staging-{uuid.uuid4().hex}"
    try:
        staging.mkdir(parents=True)
        for path in paths:
            (staging / "made" / path).parent.mkdir(parents=True, exist_ok=True)
            _copy(workspace / path, staging / "made" / path)
        description = {
            "key": key,
            "workspace": str(workspace),
            "kept_at": time.time(),
            "paths": paths,
            "notes": notes,
        }
        (staging / DESCRIPTION).write_text(json.dumps(description))
        shutil.rmtree(final, ignore_errors=True)  # a folder without description: half kept
        os.rename(staging, final)
    except OSError as exc:
        logger.warning("prepared environment not kept: %s", exc)
        shutil.rmtree(staging, ignore_errors=True)
        return None
    _prune(final.parent)
    return final


def restore(cache_root: Path, key: str, workspace: Path, runtime: str) -> list[str] | None:
    """Copy the environment kept under `key` and `runtime` into the workspace; the notes of the
    setup that made it, or None when there is none."""
    folder = _folder(cache_root, key, runtime)
    try:
        description = json.loads((folder / DESCRIPTION).read_text())
        paths = [str(p) for p in description["paths"]]
        notes = [str(n) for n in description["notes"]]
        old = str(description["workspace"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        for path in paths:
            _remove(workspace / path)
            (workspace / path).parent.mkdir(parents=True, exist_ok=True)
            _copy(folder / "made" / path, workspace / path)
    except OSError as exc:
        logger.warning("kept environment %s not restored: %s", folder.name, exc)
        for path in paths:
            _remove(workspace / path)
        return None
    os.utime(folder)  # recently used: pruned last
    for path in paths:
        target = workspace / path
        if path == VENV:
            rewrite_paths(target, old, str(workspace))
        elif target.name == "node_modules":
            _rewrite_files(_node_state_files(target), old, str(workspace))
        _relink(target, old, str(workspace))
    return notes


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    """A full copy (links kept as links, never hard links): `cp -a`, which shares blocks on a
    file system that can (reflink) and is several times faster than copying in Python."""
    done = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(source), str(target)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise OSError(f"cp -a {source} {target} failed: {done.stderr.strip()[:300]}")


def rewrite_paths(venv: Path, old: str, new: str) -> int:
    """Point the venv's absolute paths at the new workspace; how many files changed."""
    if old == new:
        return 0
    candidates = [p for p in (venv / "bin").glob("*") if p.is_file() and not p.is_symlink()]
    candidates.append(venv / "pyvenv.cfg")
    for site in venv.glob("lib/python3*/site-packages"):
        candidates += list(site.glob("*.pth")) + list(site.glob("__editable__*.py"))
        candidates += list(site.glob("*.dist-info/direct_url.json"))
    return _rewrite_files(candidates, old, new)


def _node_state_files(node_modules: Path) -> list[Path]:
    """pnpm's and yarn's shims (`.bin/*` scripts naming absolute paths) and state files."""
    shims = [p for p in (node_modules / ".bin").glob("*") if p.is_file() and not p.is_symlink()]
    states = [node_modules / n for n in (".modules.yaml", ".yarn-state.yml", ".package-lock.json")]
    return shims + [p for p in states if p.is_file()]


def _rewrite_files(candidates: list[Path], old: str, new: str) -> int:
    if old == new:
        return 0
    changed = 0
    for path in candidates:
        try:
            if path.stat().st_size > _REWRITE_MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if old.encode() in data and b"\0" not in data[:8192]:
            path.write_bytes(data.replace(old.encode(), new.encode()))
            changed += 1
    return changed


def _relink(target: Path, old: str, new: str) -> None:
    """Re-point absolute symbolic links into the old workspace (`find -lname`, no Python walk)."""
    if old == new or not target.is_dir():
        return
    done = subprocess.run(
        ["find", str(target), "-type", "l", "-lname", f"{old}/*", "-print0"],
        capture_output=True,
        text=True,
    )
    for link in filter(None, done.stdout.split("\0")):
        pointed = os.readlink(link)
        os.unlink(link)
        os.symlink(new + pointed[len(old) :], link)


def _prune(folder: Path) -> None:
    """Keep the most recently used environments of the repository; drop the rest."""
    kept = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in kept[KEEP_PER_REPOSITORY:]:
        shutil.rmtree(old, ignore_errors=True)
    for staging in folder.glob(".staging-*"):
        if time.time() - staging.stat().st_mtime > 3600:  # left by a killed worker
            shutil.rmtree(staging, ignore_errors=True)
