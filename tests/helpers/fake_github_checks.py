"""The Checks API of `FakeGitHub` (tests/helpers/fake_github.py): check runs, their annotations
and the runs of a check suite, as GitHub keeps them.

GitHub's rules kept here: a run is created `queued` unless a status is given, a conclusion
completes it, annotations sent with an output are appended (never replaced) and counted in
`output.annotations_count`, a run belongs to the App whose token created it (listing by ref can
filter on `app_id`), and an unknown run answers 404.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.helpers.github_objects import annotation, check_run

OUTPUT_TEXT = ("title", "summary", "text")


def _not_found() -> httpx.Response:
    return httpx.Response(
        404, json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    )


class CheckRunsAPI:
    """The check-run handlers of `FakeGitHub`; the state they change is declared there."""

    repo: str
    app_id: int
    check_runs: dict[int, dict[str, Any]]
    annotations: dict[int, list[dict[str, Any]]]
    suites: dict[int, list[dict[str, Any]]]
    _ids: itertools.count[int]

    def check_routes(self, base: str) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        """(method, path regex, handler) of the Checks API under `/repos/{owner}/{repo}`."""
        return [
            ("GET", rf"{base}/commits/([0-9a-f]+)/check-runs", self._checks_for_ref),
            ("GET", rf"{base}/check-suites/(\d+)/check-runs", self._suite_checks),
            ("POST", rf"{base}/check-runs", self._create_check),
            ("GET", rf"{base}/check-runs/(\d+)", self._get_check),
            ("PATCH", rf"{base}/check-runs/(\d+)", self._update_check),
            ("GET", rf"{base}/check-runs/(\d+)/annotations", self._list_annotations),
        ]

    def _known(self, run_id: int) -> bool:
        """A run created here, or one a test put in a suite (another App's, such as CI's)."""
        in_suites = (run["id"] for runs in self.suites.values() for run in runs)
        return run_id in self.check_runs or run_id in in_suites

    def _checks_for_ref(self, request: httpx.Request, body: Any, sha: str) -> httpx.Response:
        params = request.url.params
        runs = [
            run
            for run in self.check_runs.values()
            if run["head_sha"] == sha
            and run["name"] == params.get("check_name", run["name"])
            and str(run["app"]["id"]) == params.get("app_id", str(run["app"]["id"]))
        ]
        return httpx.Response(200, json={"total_count": len(runs), "check_runs": runs})

    def _suite_checks(self, request: httpx.Request, body: Any, suite: str) -> httpx.Response:
        runs = self.suites.get(int(suite), [])
        return httpx.Response(200, json={"total_count": len(runs), "check_runs": runs})

    def _create_check(self, request: httpx.Request, body: Any) -> httpx.Response:
        run_id = next(self._ids)
        conclusion = body.get("conclusion")
        run = check_run(
            run_id,
            name=body["name"],
            head_sha=body["head_sha"],
            status="completed" if conclusion else body.get("status", "queued"),
            conclusion=conclusion,
            app_id=self.app_id,
            repo=self.repo,
        )
        run["details_url"] = body.get("details_url")
        run["external_id"] = body.get("external_id", "")
        self.check_runs[run_id] = run
        self.annotations[run_id] = []
        self._apply_output(run_id, body.get("output"))
        return httpx.Response(201, json=run)

    def _get_check(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        if int(run_id) not in self.check_runs:
            return _not_found()
        return httpx.Response(200, json=self.check_runs[int(run_id)])

    def _update_check(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        if int(run_id) not in self.check_runs:
            return _not_found()
        run = self.check_runs[int(run_id)]
        kept = ("name", "status", "details_url", "external_id")
        run.update({k: v for k, v in body.items() if k in kept})
        if body.get("conclusion"):  # GitHub: a conclusion sets the status to completed
            run["conclusion"], run["status"] = body["conclusion"], "completed"
        if run["status"] == "completed" and run["completed_at"] is None:
            run["completed_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._apply_output(int(run_id), body.get("output"))
        return httpx.Response(200, json=run)

    def _apply_output(self, run_id: int, output: dict[str, Any] | None) -> None:
        if not output:
            return
        run = self.check_runs[run_id]
        run["output"].update({k: v for k, v in output.items() if k in OUTPUT_TEXT})
        received = self.annotations.setdefault(run_id, [])
        for item in output.get("annotations", []):  # GitHub appends
            received.append(
                annotation(
                    item["path"],
                    item["start_line"],
                    item["annotation_level"],
                    item["message"],
                    item.get("title", ""),
                )
            )
        run["output"]["annotations_count"] = len(received)

    def _list_annotations(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        if not self._known(int(run_id)):
            return _not_found()
        return httpx.Response(200, json=self.annotations.get(int(run_id), []))
