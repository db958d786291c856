"""Check-run calls of the gateway: create, update (annotations in batches of 50), read results."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from bot.github.models import Annotation, CheckRun, RepoLike, RepoRef

if TYPE_CHECKING:
    from bot.github.calls import RestClient

logger = logging.getLogger(__name__)

ANNOTATIONS_PER_REQUEST = 50
"""GitHub accepts at most 50 annotations per create/update request; further ones are appended."""

CheckStatus = Literal["queued", "in_progress", "completed"]
Conclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]


class CheckRuns:
    """The check-run calls, made as one installation (`client.checks`)."""

    def __init__(self, client: RestClient) -> None:
        self._client = client

    def _repo(self, repo: RepoLike) -> RepoRef:
        from bot.github.models import parse_repo

        return parse_repo(repo)

    def create(
        self,
        repo: RepoLike,
        *,
        name: str,
        head_sha: str,
        status: CheckStatus = "in_progress",
        external_id: str | None = None,
        details_url: str | None = None,
        title: str | None = None,
        summary: str | None = None,
    ) -> CheckRun:
        """Start a check run on a commit."""
        ref = self._repo(repo)
        payload: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        if external_id is not None:
            payload["external_id"] = external_id
        if details_url is not None:
            payload["details_url"] = details_url
        if title is not None and summary is not None:
            payload["output"] = {"title": title, "summary": summary}
        response = self._client.request("POST", f"/repos/{ref.full_name}/check-runs", json=payload)
        return CheckRun.model_validate(response.json())

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
        ref = self._repo(repo)
        path = f"/repos/{ref.full_name}/check-runs/{check_run_id}"
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
                output["annotations"] = [a.model_dump(exclude_none=True) for a in batch]
            payload: dict[str, Any] = {"output": output}
            if index == len(batches) - 1:  # conclude only once every annotation is in
                if status is not None:
                    payload["status"] = status
                if conclusion is not None:
                    payload["conclusion"] = conclusion
            response = self._client.request("PATCH", path, json=payload)
            result = CheckRun.model_validate(response.json())
        assert result is not None  # batches is never empty
        return result

    def list_for_suite(self, repo: RepoLike, check_suite_id: int) -> list[CheckRun]:
        """Every check run of a check suite."""
        ref = self._repo(repo)
        path = f"/repos/{ref.full_name}/check-suites/{check_suite_id}/check-runs"
        return [
            CheckRun.model_validate(item)
            for item in self._client.paginate(path, {"filter": "latest"}, key="check_runs")
        ]

    def annotations(self, repo: RepoLike, check_run_id: int) -> list[Annotation]:
        """Every annotation of a check run."""
        ref = self._repo(repo)
        path = f"/repos/{ref.full_name}/check-runs/{check_run_id}/annotations"
        return [Annotation.model_validate(item) for item in self._client.paginate(path)]

    def failing_for_suite(self, repo: RepoLike, check_suite_id: int) -> list[CheckRun]:
        """The suite's failing check runs, each with its output and annotations."""
        failing = [run for run in self.list_for_suite(repo, check_suite_id) if run.failed]
        return [
            run.model_copy(update={"annotations": tuple(self.annotations(repo, run.id))})
            if run.output.annotations_count
            else run
            for run in failing
        ]
