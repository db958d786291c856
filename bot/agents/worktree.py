"""The coder's working tree in the edit-run loop: which paths it edited, and their state.

The change is the working tree at `submit`, limited to the paths the coder edited: files a
command wrote on the side (caches, reports, a conftest planted by a `run`) are never part of it.
`snapshot()` is that state as whole-file edits relative to HEAD, stored after every edit so a
worker killed mid-loop resumes from it (`restore`) instead of replaying edits.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bot.environment.prepare import MARKER, exclude_scratch
from bot.repo.workspace import Workspace
from bot.shared.contracts import CodeChange, EditOperation, FileEdit
from bot.shared.errors import WorkspaceError

ENVIRONMENT_DIRS = (".venv", "node_modules")
"""The prepared environment in the workdir: writable by the loop's commands, read by the tests."""


def environment_fingerprint(root: Path) -> str:
    """A hash of every path, size and modification time of the prepared environment (and its
    marker): a command of the loop that changed the environment changes it."""
    digest = hashlib.sha256()
    for name in (*ENVIRONMENT_DIRS, MARKER):
        top = root / name
        if top.is_file():
            stat = top.stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            continue
        for directory, dirs, files in os.walk(top):
            dirs.sort()
            for file in sorted(files):
                path = Path(directory) / file
                try:
                    stat = path.lstat()
                except OSError:
                    continue
                rel = path.relative_to(root)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def discard_environment(root: Path) -> None:
    """Remove the prepared environment so the next step prepares it again from nothing (or
    from the cache outside the workdir): nothing a command planted in it reaches the tests."""
    (root / MARKER).unlink(missing_ok=True)
    for name in ENVIRONMENT_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)


@dataclass
class WorkingTree:
    """The paths the coder edited in this revision, over the run's workspace."""

    workspace: Workspace
    touched: list[str] = field(default_factory=list)

    def touch(self, path: str) -> None:
        """Remember an edited path (in the order first edited)."""
        if path not in self.touched:
            self.touched.append(path)

    def head_text(self, path: str) -> str | None:
        """The file's text at HEAD, None when HEAD has no such file."""
        try:
            return self.workspace.git("show", f"HEAD:{path}")
        except WorkspaceError:
            return None

    def current_text(self, path: str) -> str | None:
        """The file's text in the working tree, None when it does not exist."""
        target = self.workspace.resolve(path)
        if not target.is_file():
            return None
        try:
            return target.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return None

    def snapshot(self) -> list[FileEdit]:
        """The edited paths as whole-file edits from HEAD (unchanged paths left out)."""
        edits: list[FileEdit] = []
        for path in self.touched:
            before, now = self.head_text(path), self.current_text(path)
            if before == now:
                continue
            if now is None:
                edits.append(FileEdit(path=path, operation=EditOperation.delete))
            elif before is None:
                edits.append(FileEdit(path=path, operation=EditOperation.create, content=now))
            else:
                edits.append(FileEdit(path=path, operation=EditOperation.update, content=now))
        return edits

    def diff(self) -> str:
        """A unified diff of the edited paths against HEAD, for people and the model."""
        parts: list[str] = []
        for path in self.touched:
            before, now = self.head_text(path), self.current_text(path)
            if before == now:
                continue
            parts.extend(
                difflib.unified_diff(
                    (before or "").splitlines(keepends=True),
                    (now or "").splitlines(keepends=True),
                    f"a/{path}" if before is not None else "/dev/null",
                    f"b/{path}" if now is not None else "/dev/null",
                )
            )
        return "".join(p if p.endswith("\n") else p + "\n" for p in parts)

    def clean(self) -> None:
        """Back to HEAD: every uncommitted edit and untracked file goes (the prepared
        environment and reports stay: they are excluded scratch)."""
        exclude_scratch(self.workspace.root)
        self.workspace.git("reset", "--quiet", "--hard", "HEAD")
        self.workspace.git("clean", "-ffdq")

    def restore(self, edits: list[FileEdit]) -> None:
        """A clean tree holding `edits` (the stored snapshot), each applied exactly once."""
        self.clean()
        self.touched = []
        if edits:
            self.workspace.apply(CodeChange(edits=edits, explanation="resumed working tree"))
        for edit in edits:
            self.touch(edit.path)
