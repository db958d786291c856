"""The registry of artifact kinds: each stored artifact has a kind, a type and maybe a revision.

A kind names its stored form once (`DIFF.key(2) == "diff.r2"`); the type is validated with
pydantic on the way in and out, so nothing reads an artifact back by a hand-built name or dict
key. Text kinds (diffs, logs, feedback) are stored as they are. Stored names are unchanged from
before the registry, so runs stored earlier, the dashboard and the CLI read them as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from pydantic import TypeAdapter

from bot.agents.loop import LoopStep
from bot.analysis.differential import DifferentialAnalysis
from bot.github.objects import Published
from bot.policy.decide import Decision
from bot.run.candidates import Candidate, Evaluated, Verdict
from bot.run.ports import RunStore
from bot.security.screening import Flag
from bot.shared.contracts import (
    CodeChange,
    FileEdit,
    ImplementationPlan,
    IssueText,
    PullRequestDraft,
    ReviewResult,
    TestOutcome,
    TestPlan,
    TestReport,
)
from bot.store.tables import Artifact

T = TypeVar("T")


@dataclass(frozen=True)
class ArtifactKind(Generic[T]):
    """One kind of artifact: its stored name, its type, and whether it exists per revision."""

    name: str
    type_: type[T] | Any
    per_revision: bool = False
    text: bool = False
    adapter: TypeAdapter[T] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter", TypeAdapter(self.type_))

    def key(self, revision: int | None = None) -> str:
        """The stored name: `name` or `name.rN`."""
        if self.per_revision:
            if revision is None:
                raise ValueError(f"artifact {self.name} is stored per revision: give one")
            return f"{self.name}.r{revision}"
        return self.name

    def encode(self, value: T) -> str | Any:
        """What the store keeps: the text itself, or JSON-ready data (masked by the store)."""
        return value if self.text else self.adapter.dump_python(value, mode="json")

    def decode(self, content: str) -> T:
        """The typed value of stored content."""
        if self.text:
            return cast(T, content)
        return self.adapter.validate_json(content)


KINDS: dict[str, ArtifactKind[Any]] = {}


def _kind(name: str, type_: Any, *, per_revision: bool = False, text: bool = False) -> Any:
    kind: ArtifactKind[Any] = ArtifactKind(name, type_, per_revision, text)
    KINDS[name] = kind
    return kind


# per run
ISSUE: ArtifactKind[IssueText] = _kind("issue", IssueText)
PLAN: ArtifactKind[ImplementationPlan] = _kind("plan", ImplementationPlan)
PLAN_DECISION: ArtifactKind[Decision] = _kind("plan_decision", Decision)
PLAN_FOR_APPROVAL: ArtifactKind[str] = _kind("plan_for_approval", str, text=True)
FLAG: ArtifactKind[Flag] = _kind("flag", Flag)  # many per run
DECISION: ArtifactKind[Decision] = _kind("decision", Decision)
PR_DRAFT: ArtifactKind[PullRequestDraft] = _kind("pr_draft", PullRequestDraft)
EVIDENCE_PATH: ArtifactKind[str] = _kind("evidence_path", str, text=True)
PUBLISHED: ArtifactKind[Published] = _kind("published", Published)
STOPPED_SUMMARY: ArtifactKind[str] = _kind("stopped_summary", str, text=True)
INCOMPLETE: ArtifactKind[str] = _kind("incomplete", str, text=True)  # done / left, on GitHub
# the repository instruction files applied to the run: path, why, chars, truncated
INSTRUCTIONS: ArtifactKind[list[dict[str, Any]]] = _kind("instructions", list[dict[str, Any]])
# per revision
CHANGE: ArtifactKind[CodeChange] = _kind("change", CodeChange, per_revision=True)
DIFF: ArtifactKind[str] = _kind("diff", str, per_revision=True, text=True)
# the coder's loop: its working tree after every edit (newest wins), and one row per step
WORKTREE: ArtifactKind[list[FileEdit]] = _kind("worktree", list[FileEdit], per_revision=True)
TRANSCRIPT: ArtifactKind[LoopStep] = _kind("transcript", LoopStep, per_revision=True)  # many
FEEDBACK: ArtifactKind[str] = _kind("feedback", str, per_revision=True, text=True)  # many
ANALYSIS: ArtifactKind[DifferentialAnalysis] = _kind(
    "analysis", DifferentialAnalysis, per_revision=True
)
REVIEW: ArtifactKind[ReviewResult] = _kind("review", ReviewResult, per_revision=True)
TEST_PLAN: ArtifactKind[TestPlan] = _kind("testplan", TestPlan, per_revision=True)
ENVIRONMENT: ArtifactKind[dict[str, Any]] = _kind(  # bot.environment.PreparedEnvironment
    "environment", dict[str, Any], per_revision=True
)
TEST_LOG: ArtifactKind[str] = _kind("testlog", str, per_revision=True, text=True)
TEST_COMMANDS: ArtifactKind[list[dict[str, Any]]] = _kind(
    "commands.test", list[dict[str, Any]], per_revision=True
)
TEST_REPORT: ArtifactKind[TestReport] = _kind("testreport", TestReport, per_revision=True)
TEST_OUTCOME: ArtifactKind[TestOutcome] = _kind("testoutcome", TestOutcome, per_revision=True)
# best of N (bot/run/candidates.py): each candidate's submission and evidence, then the verdict
CANDIDATE: ArtifactKind[Candidate] = _kind("candidate", Candidate, per_revision=True)  # many
TRIAL: ArtifactKind[Evaluated] = _kind("trial", Evaluated, per_revision=True)  # many
CANDIDATES: ArtifactKind[Verdict] = _kind("candidates", Verdict, per_revision=True)


def of_candidate(kind: ArtifactKind[T], number: int | None) -> ArtifactKind[T]:
    """`kind` of candidate `number` (`worktree.c2.rN`); `kind` itself for a single coder."""
    if number is None:
        return kind
    name = f"{kind.name}.c{number}"
    existing = KINDS.get(name)
    if existing is not None:
        return cast(ArtifactKind[T], existing)
    made: ArtifactKind[T] = _kind(name, kind.type_, per_revision=True, text=kind.text)
    return made


class Artifacts:
    """Typed reads and writes of one run's artifacts."""

    def __init__(self, store: RunStore, run_id: int) -> None:
        self.store = store
        self.run_id = run_id

    def load(self, kind: ArtifactKind[T], revision: int | None = None) -> T | None:
        """The newest stored value of `kind`, or None."""
        artifact = self.store.get_artifact(self.run_id, kind.key(revision))
        return None if artifact is None else kind.decode(artifact.content)

    def require(self, kind: ArtifactKind[T], revision: int | None = None) -> T:
        """The stored value of `kind`; a missing one is a bug in the step order."""
        value = self.load(kind, revision)
        if value is None:
            raise LookupError(f"run {self.run_id} has no {kind.key(revision)} artifact")
        return value

    def exists(self, kind: ArtifactKind[Any], revision: int | None = None) -> bool:
        """Whether `kind` was stored."""
        return self.store.get_artifact(self.run_id, kind.key(revision)) is not None

    def text(self, kind: ArtifactKind[str], revision: int | None = None) -> str:
        """A text artifact, or "" when there is none."""
        return self.load(kind, revision) or ""

    def all(self, kind: ArtifactKind[T], revision: int | None = None) -> Iterator[T]:
        """Every stored value of a kind stored many times (flags, feedback), oldest first."""
        name = kind.key(revision)
        for artifact in self.store.artifacts(self.run_id):
            if artifact.name == name:
                yield kind.decode(artifact.content)

    def save(self, kind: ArtifactKind[T], value: T, revision: int | None = None) -> None:
        """Store a value of `kind` (masked by the store)."""
        media = "text/plain" if kind.text else "application/json"
        self.store.put_artifact(self.run_id, kind.key(revision), kind.encode(value), media)

    def snapshot(self) -> StoredArtifacts:
        """Every artifact of the run as stored now, read in one query (for reading many)."""
        return StoredArtifacts(self.store.artifacts(self.run_id))


class StoredArtifacts:
    """A run's artifacts read at one moment: the reads of `Artifacts`, without a query each."""

    def __init__(self, rows: list[Artifact]) -> None:
        self.newest = {row.name: row for row in rows}  # rows come oldest first
        self.rows = rows

    def load(self, kind: ArtifactKind[T], revision: int | None = None) -> T | None:
        """The newest value of `kind`, or None."""
        artifact = self.newest.get(kind.key(revision))
        return None if artifact is None else kind.decode(artifact.content)

    def text(self, kind: ArtifactKind[str], revision: int | None = None) -> str:
        """A text artifact, or "" when there is none."""
        return self.load(kind, revision) or ""

    def all(self, kind: ArtifactKind[T], revision: int | None = None) -> Iterator[T]:
        """Every value of a kind stored many times, oldest first."""
        name = kind.key(revision)
        return (kind.decode(row.content) for row in self.rows if row.name == name)
