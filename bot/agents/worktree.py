"""The coder's working tree in the edit-run loop: which paths it edited, and their state.

The change is the working tree at `submit`, limited to the paths the coder edited: files a
command wrote on the side (caches, reports, a conftest planted by a `run`) are never part of it.
`snapshot()` is that state as whole-file edits relative to HEAD, stored after every edit so a
worker killed mid-loop resumes from it (`restore`) instead of replaying edits.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from bot.contracts import CodeChange, EditOperation, FileEdit
from bot.environment.prepare import exclude_scratch
from bot.errors import WorkspaceError
from bot.repo.workspace import Workspace


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
