"""Read models of runs for people: the list, one run's timeline, cost per agent and evidence.

Built from the store only (the dashboard, its JSON and the CLI show the same figures).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from bot.observe.endings import CRASH_PREFIX, why_it_ended
from bot.observe.timebudget import TimeRow, time_budget
from bot.run.states import Status
from bot.store.runs import Store
from bot.store.tables import Artifact, Run, as_aware, utcnow
from bot.store.vocabulary import EventKind

_REVISED = re.compile(r"^(?P<kind>[a-z_]+)(?:\.c(?P<candidate>\d+))?\.r(?P<revision>\d+)$")


class RunSummary(BaseModel):
    """One line of the run list."""

    id: int
    repo: str
    issue: int | None
    title: str
    status: str
    phase: str
    revision: int
    cost_usd: float | None = Field(description="USD; None when a call's model had no price.")
    tokens: int
    age_s: float = Field(description="Seconds since the run was created.")
    age: str = Field(description="The age for people: 45s, 12m, 3h, 2d.")
    pr_number: int | None
    pr_url: str | None
    issue_url: str | None
    created_at: datetime
    trace_id: str | None = Field(description="The OpenTelemetry trace id of the run, if traced.")


class PhaseBar(BaseModel):
    """One execution of a phase on the run's timeline (offsets in seconds from the run's start)."""

    name: str
    revision: int
    outcome: str | None
    start_s: float
    duration_s: float
    running: bool
    tokens: int
    cost_usd: float | None
    left_pct: float
    width_pct: float


class AgentUsage(BaseModel):
    """Model use of one agent (role) over the run."""

    role: str
    models: list[str]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = Field(description="USD; None when a call's model had no price.")
    latency_s: float


class Revised(BaseModel):
    """An artifact that exists once per revision (review, test report, diff)."""

    revision: int
    content: Any


class LoopTranscript(BaseModel):
    """The coder's loop of one revision: each step's tool, arguments, exit code, output head."""

    revision: int
    steps: list[dict[str, Any]]
    candidate: int | None = Field(
        default=None, description="Which candidate's loop, when several coders worked on it."
    )


class ArtifactInfo(BaseModel):
    """An artifact's name, type and size (the content is fetched separately)."""

    name: str
    media_type: str
    size: int
    created_at: datetime


class RunDetail(BaseModel):
    """Everything the run page shows."""

    run: RunSummary
    status_reason: str | None
    branch: str | None
    delivery_id: str | None
    tool_calls: int
    duration_s: float
    phases: list[PhaseBar]
    agents: list[AgentUsage]
    plan: dict[str, Any] | None
    reviews: list[Revised]
    test_reports: list[Revised]
    diffs: list[Revised]
    transcripts: list[LoopTranscript] = Field(
        default_factory=list, description="The coder's loop, step by step, per revision."
    )
    candidates: list[Revised] = Field(
        default_factory=list,
        description="Best of N: per revision, the candidates tried and why each other lost.",
    )
    time_budget: list[TimeRow] = Field(
        default_factory=list, description="Where the run's time went (None: not measured)."
    )
    artifacts: list[ArtifactInfo]
    evidence_path: str | None
    ended_because: str | None = Field(
        default=None, description="Why a run that did not succeed ended, as a sentence."
    )
    traceback: str | None = Field(default=None, description="The traceback of a crashed phase.")
    check_run_url: str | None = Field(default=None, description="The run's check run on GitHub.")
    trace_url: str | None = Field(default=None, description="The run's trace in the trace UI.")


def format_age(seconds: float) -> str:
    """A short age for people: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def summarize(
    run: Run,
    *,
    github_url: str = "https://github.com",
    now: datetime | None = None,
    cost_known: bool = True,
) -> RunSummary:
    """The list line of a run."""
    created = as_aware(run.created_at) or utcnow()
    age_s = ((now or utcnow()) - created).total_seconds()
    base = github_url.rstrip("/")
    return RunSummary(
        id=run.id,
        repo=run.repo,
        issue=run.issue_number,
        title=run.title,
        status=run.status,
        phase=run.phase,
        revision=run.revision,
        cost_usd=run.cost_usd if cost_known else None,
        tokens=run.tokens_used,
        age_s=age_s,
        age=format_age(age_s),
        pr_number=run.pr_number,
        pr_url=f"{base}/{run.repo}/pull/{run.pr_number}" if run.pr_number else None,
        issue_url=f"{base}/{run.repo}/issues/{run.issue_number}" if run.issue_number else None,
        created_at=created,
        trace_id=trace_id_of(run.trace_context),
    )


def list_runs(
    store: Store,
    *,
    status: str | None = None,
    repo: str | None = None,
    github_url: str = "https://github.com",
    limit: int = 100,
) -> list[RunSummary]:
    """Runs newest first, optionally of one status and one repository."""
    now = utcnow()
    runs = store.list_runs(status=status or None, repo=repo or None, limit=limit)
    unpriced = store.unpriced_runs([r.id for r in runs])
    return [
        summarize(r, github_url=github_url, now=now, cost_known=r.id not in unpriced) for r in runs
    ]


def _content(artifact: Artifact) -> Any:
    if artifact.media_type == "application/json":
        try:
            return json.loads(artifact.content)
        except ValueError:
            return artifact.content
    return artifact.content


def _phase_bars(
    store: Store, run: Run, now: datetime, cost_known: bool = True
) -> tuple[list[PhaseBar], float]:
    records = store.phases(run.id)
    start = as_aware(run.created_at) or now
    if records:
        start = min(start, *(as_aware(p.started_at) or start for p in records))
    bars: list[PhaseBar] = []
    for p in records:
        began = as_aware(p.started_at) or start
        ended = as_aware(p.finished_at)
        bars.append(
            PhaseBar(
                name=p.name,
                revision=p.attempt,
                outcome=p.outcome,
                start_s=(began - start).total_seconds(),
                duration_s=((ended or now) - began).total_seconds(),
                running=ended is None,
                tokens=p.tokens,
                cost_usd=p.cost_usd if cost_known else None,
                left_pct=0.0,
                width_pct=0.0,
            )
        )
    end = as_aware(run.finished_at) or (now if not run.is_terminal else None)
    total = max([b.start_s + b.duration_s for b in bars] + [0.0])
    if end is not None:
        total = max(total, (end - start).total_seconds())
    for bar in bars:
        if total > 0:
            bar.left_pct = round(100 * bar.start_s / total, 2)
            bar.width_pct = round(max(0.5, 100 * bar.duration_s / total), 2)
        else:
            bar.width_pct = 100.0
    return bars, total


def _agents(store: Store, run_id: int) -> list[AgentUsage]:
    sums: dict[str, dict[str, Any]] = {}
    models: dict[str, set[str]] = defaultdict(set)
    for event in store.events(run_id, kind=EventKind.model_call):
        data = event.data or {}
        role = str(data.get("role") or event.message or "unknown")
        entry = sums.setdefault(
            role,
            {"calls": 0, "prompt": 0, "completion": 0, "cost": 0.0, "latency": 0.0, "unpriced": 0},
        )
        entry["unpriced"] += 0 if data.get("priced", True) else 1
        entry["calls"] += 1
        entry["prompt"] += int(data.get("prompt_tokens") or 0)
        entry["completion"] += int(data.get("completion_tokens") or 0)
        entry["cost"] += float(data.get("cost_usd") or 0.0)
        entry["latency"] += float(data.get("latency_s") or 0.0)
        if data.get("model"):
            models[role].add(str(data["model"]))
    return [
        AgentUsage(
            role=role,
            models=sorted(models[role]),
            calls=e["calls"],
            prompt_tokens=e["prompt"],
            completion_tokens=e["completion"],
            cost_usd=None if e["unpriced"] else e["cost"],
            latency_s=e["latency"],
        )
        for role, e in sums.items()
    ]


def _check_run_url(published: Artifact | None, repo: str, github_url: str) -> str | None:
    if published is None:
        return None
    try:
        check_run_id = int(json.loads(published.content)["check_run_id"])
    except (ValueError, KeyError, TypeError):
        return None
    return f"{github_url.rstrip('/')}/{repo}/runs/{check_run_id}"


def _crashed(run: Run) -> bool:
    return run.status == Status.failed and (run.status_reason or "").startswith(CRASH_PREFIX)


def trace_link(template: str | None, trace_id: str | None) -> str | None:
    """The trace UI's address of a trace: `template` with `{trace_id}` filled in."""
    if not template or not trace_id:
        return None
    return template.replace("{trace_id}", trace_id)


def run_detail(
    store: Store,
    run_id: int,
    *,
    github_url: str = "https://github.com",
    trace_url_template: str | None = None,
) -> RunDetail:
    """One run's page: timeline, cost per agent, plan, reviews, test reports, diffs, artifacts."""
    now = utcnow()
    run = store.get_run(run_id)
    cost_known = not store.unpriced_runs([run.id])
    bars, total = _phase_bars(store, run, now, cost_known)
    latest: dict[str, Artifact] = {}
    revised: dict[str, dict[int, Any]] = defaultdict(dict)
    steps: dict[tuple[int, int | None], list[dict[str, Any]]] = defaultdict(list)
    for artifact in store.artifacts(run_id):
        latest[artifact.name] = artifact
        match = _REVISED.match(artifact.name)
        candidate = int(match["candidate"]) if match and match["candidate"] else None
        if match and match["kind"] == "transcript":  # one row per step of the coder's loop
            steps[(int(match["revision"]), candidate)].append(_content(artifact))
        elif match and candidate is None:  # a candidate's own tree or tests: in its trial
            revised[match["kind"]][int(match["revision"])] = _content(artifact)

    def by_revision(kind: str) -> list[Revised]:
        return [Revised(revision=r, content=c) for r, c in sorted(revised[kind].items())]

    plan = _content(latest["plan"]) if "plan" in latest else None
    evidence = latest.get("evidence_path")
    crash = latest.get("traceback")
    summary = summarize(run, github_url=github_url, now=now, cost_known=cost_known)
    return RunDetail(
        run=summary,
        status_reason=run.status_reason,
        branch=run.branch,
        delivery_id=run.delivery_id,
        tool_calls=run.tool_calls,
        duration_s=total,
        phases=bars,
        agents=_agents(store, run_id),
        plan=plan if isinstance(plan, dict) else None,
        reviews=by_revision("review"),
        test_reports=by_revision("testreport"),
        diffs=by_revision("diff"),
        transcripts=[
            LoopTranscript(revision=r, candidate=c, steps=steps[(r, c)])
            for r, c in sorted(steps, key=lambda key: (key[0], key[1] or 0))
        ],
        candidates=by_revision("candidates"),
        time_budget=time_budget(store, run_id),
        artifacts=[
            ArtifactInfo(
                name=a.name,
                media_type=a.media_type,
                size=len(a.content),
                created_at=as_aware(a.created_at) or now,
            )
            for a in latest.values()
        ],
        evidence_path=evidence.content if evidence is not None else None,
        ended_because=why_it_ended(run.status, run.phase, run.status_reason),
        traceback=crash.content if crash is not None and _crashed(run) else None,
        check_run_url=_check_run_url(latest.get("published"), run.repo, github_url),
        trace_url=trace_link(trace_url_template, summary.trace_id),
    )


def repositories(store: Store) -> list[str]:
    """The repositories that have runs, for the dashboard's filter."""
    from sqlalchemy import select

    with store.session() as s:
        return sorted(s.scalars(select(Run.repo).distinct()))
