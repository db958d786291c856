"""Prepared Python environments kept per repository and dependency key, restored by copy.

After a setup succeeds, its `.venv` is copied into the repository's cache under the plan's key
(which changes with any lock or manifest file, setup command or installer: `EnvironmentPlan.key`)
and the Python that made it. A later run whose plan has the same key gets a fresh copy instead
of installing again. Safe by construction:
- a copy, never a link: nothing a run does to its environment reaches the kept one, or the next
  run's;
- kept atomically: copied into a temporary folder, described, then renamed into place; a folder
  without its description (a worker killed while keeping it) is never restored, and an
  environment is kept only after its setup succeeded (a worker killed mid-setup keeps nothing);
- the absolute paths a venv holds (script shebangs, `.pth` files, editable-install finders,
  `direct_url.json`) name the workspace that made it: they are rewritten to the new workspace.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

VENV = ".venv"
RESTORED_NOTE_START = "environment restored"
RESTORED_NOTE = (
    f"{RESTORED_NOTE_START}: a copy of the one an earlier run prepared from the same dependency "
    "files and setup commands (nothing installed; paths rewritten to this workspace)"
)
DESCRIPTION = "kept.json"
KEEP_PER_REPOSITORY = 3
_REWRITE_MAX_BYTES = 4_000_000


def _folder(cache_root: Path, key: str) -> Path:
    python = platform.python_version()
    return cache_root / "environments" / f"{key[:32]}-py{python}"


def keep(cache_root: Path, key: str, workspace: Path) -> Path | None:
    """Keep a copy of the workspace's prepared `.venv` under `key`; its folder, or None."""
    final = _folder(cache_root, key)
    if (final / DESCRIPTION).is_file():
        return final  # already kept (by this run's earlier attempt, or another worker)
    staging = final.parent / f".staging-{uuid.uuid4().hex}"
    try:
        staging.mkdir(parents=True)
        _copy(workspace / VENV, staging / VENV)
        description = {"key": key, "workspace": str(workspace), "kept_at": time.time()}
        (staging / DESCRIPTION).write_text(json.dumps(description))
        shutil.rmtree(final, ignore_errors=True)  # a folder without description: half kept
        os.rename(staging, final)
    except OSError as exc:
        logger.warning("prepared environment not kept: %s", exc)
        shutil.rmtree(staging, ignore_errors=True)
        return None
    _prune(final.parent)
    return final


def restore(cache_root: Path, key: str, workspace: Path) -> bool:
    """Copy the environment kept under `key` into the workspace; False when there is none."""
    folder = _folder(cache_root, key)
    try:
        description = json.loads((folder / DESCRIPTION).read_text())
    except (OSError, ValueError):
        return False
    target = workspace / VENV
    shutil.rmtree(target, ignore_errors=True)
    try:
        _copy(folder / VENV, target)
    except OSError as exc:
        logger.warning("kept environment %s not restored: %s", folder.name, exc)
        shutil.rmtree(target, ignore_errors=True)
        return False
    os.utime(folder)  # recently used: pruned last
    rewrite_paths(target, str(description["workspace"]), str(workspace))
    return True


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
