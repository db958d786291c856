"""Deploying: the policy's final decision, the evidence, and the draft PR on GitHub."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import ClassVar

from bot.agents.deployer import build_draft, write_evidence
from bot.github.codeowners import CodeOwners, find_codeowners
from bot.github.objects import Publication
from bot.policy.decide import Decision, evaluate
from bot.repo.workspace import Workspace
from bot.run import artifacts
from bot.run.checkout import issue_text
from bot.run.context import BOT_LOGIN, Kinds, RunContext, StepResult
from bot.run.evidence import collect
from bot.run.ports import GitHubEffects
from bot.run.states import Phase
from bot.run.transitions import Move
from bot.security.test_infrastructure import pytest_config_reasons
from bot.shared.contracts import Gate, PullRequestDraft
from bot.shared.errors import WorkspaceError
from bot.store.tables import Run
from bot.store.vocabulary import EventKind


class Deploying:
    """changed paths + owners + flags -> decision -> pr_draft + evidence -> draft PR."""

    phase: ClassVar[Phase] = Phase.deploying
    reads: ClassVar[Kinds] = (artifacts.ISSUE, artifacts.FLAG, artifacts.PLAN, artifacts.REVIEW)
    writes: ClassVar[Kinds] = (
        artifacts.DECISION,
        artifacts.PR_DRAFT,
        artifacts.EVIDENCE_PATH,
        artifacts.PUBLISHED,
    )

    async def run(self, ctx: RunContext) -> StepResult:
        """Decide, write the evidence, publish (GitHub runs), and deliver the run."""
        run, stored = ctx.run, ctx.artifacts
        changed = ctx.workspace.changed_files(ctx.base)
        decision = self.decide(ctx, changed)
        stored.save(artifacts.DECISION, decision)
        if decision.gate is Gate.blocked:
            return StepResult(Move.block, "; ".join(decision.reasons))
        run = ctx.store.get_run(run.id)
        draft = build_draft(run, collect(ctx.services, run, decision), decision)
        stored.save(artifacts.PR_DRAFT, draft)
        path = write_evidence(ctx.services.run_dir(run) / "evidence.md", draft.body)
        stored.save(artifacts.EVIDENCE_PATH, str(path))
        gh = ctx.services.github(run)
        if gh is not None:
            revoked = steering_revoked(ctx, gh)
            if revoked:
                why = (
                    f"@{revoked} steered this run but no longer has write access; nothing was "
                    "published (a writer can `/draftsmith retry` after reviewing the branch)"
                )
                return StepResult(Move.give_up, why, "access revoked")
            self.publish(ctx, gh, run, draft, decision, changed)
        move = Move.deliver_gated if decision.gate is Gate.needs_approval else Move.deliver
        return StepResult(move, "; ".join(decision.reasons) if decision.reasons else None)

    @staticmethod
    def decide(ctx: RunContext, changed: list[str]) -> Decision:
        """The policy's decision on the change: paths, code owners and injection flags."""
        issue = issue_text(ctx.store, ctx.run)
        flags = issue.flags + [asdict(f) for f in ctx.artifacts.all(artifacts.FLAG)]
        flagged = sorted(
            {f"injection pattern flagged: {f['pattern']} in {f['source']}" for f in flags}
        )
        flagged += pytest_config_reasons(
            changed, reader(ctx.workspace, ctx.base), reader(ctx.workspace, "HEAD")
        )
        owners = owners_at(ctx.workspace, ctx.base).owners_for(changed)
        return evaluate(changed, owners, ctx.policy, flagged_reasons=flagged)

    @staticmethod
    def publish(
        ctx: RunContext,
        gh: GitHubEffects,
        run: Run,
        draft: PullRequestDraft,
        decision: Decision,
        changed: list[str],
        incomplete: str | None = None,
    ) -> None:
        """Push the branch and open or update the draft PR and its check run on GitHub
        (`incomplete`: why a budget stopped the run, for a PR marked incomplete)."""
        assert run.issue_number is not None
        publication = Publication(
            repo=run.repo,
            clone_url=run.clone_url,
            draft=draft,
            issue_number=run.issue_number,
            base_branch=default_branch(ctx.workspace),
            existing_pr=run.pr_number,
            decision=decision,
            review=ctx.artifacts.load(artifacts.REVIEW, run.revision),
            head_sha=ctx.workspace.head(),
            changed_paths=changed,
            author=run.requested_by,
            bot_login=BOT_LOGIN,
            run_id=run.id,
            incomplete=incomplete,
            base_sha=ctx.base,
        )
        published = gh.publish(ctx.workspace, publication)
        # the branch's head is GitHub's own commit (same tree) when made through the API
        ctx.store.update_run(run.id, pr_number=published.pr_number, head_sha=published.head_sha)
        ctx.artifacts.save(artifacts.PUBLISHED, published)
        ctx.store.add_event(run.id, EventKind.published, published.pr_url, asdict(published))


def steering_revoked(ctx: RunContext, gh: GitHubEffects) -> str | None:
    """A person whose feedback shaped this run and who has lost write access since."""
    authors = {
        str(e.data.get("author"))
        for e in ctx.store.events(ctx.run.id, EventKind.input)
        if e.data.get("source") in ("comment", "review", "review_comment")
    }
    for login in sorted(authors):
        if not gh.has_write_access(ctx.run.repo, login):
            return login
    return None


def reader(workspace: Workspace, revision: str) -> Callable[[str], str | None]:
    """Reads a file as of `revision` (None when it does not exist there)."""

    def read(path: str) -> str | None:
        try:
            return workspace.git("show", f"{revision}:{path}")
        except WorkspaceError:
            return None

    return read


def owners_at(workspace: Workspace, base: str) -> CodeOwners:
    """CODEOWNERS as of the base commit (the default branch), never the change's own."""
    return find_codeowners(reader(workspace, base))


def default_branch(workspace: Workspace) -> str:
    """The remote's default branch (`main` when the clone does not say)."""
    try:
        ref = workspace.git("symbolic-ref", "--short", "refs/remotes/origin/HEAD").strip()
        return ref.removeprefix("origin/")
    except WorkspaceError:
        return "main"
