"""One run's git working copy: clone, branch, apply edits atomically, commit, diff, read."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.shared.contracts import CodeChange, EditOperation, FileEdit
from bot.shared.errors import WorkspaceError

logger = logging.getLogger(__name__)

BOT_NAME = "draftsmith[bot]"
BOT_EMAIL = "draftsmith[bot]@users.noreply.github.com"
BRANCH_PREFIX = "draftsmith/"
MAX_SLUG = 40
GIT_TIMEOUT_S = 300.0
_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask_url(text: str) -> str:
    """Hide `user:password@` (or `token@`) in any URL inside `text`."""
    return _CREDENTIALS.sub(r"\1***@", text)


def slugify(title: str, max_len: int = MAX_SLUG) -> str:
    """A lowercase ASCII slug of `title`, words joined by '-', at most `max_len` characters."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:max_len]
    return slug or "change"


def branch_name(title: str, issue: int | None = None) -> str:
    """`draftsmith/<issue>-<slug>`, or `draftsmith/<slug>` for a local run without an issue."""
    slug = slugify(title)
    return f"{BRANCH_PREFIX}{issue}-{slug}" if issue is not None else f"{BRANCH_PREFIX}{slug}"


@dataclass(frozen=True)
class SearchHit:
    """One line matching a workspace search."""

    path: str
    line: int
    text: str


def _run_git(args: list[str], cwd: Path | None, env: dict[str, str] | None = None) -> str:
    shown = mask_url(" ".join(args))
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise WorkspaceError("git is not installed", "install git on the worker machine") from exc
    except subprocess.TimeoutExpired as exc:
        raise WorkspaceError(
            f"git {shown} took longer than {GIT_TIMEOUT_S:.0f}s", "check the remote and network"
        ) from exc
    if proc.returncode != 0:
        raise WorkspaceError(
            f"git {shown} failed ({proc.returncode}): {mask_url(proc.stderr.strip())[:2000]}",
            "check the repository URL, the ref and the credentials",
        )
    return proc.stdout


class Workspace:
    """A git working copy that belongs to one run."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        if not (self.root / ".git").exists():
            raise WorkspaceError(f"{self.root} is not a git repository", "clone it first")

    @classmethod
    def clone(
        cls, url: str, dest: Path, ref: str | None = None, env: Mapping[str, str] | None = None
    ) -> Workspace:
        """Clone `url` (a URL or local path) into the fresh directory `dest`, checking out `ref`;
        `env` adds to git's environment (credentials: `bot.github.client.git_credentials`)."""
        if dest.exists() and any(dest.iterdir()):
            raise WorkspaceError(f"{dest} is not empty", "give each run a fresh directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        logger.info("cloning %s into %s", mask_url(url), dest)
        _run_git(
            ["clone", "--quiet", "--no-hardlinks", url, str(dest)],
            cwd=None,
            env={**os.environ, **env} if env else None,
        )
        ws = cls(dest)
        if ref is not None:
            ws.git("checkout", "--quiet", "--detach", ref)
        return ws

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run one git command in the workspace and return its stdout; WorkspaceError on failure.

        `env` adds to git's environment (credentials, never on the command line)."""
        env = {**os.environ, **(env or {})}
        env.update(
            GIT_AUTHOR_NAME=BOT_NAME,
            GIT_AUTHOR_EMAIL=BOT_EMAIL,
            GIT_COMMITTER_NAME=BOT_NAME,
            GIT_COMMITTER_EMAIL=BOT_EMAIL,
            GIT_TERMINAL_PROMPT="0",
        )
        # Never run hooks or an fsmonitor from the repository: its content is untrusted.
        safe = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]
        return _run_git([*safe, *args], cwd=self.root, env=env)

    def head(self) -> str:
        """The sha of HEAD."""
        return self.git("rev-parse", "HEAD").strip()

    def current_branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached."""
        name = self.git("rev-parse", "--abbrev-ref", "HEAD").strip()
        return None if name == "HEAD" else name

    def create_branch(self, title: str, issue: int | None = None) -> str:
        """Check out the run's branch (created from HEAD, or reused on resume); returns its name."""
        name = branch_name(title, issue)
        exists = self.git("branch", "--list", name).strip() != ""
        if exists:
            self.git("checkout", "--quiet", name)
        else:
            self.git("checkout", "--quiet", "-b", name)
        return name

    # -- paths -------------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The absolute path of repo-relative `path`; refuses anything that leaves the tree."""
        if not path or "\x00" in path:
            raise WorkspaceError(f"invalid path {path!r}", "give a repository-relative path")
        if "\\" in path:
            raise WorkspaceError(f"{path}: backslashes are not allowed", "use '/' separators")
        pure = PurePosixPath(path)
        if pure.is_absolute() or re.match(r"^[A-Za-z]:", path):
            raise WorkspaceError(f"{path}: absolute paths are refused", "use a repo-relative path")
        if ".." in pure.parts:
            raise WorkspaceError(f"{path}: '..' is refused", "use a path inside the repository")
        if ".git" in pure.parts:
            raise WorkspaceError(f"{path}: nothing under .git/ may be touched", "edit source files")
        resolved = (self.root / pure).resolve()
        try:
            rel = resolved.relative_to(self.root)
        except ValueError:
            raise WorkspaceError(
                f"{path}: resolves through a symlink to {resolved}, outside the repository",
                "edit the file inside the repository instead of the link",
            ) from None
        if ".git" in rel.parts:
            raise WorkspaceError(f"{path}: resolves into .git/ ({rel})", "edit source files only")
        return resolved

    # -- edits -------------------------------------------------------------------------------

    def apply(self, change: CodeChange) -> list[str]:
        """Validate every edit, then write them all (or nothing); returns the paths changed."""
        planned: dict[Path, str | None] = {}
        order: list[tuple[Path, str]] = []
        problems: list[str] = []
        for number, edit in enumerate(change.edits, start=1):
            try:
                target = self._target(edit)
                current = planned[target] if target in planned else self._read_current(target)
                planned[target] = self._edited(number, edit, current)
                if (target, edit.path) not in order:
                    order.append((target, edit.path))
            except WorkspaceError as exc:
                advice = f" ({exc.hint})" if exc.hint else ""
                problems.append(f"edit {number} ({edit.path}): {exc.message}{advice}")
        if problems:
            raise WorkspaceError(
                "the change was not applied, nothing was written: " + "; ".join(problems),
                "fix the edits named and send the whole change again",
            )
        self._write_all(planned)
        changed = [shown for _, shown in order]
        logger.info("applied %d edit(s) to %d file(s)", len(change.edits), len(changed))
        return changed

    def _target(self, edit: FileEdit) -> Path:
        target = self.resolve(edit.path)
        link = self.root / edit.path
        if edit.operation is EditOperation.delete and link.is_symlink():
            return self.resolve(str(PurePosixPath(edit.path).parent)) / link.name
        return target

    def _read_current(self, target: Path) -> str | None:
        if target.is_symlink():
            return ""  # deleting an in-tree link: its own text is never read

        if target.is_dir():
            raise WorkspaceError("is a directory", "edit files, not directories")
        if not target.exists():
            return None
        try:
            return target.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WorkspaceError("is not UTF-8 text", "do not edit binary files") from None

    @staticmethod
    def _edited(number: int, edit: FileEdit, current: str | None) -> str | None:
        if edit.operation is EditOperation.create:
            if current is not None:
                raise WorkspaceError("already exists", "use operation 'update' for existing files")
            return edit.content
        if current is None:
            raise WorkspaceError("does not exist", "use operation 'create' for new files")
        if edit.operation is EditOperation.delete:
            return None
        if edit.content is not None:
            return edit.content
        text = current
        for index, block in enumerate(edit.blocks, start=1):
            if not block.search:
                raise WorkspaceError(f"block {index}: empty search text", "quote the lines to edit")
            count = text.count(block.search)
            if count != 1:
                raise WorkspaceError(
                    f"block {index}: search text matched {count} times"
                    f"{_where(text, block.search)}, it must match exactly once",
                    "copy the lines exactly from the current file"
                    if count == 0
                    else "include more surrounding lines to make the search text unique",
                )
            text = text.replace(block.search, block.replace, 1)
        return text

    def _write_all(self, planned: dict[Path, str | None]) -> None:
        backups: dict[Path, bytes | None] = {
            t: (t.read_bytes() if t.exists() else None) for t in planned
        }
        created_dirs: list[Path] = []
        done: list[Path] = []
        try:
            for target, content in planned.items():
                if content is None:
                    target.unlink()
                else:
                    created_dirs.extend(_make_parents(target.parent, self.root))
                    _atomic_write(target, content)
                done.append(target)
        except OSError as exc:
            for target in done:
                original = backups[target]
                if original is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_bytes(original)
            for directory in reversed(created_dirs):
                if directory.exists() and not any(directory.iterdir()):
                    directory.rmdir()
            raise WorkspaceError(
                f"writing the change failed ({exc}); it was rolled back", "check disk space"
            ) from exc

    # -- git results ---------------------------------------------------------------------------

    def commit(self, message: str) -> str:
        """Stage everything and commit it as draftsmith[bot]; returns the new sha."""
        self.git("add", "--all")
        if not self.git("status", "--porcelain").strip():
            raise WorkspaceError("nothing to commit", "apply a change before committing")
        self.git("commit", "--quiet", "--no-verify", "-m", message)
        return self.head()

    def diff(self, base: str, head: str = "HEAD") -> str:
        """The unified diff from `base` to `head` (commit first to include new edits)."""
        return self.git("diff", "--no-color", "--no-ext-diff", base, head)

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Paths that differ between `base` and `head`."""
        out = self.git("diff", "--name-only", "--no-renames", base, head)
        return [line for line in out.splitlines() if line]

    # -- read-only helpers for the coder's tools ----------------------------------------------

    def tracked_files(self) -> list[str]:
        """Every tracked file plus untracked, unignored ones, as repo paths."""
        out = self.git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
        return sorted({p for p in out.split("\x00") if p})

    def read_file(self, path: str, max_bytes: int = 100_000) -> str:
        """The text of a repo file, cut at `max_bytes` with a note when longer."""
        target = self.resolve(path)
        if not target.is_file():
            raise WorkspaceError(f"{path}: no such file", "list the directory to see what exists")
        data = target.read_bytes()
        text = data[:max_bytes].decode("utf-8", errors="replace")
        if len(data) > max_bytes:
            text += f"\n[... cut at {max_bytes} of {len(data)} bytes]"
        return text

    def list_dir(self, path: str = ".") -> list[str]:
        """Entries of a repo directory (directories end with '/'), without .git."""
        target = self.root if path in ("", ".", "./") else self.resolve(path)
        if not target.is_dir():
            raise WorkspaceError(f"{path}: not a directory", "list '.' to start from the root")
        entries = []
        for child in sorted(target.iterdir()):
            if child.name == ".git":
                continue
            entries.append(child.name + "/" if child.is_dir() else child.name)
        return entries

    def search(self, pattern: str, max_hits: int = 50, regex: bool = False) -> list[SearchHit]:
        """Lines of tracked text files matching `pattern` (plain text unless `regex`)."""
        try:
            compiled = re.compile(pattern if regex else re.escape(pattern))
        except re.error as exc:
            raise WorkspaceError(f"invalid regex {pattern!r}: {exc}", "fix the pattern") from exc
        hits: list[SearchHit] = []
        for rel in self.tracked_files():
            target = self.root / rel
            if target.is_symlink() or not target.is_file() or target.stat().st_size > 2_000_000:
                continue
            data = target.read_bytes()
            if b"\x00" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if compiled.search(line):
                    hits.append(SearchHit(rel, number, line[:300]))
                    if len(hits) >= max_hits:
                        return hits
        return hits


def _where(text: str, needle: str) -> str:
    if not needle or needle not in text:
        return ""
    lines: list[int] = []
    start = 0
    while (found := text.find(needle, start)) != -1 and len(lines) < 10:
        lines.append(text.count("\n", 0, found) + 1)
        start = found + len(needle)
    return " (at lines " + ", ".join(str(n) for n in lines) + ")"


def _make_parents(directory: Path, root: Path) -> list[Path]:
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != root:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _atomic_write(target: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".draftsmith-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
        if target.exists():
            shutil.copymode(target, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
