"""The repository's instruction files for a step, read from the run's base commit.

Each step asks for the guidance that applies to the paths it works on (the planner: none yet,
so the root files; the coder: the plan's files; the reviewer and tester: the changed files).
Files applied are recorded once in the `instructions` artifact (the evidence lists them), and
their injection flags are stored like those of any repository file a model reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.repo.instructions import RepositoryGuidance, load_guidance
from bot.run import artifacts
from bot.run.context import RunContext
from bot.shared.errors import WorkspaceError


def guidance_for(ctx: RunContext, touched: Iterable[str] = ()) -> str:
    """The prompt section of the instruction files that apply to `touched` ("" when none)."""
    base = ctx.run.base_sha or "HEAD"

    def read(path: str) -> str | None:
        try:
            return ctx.workspace.git("show", f"{base}:{path}")
        except WorkspaceError:
            return None

    tree = ctx.workspace.git("ls-tree", "-r", "--name-only", base).splitlines()
    configured = ctx.repo_config.instructions if ctx.repo_config is not None else []
    guidance = load_guidance(read, tree, touched=touched, configured=configured)
    _record(ctx, guidance)
    return guidance.prompt()


def _record(ctx: RunContext, guidance: RepositoryGuidance) -> None:
    stored = ctx.artifacts
    applied = stored.load(artifacts.INSTRUCTIONS) or []
    known = {str(entry["path"]) for entry in applied}
    new = [entry for entry in guidance.applied() if entry["path"] not in known]
    if not new:
        return
    stored.save(artifacts.INSTRUCTIONS, applied + new)
    fresh = {str(entry["path"]) for entry in new}
    for flag in guidance.flags:
        if flag.source.removeprefix("repository instructions ") in fresh:
            stored.save(artifacts.FLAG, flag)
