"""A stateful GitHub REST API at the HTTP boundary (respx), for end-to-end tests.

Responses are GitHub's documented examples (`tests/helpers/github_objects.py`), as complete as
GitHub's own; every request is recorded so tests can assert what Draftsmith sent (and grep it for
secrets). Only what Draftsmith calls is served;
anything else answers 404 and is listed in `unexpected`.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import respx

from tests.helpers.github_git_data import GitDataAPI
from tests.helpers.github_objects import (
    API,
    annotation,
    check_run,
    comment,
    content_file,
    delivery,
    label,
    page_of,
    permission,
    pull,
    reaction,
    token,
    user,
)
from tests.unit.github.support import documented_route

TOKEN = "ghs_fakeInstallationToken0123456789abcdef"


@dataclass
class FakeGitHub:
    """GitHub's state for one repository, changed by the requests Draftsmith sends."""

    repo: str = "octo/widgets"
    permissions: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The annotations each check run received (GitHub lists them apart from the run)."""
    reactions: list[tuple[int, str]] = field(default_factory=list)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The reviews submitted on each pull request, oldest first (github_objects.review)."""
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    hook_deliveries: list[dict[str, Any]] = field(default_factory=list)
    """The App's webhook deliveries, newest first (github_objects.delivery)."""
    hook_payloads: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """What each delivery guid carried (event, payload), for redelivery."""
    deliver: Any = None
    """Called as deliver(guid, event, payload) -> HTTP status when GitHub redelivers."""
    """Each review's line comments by review id (github_objects.review_comment)."""
    suites: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    git: GitDataAPI | None = None
    """The Git Data API, on the bare repository behind the clone URL (`serve_git`)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    # -- installing ---------------------------------------------------------------------------
    def serve_git(self, bare: Path, signed_branches: list[str] | None = None) -> GitDataAPI:
        """Serve the Git Data API from `bare` (the clone URL's repository); `signed_branches`:
        fnmatch patterns of branches protected by a rule requiring signed commits."""
        self.git = GitDataAPI(bare, self.repo, signed_branches=list(signed_branches or []))
        return self.git

    def mock(self) -> respx.MockRouter:
        """A respx router serving this state on api.github.com (use as a context manager)."""
        router = respx.mock(assert_all_called=False, assert_all_mocked=True)
        router.route(host="127.0.0.1").pass_through()
        router.route(url__startswith=API).mock(side_effect=self._dispatch)
        return router

    def answer(self, request: httpx.Request) -> httpx.Response:
        """GitHub's answer to one request (also served over HTTP by tests.helpers.github_server)."""
        return self._dispatch(request)

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path
        if documented_route(method, path) is None:
            self.unexpected.append(f"{method} {path} (undocumented)")
        body = json.loads(request.content) if request.content else {}
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                result: httpx.Response = handler(request, body, *match.groups())
                return result
        self.unexpected.append(f"{method} {path}")
        return httpx.Response(404, json={"message": "Not Found"})

    def _routes(self) -> list[tuple[str, str, Any]]:
        r = re.escape(self.repo)
        git = self.git.routes() if self.git is not None else []
        return [
            *[(pattern, verb, handler) for verb, pattern, handler in git],
            (r"/app/installations/(\d+)/access_tokens", "POST", self._token),
            (rf"/repos/{r}/contents/(.+)", "GET", self._contents),
            (rf"/repos/{r}/collaborators/([^/]+)/permission", "GET", self._permission),
            (rf"/repos/{r}/issues/(\d+)/comments", "GET", self._list_comments),
            (rf"/repos/{r}/issues/(\d+)/comments", "POST", self._create_comment),
            (rf"/repos/{r}/issues/comments/(\d+)", "PATCH", self._update_comment),
            (rf"/repos/{r}/issues/comments/(\d+)/reactions", "POST", self._react),
            (rf"/repos/{r}/pulls", "GET", self._list_pulls),
            (rf"/repos/{r}/pulls", "POST", self._create_pull),
            (rf"/repos/{r}/pulls/(\d+)", "PATCH", self._update_pull),
            (rf"/repos/{r}/pulls/(\d+)", "GET", self._get_pull),
            (rf"/repos/{r}/commits/([0-9a-f]+)/check-runs", "GET", self._checks_for_ref),
            (rf"/repos/{r}/check-runs/(\d+)", "GET", self._get_check),
            (rf"/repos/{r}/check-suites/(\d+)/check-runs", "GET", self._suite_checks),
            (rf"/repos/{r}/check-runs/(\d+)/annotations", "GET", self._annotations),
            (rf"/repos/{r}/pulls/(\d+)/requested_reviewers", "POST", self._reviewers),
            (rf"/repos/{r}/pulls/(\d+)/reviews", "GET", self._list_reviews),
            (rf"/repos/{r}/pulls/(\d+)/reviews/(\d+)/comments", "GET", self._review_comments),
            (rf"/repos/{r}/issues/(\d+)/labels", "POST", self._add_labels),
            (rf"/repos/{r}/issues/(\d+)/labels/([^/]+)", "DELETE", self._remove_label),
            (rf"/repos/{r}/check-runs", "POST", self._create_check),
            (rf"/repos/{r}/check-runs/(\d+)", "PATCH", self._update_check),
            (r"/app/hook/deliveries", "GET", self._hook_deliveries),
            (r"/app/hook/deliveries/(\d+)/attempts", "POST", self._redeliver),
            (r"/graphql", "POST", self._graphql),
        ]

    # -- handlers -----------------------------------------------------------------------------
    def _token(self, request: httpx.Request, body: dict[str, Any], _inst: str) -> httpx.Response:
        self.tokens_issued += 1
        expires = datetime.now(UTC) + timedelta(hours=1)
        return httpx.Response(
            201,
            json=token(TOKEN, expires.strftime("%Y-%m-%dT%H:%M:%SZ"), body.get("permissions")),
        )

    def _contents(self, request: httpx.Request, body: Any, path: str) -> httpx.Response:
        if path not in self.files:
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=content_file(path, self.files[path], self.repo))

    def _permission(self, request: httpx.Request, body: Any, login: str) -> httpx.Response:
        if login not in self.permissions:
            return httpx.Response(404, json={"message": "Not Found"})
        level = self.permissions[login]
        if isinstance(level, list):  # changes over time: one answer per request
            level = level.pop(0) if len(level) > 1 else level[0]
        return httpx.Response(200, json=permission(login, level))

    def _review_comments(
        self, request: httpx.Request, body: Any, number: str, review_id: str
    ) -> httpx.Response:
        items = self.review_comments.get(int(review_id), [])
        return httpx.Response(200, json=page_of(request, items))

    def _hook_deliveries(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.hook_deliveries))

    def _redeliver(self, request: httpx.Request, body: Any, delivery_id: str) -> httpx.Response:
        """As GitHub: send the delivery's payload again, under the same guid, and list the
        attempt with the answer the receiver gave."""
        item = next((d for d in self.hook_deliveries if d["id"] == int(delivery_id)), None)
        if item is None or self.deliver is None:
            return httpx.Response(404, json={"message": "Not Found"})
        event, payload = self.hook_payloads[item["guid"]]
        status = int(self.deliver(item["guid"], event, payload))
        attempt = delivery(
            next(self._ids), item["guid"], datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            status="OK" if status < 300 else "Bad Gateway", code=status, redelivery=True,
        )  # fmt: skip
        self.hook_deliveries.insert(0, attempt)
        return httpx.Response(202, json={})

    def _list_reviews(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.reviews.get(int(number), [])))

    def _list_comments(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        return httpx.Response(200, json=self.comments.get(int(number), []))

    def _create_comment(
        self, request: httpx.Request, body: dict[str, Any], number: str
    ) -> httpx.Response:
        item = comment(next(self._ids), body["body"], repo=self.repo)
        self.comments.setdefault(int(number), []).append(item)
        return httpx.Response(201, json=item)

    def _update_comment(
        self, request: httpx.Request, body: dict[str, Any], comment_id: str
    ) -> httpx.Response:
        for items in self.comments.values():
            for item in items:
                if item["id"] == int(comment_id):
                    item["body"] = body["body"]
                    return httpx.Response(200, json=item)
        return httpx.Response(404, json={"message": "Not Found"})

    def _react(self, request: httpx.Request, body: dict[str, Any], cid: str) -> httpx.Response:
        self.reactions.append((int(cid), body["content"]))
        return httpx.Response(201, json=reaction(next(self._ids), body["content"]))

    def _list_pulls(self, request: httpx.Request, body: Any) -> httpx.Response:
        head = request.url.params.get("head", "")
        branch = head.split(":", 1)[-1]
        found = [p for p in self.pulls.values() if p["head"]["ref"] == branch or not head]
        return httpx.Response(200, json=found)

    def _create_pull(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        number = len(self.pulls) + 100
        item = pull(
            number,
            draft=bool(body.get("draft")),
            head=body["head"],
            title=body["title"],
            body=body.get("body", ""),
            repo=self.repo,
        )
        self.pulls[number] = item
        return httpx.Response(201, json=item)

    def _update_pull(
        self, request: httpx.Request, body: dict[str, Any], number: str
    ) -> httpx.Response:
        item = self.pulls[int(number)]
        item.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
        return httpx.Response(200, json=item)

    def _get_pull(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        if int(number) not in self.pulls:
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=self.pulls[int(number)])

    def _checks_for_ref(self, request: httpx.Request, body: Any, sha: str) -> httpx.Response:
        name = request.url.params.get("check_name")
        runs = [
            c
            for c in self.check_runs.values()
            if c["head_sha"] == sha and (name is None or c["name"] == name)
        ]
        return httpx.Response(200, json={"total_count": len(runs), "check_runs": runs})

    def _get_check(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        return httpx.Response(200, json=self.check_runs[int(run_id)])

    def _suite_checks(self, request: httpx.Request, body: Any, suite: str) -> httpx.Response:
        runs = self.suites.get(int(suite), [])
        return httpx.Response(200, json={"total_count": len(runs), "check_runs": runs})

    def _annotations(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        return httpx.Response(200, json=self.annotations.get(int(run_id), []))

    def _annotate(self, run_id: int, output: dict[str, Any]) -> None:
        received = [
            annotation(
                a["path"], a["start_line"], a["annotation_level"], a["message"], a.get("title", "")
            )
            for a in output.get("annotations", [])
        ]
        self.annotations.setdefault(run_id, []).extend(received)
        self.check_runs[run_id]["output"]["annotations_count"] += len(received)

    def _reviewers(
        self, request: httpx.Request, body: dict[str, Any], number: str
    ) -> httpx.Response:
        item = self.pulls[int(number)]
        item["requested_reviewers"] += [user(login) for login in body.get("reviewers", [])]
        return httpx.Response(201, json=item)

    def _add_labels(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        labels = body["labels"] if isinstance(body, dict) else body
        item = self.pulls.get(int(number), {"labels": []})
        item.setdefault("labels", [])
        names = {existing["name"] for existing in item["labels"]}
        item["labels"] += [label(n) for n in labels if n not in names]
        return httpx.Response(200, json=item["labels"])

    def _remove_label(
        self, request: httpx.Request, body: Any, number: str, name: str
    ) -> httpx.Response:
        item = self.pulls.get(int(number), {"labels": []})
        item["labels"] = [each for each in item.get("labels", []) if each["name"] != name]
        return httpx.Response(200, json=item["labels"])

    def _create_check(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        run_id = next(self._ids)
        item = check_run(
            run_id,
            name=body["name"],
            head_sha=body["head_sha"],
            status=body.get("status", "completed"),
            conclusion=body.get("conclusion"),
            output={k: v for k, v in (body.get("output") or {}).items() if k != "annotations"},
            repo=self.repo,
        )
        self.check_runs[run_id] = item
        self._annotate(run_id, body.get("output") or {})
        return httpx.Response(201, json=item)

    def _update_check(
        self, request: httpx.Request, body: dict[str, Any], run_id: str
    ) -> httpx.Response:
        item = self.check_runs[int(run_id)]
        item.update({k: v for k, v in body.items() if k in ("status", "conclusion", "name")})
        output = body.get("output") or {}
        item["output"].update(
            {k: v for k, v in output.items() if k in ("title", "summary", "text")}
        )
        self._annotate(int(run_id), output)
        return httpx.Response(200, json=item)

    def _graphql(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        node = body.get("variables", {}).get("id") or body.get("variables", {}).get("pullRequestId")
        for item in self.pulls.values():
            if item["node_id"] == node:
                item["draft"] = False
        return httpx.Response(
            200,
            json={"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}},
        )

    # -- reading ----------------------------------------------------------------------------
    def comment_bodies(self, number: int) -> list[str]:
        """Bodies of the comments on an issue, oldest first."""
        return [c["body"] for c in self.comments.get(number, [])]

    def sent_text(self) -> str:
        """Every request Draftsmith sent, as text (URL, headers without auth, body)."""
        parts = []
        for request in self.requests:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
            parts.append(f"{request.method} {request.url}\n{headers}\n{request.content.decode()}")
        return "\n".join(parts)
