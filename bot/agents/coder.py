"""The coder: plan + relevant files (+ feedback on a revision) -> a change in the working tree.

It works in an edit-run loop (bot.agents.loop): read-only views of the workspace, `edit`, `run`
in the sandbox and `submit`, bounded by the run's budgets (each call is a tool call). Its final
answer is a CodeSubmission: the working tree is the change.
"""

from __future__ import annotations

import json

from bot.agents.loop import CoderLoop
from bot.agents.prompting import file_blocks, messages
from bot.model.base import Completion, Model, Tool
from bot.repo.workspace import Workspace
from bot.security.untrusted import as_data
from bot.shared.contracts import CodeSubmission, ImplementationPlan
from bot.shared.errors import WorkspaceError


def repository_tools(workspace: Workspace) -> list[Tool]:
    """search, open_file and list_dir over the workspace; errors are answered, not raised."""

    def search(pattern: str) -> str:
        try:
            hits = workspace.search(pattern, max_hits=30)
        except WorkspaceError as exc:
            return f"error: {exc.message}"
        lines = [f"{h.path}:{h.line}: {h.text}" for h in hits]
        text = "\n".join(lines) or "no matches"
        return as_data(text, source=f"search {pattern!r}", kind="search")

    def open_file(path: str) -> str:
        try:
            return as_data(workspace.read_file(path), source=f"file {path}", kind="file")
        except WorkspaceError as exc:
            return f"error: {exc.message}"

    def list_dir(path: str = ".") -> str:
        try:
            return "\n".join(workspace.list_dir(path)) or "(empty)"
        except WorkspaceError as exc:
            return f"error: {exc.message}"

    def one(name: str, description: str, required: bool = True) -> dict[str, object]:
        return {
            "type": "object",
            "properties": {name: {"type": "string", "description": description}},
            "required": [name] if required else [],
        }

    return [
        Tool(
            "search",
            "Search the repository's tracked files for a text.",
            one("pattern", "Text to find"),
            search,
        ),
        Tool(
            "open_file",
            "Read one repository file.",
            one("path", "Repository path"),
            open_file,
        ),
        Tool(
            "list_dir",
            "List a repository directory.",
            one("path", "Repository directory", required=False),
            list_dir,
        ),
    ]


class Coder:
    """Writes the change in the working tree through the loop's tools."""

    def __init__(
        self, llm: Model, workspace: Workspace, loop: CoderLoop, tool_budget: int = 20
    ) -> None:
        self.llm = llm
        self.workspace = workspace
        self.loop = loop
        self.tool_budget = tool_budget

    async def run(
        self,
        *,
        plan: ImplementationPlan,
        files: dict[str, str],
        feedback: list[str],
        revision: int,
        guidance: str = "",
        resumed: str = "",
        sampling: dict[str, int] | None = None,
    ) -> Completion[CodeSubmission]:
        """Work on `plan` until `submit`; `feedback` lists what to fix on a revision.

        `guidance` is the repository's instruction files, already wrapped as data; `resumed`
        says what an earlier, interrupted loop of this revision left in the working tree;
        `sampling` sets one candidate's seed when several coders work on the revision."""
        sections = [
            guidance,
            "The approved plan:",
            json.dumps(plan.model_dump(mode="json"), indent=2),
            "Current content of the files in the plan and related files:",
            file_blocks(files),
        ]
        if feedback:
            sections += [
                f"This is revision {revision}. Fix every problem below:",
                "\n".join(
                    as_data(f, source="revision feedback", kind="feedback") for f in feedback
                ),
            ]
        if resumed:
            sections.append(resumed)
        prompt = messages("coder", *sections)
        completion = await self.llm.complete(
            "coder",
            prompt,
            CodeSubmission,
            tools=self.loop.tools(repository_tools(self.workspace)),
            tool_budget=self.tool_budget,
            sampling=sampling,
        )
        completion.value.revision = revision
        return completion
