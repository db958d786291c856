"""The pydantic handoff models between stages: the vocabulary of the whole system.

This module imports nothing of ours.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Contract(BaseModel):
    """Base of every contract: unknown fields are refused, so a drifting model is caught."""

    model_config = ConfigDict(extra="forbid")


class RiskLevel(StrEnum):
    """How risky a planned change is."""

    low = "low"
    medium = "medium"
    high = "high"


class ImplementationPlan(Contract):
    """The planner's output: what to change and how we will know it is done."""

    summary: str = Field(description="One paragraph: what the change does and why.")
    files_to_create: list[str] = Field(default_factory=list, description="New files, repo paths.")
    files_to_modify: list[str] = Field(default_factory=list, description="Existing files to edit.")
    dependencies: list[str] = Field(default_factory=list, description="New packages needed.")
    architecture_notes: str = Field(default="", description="How the change fits the codebase.")
    acceptance_criteria: list[str] = Field(
        min_length=1, description="Checkable statements that define done."
    )
    risk_level: RiskLevel = Field(description="low, medium or high.")
    out_of_scope: list[str] = Field(default_factory=list, description="What this change won't do.")


class EditOperation(StrEnum):
    """What a FileEdit does to its path."""

    create = "create"
    update = "update"
    delete = "delete"


class SearchReplace(Contract):
    """One exact search/replace block; `search` must match exactly once."""

    search: str = Field(description="Exact text to find; must occur exactly once.")
    replace: str = Field(description="Text that replaces it.")


class FileEdit(Contract):
    """One edit of one file: whole content (create/update) or search/replace blocks (update)."""

    path: str = Field(description="Repository-relative path.")
    operation: EditOperation = Field(description="create, update or delete.")
    content: str | None = Field(default=None, description="Whole new file content.")
    blocks: list[SearchReplace] = Field(default_factory=list, description="Search/replace blocks.")

    @model_validator(mode="after")
    def _shape_matches_operation(self) -> FileEdit:
        if self.operation is EditOperation.create and self.content is None:
            raise ValueError(f"create of {self.path} needs content")
        if self.operation is EditOperation.update and self.content is None and not self.blocks:
            raise ValueError(f"update of {self.path} needs content or search/replace blocks")
        if self.operation is EditOperation.update and self.content is not None and self.blocks:
            raise ValueError(f"update of {self.path}: give content or blocks, not both")
        if self.operation is EditOperation.delete and (self.content is not None or self.blocks):
            raise ValueError(f"delete of {self.path} takes no content or blocks")
        return self


class CodeChange(Contract):
    """The coder's output: the edits, why, and what they add."""

    edits: list[FileEdit] = Field(min_length=1, description="The file edits, applied in order.")
    explanation: str = Field(description="What was changed and why.")
    dependencies_added: list[str] = Field(default_factory=list, description="Packages added.")
    revision: int = Field(default=0, ge=0, description="0 for the first attempt, then 1, 2, ...")


class CodeSubmission(Contract):
    """The coder's final answer in the edit-run loop: the working tree is the change; `edits`
    (optional) are applied on top of it, for a model that answers with its edits at once."""

    edits: list[FileEdit] = Field(
        default_factory=list, description="Edits beyond the working tree, applied in order."
    )
    explanation: str = Field(description="What was changed and why.")
    dependencies_added: list[str] = Field(default_factory=list, description="Packages added.")
    revision: int = Field(default=0, ge=0, description="0 for the first attempt, then 1, 2, ...")


class Severity(StrEnum):
    """How bad a review issue is; high and critical force a revision."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ReviewIssue(Contract):
    """One problem the reviewer found."""

    severity: Severity
    category: str = Field(description="e.g. correctness, security, style, tests.")
    file: str | None = Field(default=None, description="Repository path, when it has one.")
    line: int | None = Field(default=None, ge=1, description="Line in the new file, when known.")
    problem: str
    recommended_fix: str


class ReviewStatus(StrEnum):
    """The reviewer's verdict."""

    approved = "approved"
    needs_revision = "needs_revision"


class ReviewResult(Contract):
    """The reviewer's output. Any high or critical issue forces needs_revision."""

    status: ReviewStatus
    issues: list[ReviewIssue] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    score: float = Field(ge=0.0, le=1.0, description="Overall quality, 0..1.")

    @model_validator(mode="after")
    def _blocking_issues_force_revision(self) -> ReviewResult:
        if any(i.severity in (Severity.high, Severity.critical) for i in self.issues):
            self.status = ReviewStatus.needs_revision
        return self


class TestPlan(Contract):
    """The tester's output: what the new tests pin down, and the test files."""

    __test__ = False  # not a pytest test class

    focus: list[str] = Field(min_length=1, description="Behaviours the new tests pin down.")
    files: list[FileEdit] = Field(min_length=1, description="Test files created or updated.")


class TestStatus(StrEnum):
    """Outcome of a test run."""

    __test__ = False

    passed = "passed"
    failed = "failed"
    error = "error"


class TestReport(Contract):
    """Built from the runner's own output (JUnit XML, coverage JSON), never from the model."""

    __test__ = False

    status: TestStatus
    tests_passed: int = Field(ge=0)
    tests_failed: int = Field(ge=0)
    tests_skipped: int = Field(default=0, ge=0)
    coverage_percent: float | None = Field(default=None, ge=0.0, le=100.0)
    failure_details: str = Field(default="", description="Condensed failures, bounded.")
    command: str = Field(description="The exact command that ran.")
    duration_s: float = Field(ge=0.0)
    tampered: str | None = Field(
        default=None,
        description="Why the runner's report disagrees with Draftsmith's witness of the run "
        "(the results were tampered with and prove nothing); None when they agree.",
    )
    judged_by: Literal["runner report", "exit code"] = Field(
        default="runner report",
        description="Where status and counts come from; by exit code alone, counts are unknown.",
    )


class Gate(StrEnum):
    """What the policy says about a change before it may be merged."""

    none = "none"
    needs_approval = "needs_approval"
    blocked = "blocked"


class PullRequestDraft(Contract):
    """The deployer's output: the pull request to open or update."""

    title: str
    body: str
    branch: str
    labels: list[str] = Field(default_factory=list)
    reviewers: list[str] = Field(default_factory=list)
    gate: Gate = Gate.none


class IssueText(Contract):
    """The issue as the agents see it: hidden text stripped, injection flags raised."""

    title: str
    body: str
    stripped: list[dict[str, str]] = Field(default_factory=list, description="Removed text.")
    flags: list[dict[str, str]] = Field(default_factory=list, description="Injection flags.")


CONTRACTS: dict[str, type[Contract]] = {
    cls.__name__: cls
    for cls in (
        ImplementationPlan,
        CodeChange,
        ReviewResult,
        TestPlan,
        TestReport,
        PullRequestDraft,
    )
}


@dataclass
class TestOutcome:
    """What testing produced: the report, the new tests and which of them pin the change."""

    __test__ = False

    report: TestReport
    log: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)
    new_tests: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    base_report: TestReport | None = None
    refused: str | None = None
    tampered: str | None = None
    after: dict[str, bool | None] = field(default_factory=dict)
    """Each new test case and whether it passed with the change (None: the runner skipped it)."""
    before: dict[str, bool | None] = field(default_factory=dict)
    """Each new test case that ran on the base commit and whether it passed there (None:
    skipped)."""
    preexisting: list[str] = field(default_factory=list)
    """Cases of the new test files that the base's own suite already had, passing there."""
    coverage_only_failures: list[str] = field(default_factory=list)
    """Cases that failed under coverage.py only (the report counts the plain run)."""
    coverage: dict[str, Any] | None = None
    """The suite's coverage of the change (bot.analysis.coverage.ChangeCoverage, as a dict)."""
    pinned_why: dict[str, str] = field(default_factory=dict)
    already_failing: list[str] = field(default_factory=list)
    new_failures: list[str] = field(default_factory=list)
    base_problem: str | None = None
    environment_problem: str | None = None
    environment: dict[str, Any] | None = None
    base_suite_cached: bool = False
    base_selection: str | None = None
    """What ran on the base instead of its whole suite (bot.testing.selection); None: all of it."""
    timings: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> str:
        """Stored as the run's `testoutcome.rN` artifact."""
        data = asdict(self)
        data["report"] = self.report.model_dump(mode="json")
        data["base_report"] = self.base_report.model_dump(mode="json") if self.base_report else None
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TestOutcome:
        """Read back a stored outcome."""
        data = json.loads(text)
        data["report"] = TestReport.model_validate(data["report"])
        if data.get("base_report"):
            data["base_report"] = TestReport.model_validate(data["base_report"])
        return cls(**data)
