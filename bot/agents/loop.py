"""The coder's edit-run loop: `edit`, `run` and `submit` beside the read-only tools.

- `edit` writes the run's working tree (search/replace, or a whole file); it is refused outside
  the repository (bot.repo.workspace's path checks) and on paths the policy forbids, and a Python
  file the edit would leave with a syntax error is not written: the error is answered at once.
- `run` is one shell command in the check-phase sandbox (no network, an empty environment: no
  secret, the run's limits), on the prepared environment (`.venv/bin`, `node_modules/.bin` first
  on PATH); the answer is its exit code and the head and tail of its output, with how much was cut.
- `submit` ends the loop; the change is the working tree of the edited paths (bot.agents.worktree).

Every step (tool, arguments, exit code, the head of its answer) goes to `on_step`, and the
working tree's snapshot to `on_edit` after every edit that changed it: the run core stores both.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.model.base import Tool
from bot.model.parts import is_error
from bot.policy.decide import Policy, evaluate
from bot.repo.workspace import Workspace
from bot.sandbox.base import TOOLBOX_MOUNT, Limits, Sandbox
from bot.security.untrusted import as_data
from bot.shared.contracts import CodeChange, EditOperation, FileEdit, Gate, SearchReplace
from bot.shared.errors import BudgetExhausted, DraftsmithError, RunStopped, WorkspaceError

RUN_WALL_TIME_S = 300.0
"""The longest one `run` may take (the run's own sandbox limits apply when lower)."""
OUTPUT_HEAD = 2_500
OUTPUT_TAIL = 2_500
STEP_HEAD = 1_500
"""How much of each step's answer the transcript keeps."""


@dataclass(frozen=True)
class LoopStep:
    """One step of the loop, as stored in the transcript and shown on the run page."""

    step: int
    tool: str
    arguments: dict[str, Any]
    exit_code: int | None
    output_head: str
    seconds: float


def head_and_tail(text: str, head: int = OUTPUT_HEAD, tail: int = OUTPUT_TAIL) -> str:
    """`text`, or its head and tail with a line saying how many characters were cut."""
    if len(text) <= head + tail:
        return text
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} of {len(text)} characters cut ...]\n{text[-tail:]}"


def command_env(root: Path) -> dict[str, str]:
    """The environment of a `run`: the project's prepared tools first on PATH, nothing else."""
    dirs = [str(root / ".venv" / "bin"), str(root / "node_modules" / ".bin")]
    prefix = Path(sys.base_prefix).resolve()
    if not str(prefix).startswith("/usr/"):
        dirs.append(str(prefix / "bin"))
    dirs += ["/usr/local/bin", "/usr/bin", "/bin"]
    env = {"PATH": ":".join(dirs), "PYTHONDONTWRITEBYTECODE": "1", "CI": "1"}
    if not (root / ".venv" / "bin" / "python").exists():
        env["PYTHONPATH"] = TOOLBOX_MOUNT  # pytest from Draftsmith's toolbox
    return env


def syntax_error(path: str, text: str | None) -> str | None:
    """Python's complaint about `text` when `path` is a Python file that does not compile."""
    if text is None or not path.endswith(".py"):
        return None
    try:
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{path}:{exc.lineno}:{exc.offset}: {exc.msg}"
    except ValueError as exc:  # e.g. null bytes
        return f"{path}: {exc}"
    return None


@dataclass
class CoderLoop:
    """The state of one revision's loop: the tree, the steps, and where they are stored."""

    workspace: Workspace
    sandbox: Sandbox
    limits: Limits
    policy: Policy
    touch: Callable[[str], None]
    changed: Callable[[], bool]
    on_edit: Callable[[], None]
    on_step: Callable[[LoopStep], None]
    first_step: int = 1
    steps: int = field(default=0, init=False)

    # -- tools --------------------------------------------------------------------------------
    def edit(
        self,
        path: str,
        search: str | None = None,
        replace: str | None = None,
        content: str | None = None,
        delete: bool = False,
    ) -> str:
        """Change one file of the working tree; the answer says what happened."""
        decision = evaluate([path], {}, self.policy)
        if decision.gate is Gate.blocked:
            return f"error: refused: {'; '.join(decision.reasons)} (the policy forbids it)"
        target = self.workspace.resolve(path)  # WorkspaceError outside the repository
        try:
            before = target.read_text(encoding="utf-8") if target.is_file() else None
        except UnicodeDecodeError:
            return f"error: {path} is not UTF-8 text: binary files are not edited"
        if self._ignored(path):
            return (
                f"error: refused: {path} is ignored by git (the environment, caches, reports): "
                "it could never be part of the change"
            )
        if delete:
            edit = FileEdit(path=path, operation=EditOperation.delete)
        elif content is not None:
            operation = EditOperation.create if before is None else EditOperation.update
            edit = FileEdit(path=path, operation=operation, content=content)
        elif search is not None and replace is not None:
            blocks = [SearchReplace(search=search, replace=replace)]
            edit = FileEdit(path=path, operation=EditOperation.update, blocks=blocks)
        else:
            return "error: give `content` (whole file), `search` and `replace`, or `delete`"
        self.workspace.apply(CodeChange(edits=[edit], explanation="loop edit"))
        after = target.read_text(encoding="utf-8") if target.is_file() else None
        problem = syntax_error(path, after)
        if problem and not syntax_error(path, before):
            self._put_back(target, before)
            return f"error: not written: the edit leaves a syntax error: {problem}"
        self.touch(path)
        self.on_edit()
        if after is None:
            return f"deleted {path}"
        return f"{path}: {len(after.splitlines())} lines written"

    def _ignored(self, path: str) -> bool:
        try:
            self.workspace.git("check-ignore", "--quiet", "--", path)
        except WorkspaceError:
            return False  # exit 1: not ignored
        return True

    @staticmethod
    def _put_back(target: Path, before: str | None) -> None:
        if before is None:
            target.unlink(missing_ok=True)
        else:
            target.write_text(before, encoding="utf-8")

    async def run(self, command: str) -> str:
        """One shell command in the sandbox; exit code and the head and tail of its output."""
        if not command.strip():
            return "error: give a command"
        limits = replace(self.limits, wall_time_s=min(self.limits.wall_time_s, RUN_WALL_TIME_S))
        root = self.workspace.root
        result = await self.sandbox.run(
            ["/bin/sh", "-c", command],
            workdir=root,
            limits=limits,
            network=False,
            env=command_env(root),
        )
        output = "\n".join(part for part in (result.stdout, result.stderr) if part)
        status = f"exit code: {result.exit_code} ({result.duration_s:.2f}s)"
        if result.limit_hit is not None:
            status += f"; stopped by the {result.limit_hit} limit"
        shown = head_and_tail(output)
        size = f"{len(output)} characters" + (", cut" if shown != output else "")
        body = as_data(shown, source=f"command {command[:200]!r}", kind="command output")
        return f"{status}\noutput ({size}):\n{body}"

    def submit(self, explanation: str, dependencies_added: list[str] | None = None) -> str:
        """End the loop: the working tree is the change (refused while it changes nothing)."""
        if not self.changed():
            return (
                "error: nothing to submit: the working tree holds no change yet (edit files "
                "first; only files changed with `edit` are part of the change)"
            )
        answer = {"explanation": explanation, "dependencies_added": dependencies_added or []}
        return json.dumps(answer)

    # -- plumbing -----------------------------------------------------------------------------
    def tools(self, read_only: list[Tool]) -> list[Tool]:
        """The read-only tools plus edit, run and submit, each step recorded."""
        loop_tools = [
            Tool("edit", EDIT_DOC, EDIT_SCHEMA, self.edit),
            Tool("run", RUN_DOC, RUN_SCHEMA, self.run),
            Tool("submit", SUBMIT_DOC, SUBMIT_SCHEMA, self.submit, final=True),
        ]
        return [self._recorded(t) for t in [*read_only, *loop_tools]]

    def _recorded(self, tool: Tool) -> Tool:
        handler = tool.handler

        async def recorded(**arguments: Any) -> str:
            started = time.monotonic()
            try:
                result = handler(**arguments)
                answer = str(await result if inspect.isawaitable(result) else result)
            except (RunStopped, BudgetExhausted):
                raise
            except DraftsmithError as exc:  # refused paths, failed edits: the model is told
                answer = f"error: {exc}"
            self.steps += 1
            exit_code = _exit_code(answer) if tool.name == "run" else None
            self.on_step(
                LoopStep(
                    step=self.first_step + self.steps - 1,
                    tool=tool.name,
                    arguments={k: _short(v) for k, v in arguments.items()},
                    exit_code=exit_code,
                    output_head=answer[:STEP_HEAD],
                    seconds=round(time.monotonic() - started, 3),
                )
            )
            return answer

        return replace(tool, handler=recorded)


def _exit_code(answer: str) -> int | None:
    if is_error(answer) or not answer.startswith("exit code: "):
        return None
    return int(answer.removeprefix("exit code: ").split(" ", 1)[0])


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 2_000:
        return value[:2_000] + f"[... {len(value) - 2_000} characters]"
    return value


EDIT_DOC = (
    "Edit one file of the working tree: `search` (copied exactly, matching once) and `replace`; "
    "or `content` to write the whole file (creates it when missing); or `delete`: true."
)
EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Repository-relative path"},
        "search": {"type": "string", "description": "Exact text to replace (matches once)"},
        "replace": {"type": "string", "description": "Text that replaces `search`"},
        "content": {"type": "string", "description": "Whole new file content"},
        "delete": {"type": "boolean", "description": "Delete the file"},
    },
    "required": ["path"],
}
RUN_DOC = (
    "Run one shell command in the repository (sandboxed: no network, no secrets, time-limited; "
    "the project's environment is first on PATH). Answers the exit code and the output's head "
    "and tail."
)
RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"command": {"type": "string", "description": "e.g. python -m pytest -x -q"}},
    "required": ["command"],
}
SUBMIT_DOC = "Submit the working tree as your change, with an explanation. Ends your turn."
SUBMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "explanation": {"type": "string", "description": "What was changed and why"},
        "dependencies_added": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["explanation"],
}
