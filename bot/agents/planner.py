"""The planner: issue + repository map + retrieved files -> ImplementationPlan. Writes no code."""

from __future__ import annotations

from bot.agents.prompting import file_blocks, messages
from bot.github.markdown import code, inert, inert_line
from bot.model.base import Completion, Model
from bot.policy.decide import Decision
from bot.security.untrusted import as_data
from bot.shared.contracts import ImplementationPlan


class Planner:
    """Plans a change; its only tool is what it is shown (no write access of any kind)."""

    def __init__(self, llm: Model) -> None:
        self.llm = llm

    async def run(
        self,
        *,
        title: str,
        body: str,
        repo_map: str,
        files: dict[str, str],
        source: str,
        guidance: str = "",
    ) -> Completion[ImplementationPlan]:
        """Ask for the plan of the issue `title`/`body` given the repository context.

        `guidance` is the repository's instruction files, already wrapped as data."""
        prompt = messages(
            "planner",
            guidance,
            "The issue to plan:",
            as_data(f"{title}\n\n{body}", source=source, kind="issue"),
            "The repository's files:",
            as_data(repo_map, source="repository map", kind="tree"),
            "Files that look relevant:",
            file_blocks(files),
        )
        return await self.llm.complete("planner", prompt, ImplementationPlan)


ROLES_AFTER_PLANNING = 3  # coder, reviewer, tester


def plan_for_approval(
    run_id: int,
    plan: ImplementationPlan,
    decision: Decision,
    planner_usage: tuple[int, float | None],
) -> str:
    """The plan as posted for `/draftsmith approve-plan`: files, test strategy, risk, estimate.

    The estimate assumes each later role costs about what the planner did, once (no revision):
    a rough figure from this run's own usage, not a promise. A cost of None (a model without
    a price) is shown as unknown."""
    tokens, cost = planner_usage
    passes = 1 + ROLES_AFTER_PLANNING
    total_cost = "an unknown cost" if cost is None else f"${cost * passes:.4f}"
    own_cost = "cost unknown" if cost is None else f"${cost:.4f}"
    lines = [
        f"**Draftsmith plan for run `{run_id}`**: it waits for approval before writing code.",
        "",
        inert(plan.summary),
        "",
        "Files it expects to touch:",
        *[f"- {code(p)} (new)" for p in plan.files_to_create],
        *[f"- {code(p)}" for p in plan.files_to_modify],
        "",
        "Test strategy: tests that fail before the change and pass after it, for:",
        *[f"- {inert_line(c)}" for c in plan.acceptance_criteria],
        "",
        f"Risk: **{plan.risk_level}**; gate: {decision.gate}",
        *[f"- {inert_line(r)}" for r in decision.reasons],
        "",
        f"Estimate: about {tokens * passes:,} tokens and {total_cost} for one pass without "
        f"revisions (the plan itself used {tokens:,} tokens, {own_cost}).",
        "",
        "A person with write access can reply `/draftsmith approve-plan` to go ahead, or "
        "`/draftsmith stop`.",
    ]
    return "\n".join(lines) + "\n"
