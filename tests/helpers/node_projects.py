"""Small real JavaScript projects for tests: lock files made by the real npm from the registry,
and one npm download cache kept between test sessions so that installs stay fast.

The cache is `$DRAFTSMITH_TEST_NPM_CACHE`, else `~/.cache/draftsmith-tests/npm`; lock files are
kept beside it, keyed by the package.json they lock. A run's own download cache is seeded from it
before the run and folded back after (bot.environment.cache keeps one per repository).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.environment.cache import RepositoryCache
from bot.shared.config import Settings


def shared_cache_dir() -> Path:
    """Where the shared npm cache and the lock files live."""
    configured = os.environ.get("DRAFTSMITH_TEST_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "draftsmith-tests"


def npm_lock(manifest: dict[str, Any]) -> str:
    """package-lock.json for `manifest`, resolved by the real npm (kept per manifest)."""
    text = json.dumps(manifest, indent=2) + "\n"
    kept = shared_cache_dir() / "locks" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if kept.is_file():
        return kept.read_text()
    if shutil.which("npm") is None:
        pytest.skip("needs npm")
    work = kept.parent / f"{kept.stem}.work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "package.json").write_text(text)
    result = subprocess.run(
        ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund",
         "--cache", str(shared_cache_dir() / "npm")],
        cwd=work, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"npm could not lock {manifest}: {result.stderr[-2000:]}")
    kept.write_text((work / "package-lock.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return kept.read_text()


def locked_project(manifest: dict[str, Any], files: dict[str, str]) -> dict[str, str]:
    """A project's files with its package.json and the real npm's package-lock.json."""
    return {
        "package.json": json.dumps(manifest, indent=2) + "\n",
        "package-lock.json": npm_lock(manifest),
        **files,
    }


KEPT = ("npm", "yarn", "corepack", "pnpm-store")
"""The download caches of bot.environment.node's setup variables that are worth keeping."""


def seed_downloads(cache: RepositoryCache, root: Path) -> Path:
    """Give a run of `root` the shared downloads as its repository's download cache; returns
    that cache's directory (computed now: an install may add a lock file, which changes it)."""
    downloads = cache.downloads(root)
    for name in KEPT:
        if (shared_cache_dir() / name).is_dir():
            shutil.copytree(
                shared_cache_dir() / name, downloads / name, dirs_exist_ok=True, symlinks=True
            )
    return downloads


def keep_downloads(downloads: Path) -> None:
    """Fold what a run downloaded (`seed_downloads`' directory) back into the shared downloads."""
    for name in KEPT:
        if (downloads / name).is_dir():
            shutil.copytree(
                downloads / name, shared_cache_dir() / name, dirs_exist_ok=True, symlinks=True
            )


def run_cache(settings: Settings, repo: Path) -> RepositoryCache:
    """The repository cache a local pipeline run of `repo` uses (bot.run.steps.setup)."""
    return RepositoryCache(settings.work_dir / "cache", repo.name)
