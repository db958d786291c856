"""The planner: issue + repository map + retrieved files -> ImplementationPlan. Writes no code."""

from __future__ import annotations

from bot.agents.prompting import file_blocks, messages
from bot.contracts import ImplementationPlan
from bot.llm import Completion, ModelClient
from bot.security.untrusted import as_data


class Planner:
    """Plans a change; its only tool is what it is shown (no write access of any kind)."""

    def __init__(self, llm: ModelClient) -> None:
        self.llm = llm

    async def run(
        self, *, title: str, body: str, repo_map: str, files: dict[str, str], source: str
    ) -> Completion[ImplementationPlan]:
        """Ask for the plan of the issue `title`/`body` given the repository context."""
        prompt = messages(
            "planner",
            "The issue to plan:",
            as_data(f"{title}\n\n{body}", source=source, kind="issue"),
            "The repository's files:",
            as_data(repo_map, source="repository map", kind="tree"),
            "Files that look relevant:",
            file_blocks(files),
        )
        return await self.llm.complete("planner", prompt, ImplementationPlan)
