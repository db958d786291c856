"""Per-repository caches kept between runs: package downloads and the base suite's result.

Downloads (pip, uv, npm caches) are keyed by repository and lock file: a run borrows the
directory by renaming it into its workspace (the sandbox sees only the workspace) and gives it
back after setup. Two runs of one repository at once: the second finds nothing to borrow and
downloads anew; whichever gives back last wins. Nothing here is trusted for correctness: a cache
only saves downloads, the installers verify what they take from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.environment.detect import LOCKFILES

logger = logging.getLogger(__name__)

LENT_DIR = ".draftsmith/downloads"


def repository_key(repo: str) -> str:
    """A directory name for a repository (`owner/name`, a URL or a local path)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", repo.strip().rstrip("/"))[-60:].strip("-.")
    return f"{readable or 'repo'}-{hashlib.sha256(repo.encode()).hexdigest()[:10]}"


def lock_key(root: Path) -> str:
    """A digest of the repository's lock files (or `unlocked` when it has none)."""
    digest = hashlib.sha256()
    found = False
    for name in LOCKFILES:
        path = root / name
        if path.is_file():
            found = True
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16] if found else "unlocked"


class RepositoryCache:
    """The cache directory of one repository under Draftsmith's work directory."""

    def __init__(self, base: Path, repo: str) -> None:
        self.root = base / repository_key(repo)

    def downloads(self, workdir: Path) -> Path:
        """Where the download cache of the workspace's lock files is kept."""
        return self.root / "downloads" / lock_key(workdir)

    @contextmanager
    def lend_downloads(self, workdir: Path) -> Iterator[Path]:
        """Move the download cache into the workspace for setup, and back afterwards."""
        kept = self.downloads(workdir)
        lent = workdir / LENT_DIR
        lent.parent.mkdir(parents=True, exist_ok=True)
        if lent.exists():
            shutil.rmtree(lent)
        try:
            os.rename(kept, lent)
            logger.info("download cache %s reused", kept)
        except FileNotFoundError:
            lent.mkdir()
        try:
            yield lent
        finally:
            kept.parent.mkdir(parents=True, exist_ok=True)
            if kept.exists():
                shutil.rmtree(kept, ignore_errors=True)
            try:
                os.rename(lent, kept)
            except OSError as exc:
                logger.warning("download cache not kept: %s", exc)
                shutil.rmtree(lent, ignore_errors=True)

    def _suite_path(self, base_sha: str, environment_key: str) -> Path:
        return self.root / "base-suite" / f"{base_sha}-{environment_key[:16]}.json"

    def base_suite(self, base_sha: str, environment_key: str) -> dict[str, Any] | None:
        """The stored result of the suite on a base commit in this environment, if any."""
        path = self._suite_path(base_sha, environment_key)
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None

    def store_base_suite(self, base_sha: str, environment_key: str, data: dict[str, Any]) -> None:
        """Keep the suite's result on a base commit for later runs of the same base."""
        path = self._suite_path(base_sha, environment_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, path)
