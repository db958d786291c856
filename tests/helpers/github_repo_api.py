"""A stateful slice of GitHub's REST API for one repository, served through a respx router.

Only the operations publishing and the gate use: pulls, labels, requested reviewers, contents,
check runs (annotations are appended on update, as GitHub does), team memberships and the
`markPullRequestReadyForReview` GraphQL mutation. Response bodies are GitHub's documented
examples (`tests/helpers/github_objects.py`), complete as GitHub's own. Routes are added to the
test's own `github_api` router, so its route-existence check covers every request.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from tests.helpers.github_git_data import GitDataAPI
from tests.helpers.github_objects import (
    annotation,
    check_run,
    content_file,
    label,
    page_of,
    pull,
    team,
    team_membership,
    user,
)

APP_ID = 42
Handler = Callable[[httpx.Request, Any, tuple[str, ...]], httpx.Response]


def _error(status: int, message: str, errors: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
    }
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body)


def _spread(handler: Callable[..., httpx.Response]) -> Handler:
    """A handler taking the path's groups one by one, as one taking them as a tuple."""
    return lambda request, body, groups: handler(request, body, *groups)


@dataclass
class RepoAPI:
    """GitHub's state for `octo/widgets`, changed by the requests sent to it."""

    files: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    reviewers: dict[int, list[str]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The reviews submitted on each pull request, oldest first (github_objects.review)."""
    team_reviewers: dict[int, list[str]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[str, dict[str, str]] = field(default_factory=dict)
    """`org/slug` -> {login: state ("active" or "pending")}."""
    membership_refused: bool = False
    """When set, membership lookups answer 403 (an App without `members: read`)."""
    collaborators: set[str] | None = None
    """When set, reviewers outside it are refused with 422 as GitHub does."""
    ready_marked: list[str] = field(default_factory=list)
    git: GitDataAPI | None = None
    """The Git Data API on the run's bare remote, when a test serves it."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- installing ---------------------------------------------------------------------------
    def install(self, router: respx.MockRouter) -> RepoAPI:
        """Serve this state through `router` (the test's `github_api`)."""
        base = "/repos/octo/widgets"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", rf"{base}/pulls", self._list_pulls),
            ("POST", rf"{base}/pulls", self._create_pull),
            ("GET", rf"{base}/pulls/(\d+)", self._get_pull),
            ("PATCH", rf"{base}/pulls/(\d+)", self._update_pull),
            ("POST", rf"{base}/pulls/(\d+)/requested_reviewers", self._request_reviewers),
            ("GET", rf"{base}/pulls/(\d+)/reviews", self._list_reviews),
            ("POST", rf"{base}/issues/(\d+)/labels", self._add_labels),
            ("DELETE", rf"{base}/issues/(\d+)/labels/([^/]+)", self._remove_label),
            ("GET", rf"{base}/contents/(.+)", self._contents),
            ("GET", rf"{base}/commits/([0-9a-f]+)/check-runs", self._checks_for_ref),
            ("POST", rf"{base}/check-runs", self._create_check),
            ("GET", rf"{base}/check-runs/(\d+)", self._get_check),
            ("PATCH", rf"{base}/check-runs/(\d+)", self._update_check),
            ("GET", rf"{base}/check-runs/(\d+)/annotations", self._list_annotations),
            ("GET", r"/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", self._membership),
            ("POST", r"/graphql", self._graphql),
        ]
        for method, pattern, git_handler in self.git.routes() if self.git is not None else []:
            routes.append((method, pattern, _spread(git_handler)))
        for method, pattern, handler in routes:
            router.route(method=method, path__regex=rf"^{pattern}$").mock(
                side_effect=self._bind(pattern, handler)
            )
        return self

    @staticmethod
    def _bind(pattern: str, handler: Handler) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            match = re.fullmatch(pattern, request.url.path)
            assert match is not None
            body = json.loads(request.content) if request.content else None
            return handler(request, body, match.groups())

        return respond

    # -- pulls --------------------------------------------------------------------------------
    def _pull_body(self, number: int) -> dict[str, Any]:
        item = dict(self.pulls[number])
        item["labels"] = [label(n) for n in self.labels.get(number, [])]
        item["requested_reviewers"] = [user(u) for u in self.reviewers.get(number, [])]
        item["requested_teams"] = [team(t) for t in self.team_reviewers.get(number, [])]
        return item

    def _list_pulls(self, request: httpx.Request, _: Any, __: tuple[str, ...]) -> httpx.Response:
        params = request.url.params
        head, state = params.get("head"), params.get("state", "open")
        found = [
            self._pull_body(n)
            for n, p in sorted(self.pulls.items())
            if (state == "all" or p["state"] == state)
            and (head is None or p["head"]["label"] == head)
        ]
        return httpx.Response(200, json=found)

    def _create_pull(self, _: httpx.Request, body: Any, __: tuple[str, ...]) -> httpx.Response:
        head = f"octo:{body['head']}"
        if any(p["head"]["label"] == head and p["state"] == "open" for p in self.pulls.values()):
            return _error(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {head}.",
                    }
                ],
            )
        number = 100 + len(self.pulls)
        item = pull(
            number,
            draft=bool(body.get("draft")),
            head=body["head"],
            title=body["title"],
            body=body["body"],
        )
        item["user"] = user("draftsmith[bot]", 99)
        self.pulls[number] = item
        return httpx.Response(201, json=self._pull_body(number))

    def _get_pull(self, _: httpx.Request, __: Any, groups: tuple[str, ...]) -> httpx.Response:
        number = int(groups[0])
        if number not in self.pulls:
            return _error(404, "Not Found")
        return httpx.Response(200, json=self._pull_body(number))

    def _update_pull(self, _: httpx.Request, body: Any, groups: tuple[str, ...]) -> httpx.Response:
        number = int(groups[0])
        self.pulls[number].update({k: v for k, v in body.items() if k in ("title", "body")})
        return httpx.Response(200, json=self._pull_body(number))

    def _request_reviewers(
        self, _: httpx.Request, body: Any, groups: tuple[str, ...]
    ) -> httpx.Response:
        number = int(groups[0])
        users, teams = body.get("reviewers", []), body.get("team_reviewers", [])
        if self.collaborators is not None and any(u not in self.collaborators for u in users):
            return _error(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or "
                "teams you specified is not a collaborator of the octo/widgets repository.",
            )
        for login in users:
            if login not in self.reviewers.setdefault(number, []):
                self.reviewers[number].append(login)
        for slug in teams:
            if slug not in self.team_reviewers.setdefault(number, []):
                self.team_reviewers[number].append(slug)
        return httpx.Response(201, json=self._pull_body(number))

    def _list_reviews(
        self, request: httpx.Request, _: Any, groups: tuple[str, ...]
    ) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.reviews.get(int(groups[0]), [])))

    def _add_labels(self, _: httpx.Request, body: Any, groups: tuple[str, ...]) -> httpx.Response:
        number = int(groups[0])
        current = self.labels.setdefault(number, [])
        current.extend(n for n in body["labels"] if n not in current)
        return httpx.Response(200, json=[label(n) for n in current])

    def _remove_label(self, _: httpx.Request, __: Any, groups: tuple[str, ...]) -> httpx.Response:
        number, name = int(groups[0]), httpx.URL("/" + groups[1]).path[1:]
        current = self.labels.setdefault(number, [])
        if name not in current:
            return _error(404, "Label does not exist")
        current.remove(name)
        return httpx.Response(200, json=[label(n) for n in current])

    # -- contents -----------------------------------------------------------------------------
    def _contents(self, _: httpx.Request, __: Any, groups: tuple[str, ...]) -> httpx.Response:
        path = groups[0]
        if path not in self.files:
            return _error(404, "Not Found")
        return httpx.Response(200, json=content_file(path, self.files[path]))

    # -- check runs ---------------------------------------------------------------------------
    def _checks_for_ref(
        self, request: httpx.Request, _: Any, groups: tuple[str, ...]
    ) -> httpx.Response:
        params = request.url.params
        runs = [
            run
            for run in self.check_runs.values()
            if run["head_sha"] == groups[0]
            and run["name"] == params.get("check_name", run["name"])
            and str(run["app"]["id"]) == params.get("app_id", str(run["app"]["id"]))
        ]
        return httpx.Response(200, json={"total_count": len(runs), "check_runs": runs})

    def _create_check(self, _: httpx.Request, body: Any, __: tuple[str, ...]) -> httpx.Response:
        id_ = 500 + next(self._ids)
        run = check_run(
            id_,
            name=body["name"],
            head_sha=body["head_sha"],
            status=body.get("status", "queued"),
            conclusion=body.get("conclusion"),
        )
        run["details_url"] = body.get("details_url")
        run["external_id"] = body.get("external_id", "")
        self.check_runs[id_] = run
        self.annotations[id_] = []
        self._apply_output(id_, body.get("output"))
        return httpx.Response(201, json=run)

    def _get_check(self, _: httpx.Request, __: Any, groups: tuple[str, ...]) -> httpx.Response:
        id_ = int(groups[0])
        if id_ not in self.check_runs:
            return _error(404, "Not Found")
        return httpx.Response(200, json=self.check_runs[id_])

    def _update_check(self, _: httpx.Request, body: Any, groups: tuple[str, ...]) -> httpx.Response:
        id_ = int(groups[0])
        run = self.check_runs[id_]
        if "conclusion" in body:
            run["conclusion"], run["status"] = body["conclusion"], "completed"
        if "status" in body:
            run["status"] = body["status"]
        self._apply_output(id_, body.get("output"))
        return httpx.Response(200, json=run)

    def _apply_output(self, id_: int, output: dict[str, Any] | None) -> None:
        if not output:
            return
        run = self.check_runs[id_]
        for key in ("title", "summary", "text"):
            if key in output:
                run["output"][key] = output[key]
        for item in output.get("annotations", []):  # GitHub appends
            self.annotations[id_].append(
                annotation(
                    item["path"],
                    item["start_line"],
                    item["annotation_level"],
                    item["message"],
                    item.get("title", ""),
                )
            )
        run["output"]["annotations_count"] = len(self.annotations[id_])

    def _list_annotations(
        self, _: httpx.Request, __: Any, groups: tuple[str, ...]
    ) -> httpx.Response:
        return httpx.Response(200, json=self.annotations[int(groups[0])])

    # -- teams and GraphQL --------------------------------------------------------------------
    def _membership(self, _: httpx.Request, __: Any, groups: tuple[str, ...]) -> httpx.Response:
        org, slug, login = groups
        if self.membership_refused:
            return _error(403, "Resource not accessible by integration")
        state = self.teams.get(f"{org}/{slug}", {}).get(login)
        if state is None:
            return _error(404, "Not Found")
        return httpx.Response(200, json=team_membership(login, state))

    def _graphql(self, _: httpx.Request, body: Any, __: tuple[str, ...]) -> httpx.Response:
        assert "markPullRequestReadyForReview" in body["query"]
        node_id = body["variables"]["id"]
        found = [p for p in self.pulls.values() if p["node_id"] == node_id]
        if not found:
            return httpx.Response(
                200,
                json={
                    "data": {"markPullRequestReadyForReview": None},
                    "errors": [{"type": "NOT_FOUND", "message": f"no node {node_id}"}],
                },
            )
        found[0]["draft"] = False
        self.ready_marked.append(node_id)
        return httpx.Response(
            200,
            json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}},
        )

    # -- reading ------------------------------------------------------------------------------
    def calls(self, router: respx.MockRouter, method: str, path_regex: str) -> list[httpx.Request]:
        """The requests `router` saw with this method and a path matching `path_regex`."""
        return [
            c.request
            for c in router.calls
            if c.request.method == method and re.fullmatch(path_regex, c.request.url.path)
        ]
