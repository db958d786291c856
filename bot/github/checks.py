"""Check-run calls of the gateway: create, update (annotations in batches of 50), read results."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from githubkit.utils import UNSET
from githubkit_schemas.v2022_11_28.models import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyPropOutputPropAnnotationsItems as Annotation,
)
from githubkit_schemas.v2022_11_28.types import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1Type as CheckRunUpdate,
)
from githubkit_schemas.v2022_11_28.types import (
    ReposOwnerRepoCheckRunsPostBodyOneof1Type as CheckRunStart,
)

from bot.github.answers import read, read_list
from bot.github.models import RepoLike, check_failed, repo_parts
from bot.github.objects import CheckAnnotation, CheckRun, CheckRunList
from bot.github.transport import API_VERSION, GitHubClient

logger = logging.getLogger(__name__)

__all__ = ["ANNOTATIONS_PER_REQUEST", "Annotation", "CheckRuns", "FailingCheck"]

ANNOTATIONS_PER_REQUEST = 50
"""GitHub accepts at most 50 annotations per create/update request; further ones are appended."""

CheckStatus = Literal["queued", "in_progress", "completed"]
Conclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]


@dataclass(frozen=True)
class FailingCheck:
    """A failing check run and, when it has any, its annotations."""

    run: CheckRun
    annotations: list[CheckAnnotation] = field(default_factory=list)


class CheckRuns:
    """The check-run calls, made as one installation (`client.checks`)."""

    def __init__(self, github: GitHubClient) -> None:
        self._github = github
        self._rest = github.rest(API_VERSION)

    def create(
        self,
        repo: RepoLike,
        *,
        name: str,
        head_sha: str,
        status: Literal["queued", "in_progress"] = "in_progress",
        external_id: str | None = None,
        details_url: str | None = None,
        title: str | None = None,
        summary: str | None = None,
    ) -> CheckRun:
        """Start a check run on a commit (with an output when `title` and `summary` are given)."""
        owner, repo_name = repo_parts(repo)
        body: CheckRunStart = {"name": name, "head_sha": head_sha, "status": status}
        if external_id is not None:
            body["external_id"] = external_id
        if details_url is not None:
            body["details_url"] = details_url
        if title is not None and summary is not None:
            body["output"] = {"title": title, "summary": summary}
        response = self._rest.checks.create(owner, repo_name, data=body)
        return read(CheckRun, response, "POST check-runs")

    def get(self, repo: RepoLike, check_run_id: int) -> CheckRun:
        """One check run."""
        owner, name = repo_parts(repo)
        response = self._rest.checks.get(owner, name, check_run_id)
        return read(CheckRun, response, f"GET check-runs/{check_run_id}")

    def update(
        self,
        repo: RepoLike,
        check_run_id: int,
        *,
        title: str,
        summary: str,
        text: str | None = None,
        annotations: Sequence[Annotation] = (),
        status: CheckStatus | None = None,
        conclusion: Conclusion | None = None,
    ) -> CheckRun:
        """Update a check run's output and state; annotations go in batches of 50."""
        owner, name = repo_parts(repo)
        batches = [
            list(annotations[i : i + ANNOTATIONS_PER_REQUEST])
            for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        result: CheckRun | None = None
        for index, batch in enumerate(batches):
            output: dict[str, Any] = {"title": title, "summary": summary}
            if text is not None:
                output["text"] = text
            if batch:
                output["annotations"] = [a.model_dump(exclude_unset=True) for a in batch]
            body: dict[str, Any] = {"output": output}
            if index == len(batches) - 1:  # conclude only once every annotation is in
                if status is not None:
                    body["status"] = status
                if conclusion is not None:
                    body["conclusion"] = conclusion
            # githubkit validates the body against the schema (a completed run needs a conclusion)
            data = cast(CheckRunUpdate, body)
            response = self._rest.checks.update(owner, name, check_run_id, data=data)
            result = read(CheckRun, response, f"PATCH check-runs/{check_run_id}")
        assert result is not None  # batches is never empty
        return result

    def find(
        self, repo: RepoLike, head_sha: str, check_name: str, app_id: int | None
    ) -> CheckRun | None:
        """This App's check run named `check_name` on `head_sha` (any app's when `app_id` is
        None: a token's check runs belong to whichever app minted it), or None."""
        owner, name = repo_parts(repo)
        listed = self._rest.checks.list_for_ref(
            owner, name, head_sha, check_name=check_name, app_id=app_id if app_id else UNSET
        )
        runs = read(CheckRunList, listed, f"GET commits/{head_sha[:12]}/check-runs").check_runs
        return next(iter(runs), None)

    def list_for_suite(self, repo: RepoLike, check_suite_id: int) -> list[CheckRun]:
        """Every (latest) check run of a check suite."""
        owner, name = repo_parts(repo)
        pages = self._github.rest.paginate(
            self._rest.checks.list_for_suite,
            map_func=lambda response: (
                read(
                    CheckRunList, response, f"GET check-suites/{check_suite_id}/check-runs"
                ).check_runs
            ),
            owner=owner,
            repo=name,
            check_suite_id=check_suite_id,
            filter_="latest",
            per_page=100,
        )
        return list(pages)

    def annotations(self, repo: RepoLike, check_run_id: int) -> list[CheckAnnotation]:
        """Every annotation of a check run."""
        owner, name = repo_parts(repo)
        pages = self._github.rest.paginate(
            self._rest.checks.list_annotations,
            map_func=lambda response: read_list(
                CheckAnnotation, response, f"GET check-runs/{check_run_id}/annotations"
            ),
            owner=owner,
            repo=name,
            check_run_id=check_run_id,
            per_page=100,
        )
        return list(pages)

    def failing_for_suite(self, repo: RepoLike, check_suite_id: int) -> list[FailingCheck]:
        """The suite's failing check runs, each with its output and annotations."""
        failing = [run for run in self.list_for_suite(repo, check_suite_id) if check_failed(run)]
        return [
            FailingCheck(
                run, self.annotations(repo, run.id) if run.output.annotations_count else []
            )
            for run in failing
        ]
