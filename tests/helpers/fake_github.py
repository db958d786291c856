"""A stateful GitHub REST API for one repository at the HTTP boundary (respx), for every test.

Responses are GitHub's documented examples (`tests/helpers/github_objects.py`), as complete as
GitHub's own, and its answers follow GitHub's rules where Draftsmith depends on them: one open
pull request per head, reviewers only among collaborators, labels kept per issue, check runs that
a conclusion completes, annotations appended. Every request is recorded so tests can assert what
Draftsmith sent (and grep it for secrets). Only what Draftsmith calls is served: through
`mock()` anything else answers 404 and is listed in `unexpected`; through `install(router)` it
is left to the test's own router. A test scripts what the state would not answer (a 5xx, a 403,
a rate limit, a malformed body) with `script(method, path, *answers)`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import respx

from tests.helpers.fake_github_checks import CheckRunsAPI
from tests.helpers.github_git_data import GitDataAPI
from tests.helpers.github_objects import (
    API,
    comment,
    content_file,
    delivery,
    label,
    page_of,
    permission,
    pull,
    reaction,
    repository,
    team,
    team_membership,
    token,
    user,
)
from tests.helpers.repos import make_repo
from tests.unit.github.support import documented_route

TOKEN = "ghs_fakeInstallationToken0123456789abcdef"
BOT_LOGIN = "draftsmith[bot]"
Handler = Callable[..., httpx.Response]
"""handler(request, body, *groups of the path) -> GitHub's answer."""


def error(status: int, message: str, errors: list[Any] | None = None) -> httpx.Response:
    """An error answer as GitHub writes it."""
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body)


def app_of(request: httpx.Request) -> int | None:
    """The App a request's JWT is issued by (its `iss`), unverified; None without one."""
    scheme, _, jwt = request.headers.get("authorization", "").partition(" ")
    parts = jwt.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    issuer = str(claims.get("iss", ""))
    return int(issuer) if issuer.isdigit() else None


@dataclass(kw_only=True)
class FakeGitHub(CheckRunsAPI):
    """GitHub's state for one repository, changed by the requests Draftsmith sends.

    All of its state is declared here; the Checks API's handlers are in `CheckRunsAPI`
    (tests/helpers/fake_github_checks.py), grouped apart to keep this file readable.
    """

    repo: str = "octo/widgets"
    base_path: str = ""
    """Where the REST API is mounted: "" on api.github.com, "/api/v3" on a GitHub Enterprise
    Server (whose GraphQL endpoint is then /api/graphql)."""
    permissions: dict[str, Any] = field(default_factory=dict)
    """login -> permission level; a list of levels changes over time (one per request)."""
    roles: dict[str, str] = field(default_factory=dict)
    """login -> role name, where it is not the permission level (maintain, triage, custom)."""
    collaborators: set[str] | None = None
    """When set, reviewers outside it are refused with 422 as GitHub does."""
    files: dict[str, str] = field(default_factory=dict)
    """The default branch's files served by the contents API."""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: list[tuple[int, str]] = field(default_factory=list)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Pull requests as stored; answers add `labels`, `requested_reviewers`, `requested_teams`."""
    labels: dict[int, list[str]] = field(default_factory=dict)
    """The label names of each issue or pull request (`labels_of`)."""
    reviewers: dict[int, list[str]] = field(default_factory=dict)
    """The users asked to review each pull request."""
    team_reviewers: dict[int, list[str]] = field(default_factory=dict)
    """The team slugs asked to review each pull request."""
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The reviews submitted on each pull request, oldest first (github_objects.review)."""
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Each review's line comments by review id (github_objects.review_comment)."""
    ready_marked: list[str] = field(default_factory=list)
    """Node ids markPullRequestReadyForReview turned from draft to ready."""
    app_id: int = 42
    """The App whose token created the check runs (the `iss` of the JWT that asked for one)."""
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The annotations each check run received (GitHub lists them apart from the run)."""
    suites: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """The check runs of each check suite (CI's, which Draftsmith reads to repair)."""
    teams: dict[str, dict[str, str]] = field(default_factory=dict)
    """`org/slug` -> {login: membership state ("active" or "pending")}."""
    membership_refused: bool = False
    """When set, membership lookups answer 403 (an App without `members: read`)."""
    hook_deliveries: list[dict[str, Any]] = field(default_factory=list)
    """The App's webhook deliveries, newest first (github_objects.delivery)."""
    hook_payloads: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """What each delivery guid carried (event, payload), for redelivery."""
    deliver: Callable[[str, str, dict[str, Any]], int] | None = None
    """Called as deliver(guid, event, payload) -> HTTP status when GitHub redelivers."""
    requests: list[httpx.Request] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    token: str = TOKEN
    """The installation token every token request is answered with."""
    default_branch: str = "main"
    """The repository's default branch, as GET /repos/{owner}/{repo} answers it."""
    scripted: dict[tuple[str, str], list[httpx.Response | Exception]] = field(default_factory=dict)
    """(method, path) -> the answers its next requests get before the state answers (`script`)."""
    git: GitDataAPI | None = None
    """The Git Data API, on the bare repository behind the clone URL (`serve_git`)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    # -- installing ---------------------------------------------------------------------------
    def serve_git(self, bare: Path, signed_branches: list[str] | None = None) -> GitDataAPI:
        """Serve the Git Data API from `bare` (the clone URL's repository); `signed_branches`:
        fnmatch patterns of branches protected by a rule requiring signed commits."""
        self.git = GitDataAPI(bare, self.repo, signed_branches=list(signed_branches or []))
        return self.git

    def serve_remote(
        self,
        root: Path,
        files: dict[str, str],
        *,
        name: str = "widgets",
        signed_branches: list[str] | None = None,
    ) -> str:
        """A bare repository `root/<name>.git` holding `files` (one commit on main) as GitHub's
        git remote, served by the Git Data API (`serve_git`); its file:// clone URL."""
        work = make_repo(root / f"{name}-upstream", files)
        bare = root / f"{name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        self.serve_git(bare, signed_branches)
        return f"file://{bare}"

    def mock(self) -> respx.MockRouter:
        """A respx router serving this state on api.github.com (use as a context manager)."""
        router = respx.mock(assert_all_called=False, assert_all_mocked=True)
        router.route(host="127.0.0.1").pass_through()
        router.route(url__startswith=API).mock(side_effect=self._dispatch)
        return router

    def script(self, method: str, path: str, *answers: httpx.Response | Exception) -> FakeGitHub:
        """The next requests for `method path` (exact path, any query) get `answers`, one each
        in order, before the state answers again: what GitHub does when it fails (a 5xx, a 403,
        a rate limit) or answers unusually (an older shape, a malformed body); an exception is
        raised instead (a network error). Any path, served by the state or not; recorded in
        `requests` like every other."""
        self.scripted.setdefault((method, path), []).extend(answers)
        return self

    def install(self, router: respx.MockRouter) -> FakeGitHub:
        """Serve this state through a test's own router (the unit tests' `github_api`), one route
        per operation: the router's checks see every request, and what the fake does not serve
        is left to the router. Routes added later by the test come after these; the Git Data
        API is served when `git` is set before. Scripted answers (`script`) come first."""
        router.route().mock(side_effect=self._scripted_answer)
        for method, pattern, handler in self._routes():
            router.route(method=method, path__regex=f"^{pattern}$").mock(
                side_effect=self._bound(pattern, handler)
            )
        return self

    def answer(self, request: httpx.Request) -> httpx.Response:
        """GitHub's answer to one request (also served over HTTP by tests.helpers.github_server)."""
        return self._dispatch(request)

    def _scripted_answer(self, request: httpx.Request) -> httpx.Response | None:
        """The next scripted answer to this request, recorded; None (the router goes on to the
        next route) when none is left."""
        waiting = self.scripted.get((request.method, request.url.path))
        if not waiting:
            return None
        self.requests.append(request)
        answer = waiting.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        if (scripted := self._scripted_answer(request)) is not None:
            return scripted
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.url.path)
            if match and method == request.method:
                return self._serve(request, handler, match.groups())
        self.requests.append(request)
        self.unexpected.append(f"{request.method} {request.url.path}")
        return error(404, "Not Found")

    def _bound(self, pattern: str, handler: Handler) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            match = re.fullmatch(pattern, request.url.path)
            assert match is not None
            return self._serve(request, handler, match.groups())

        return respond

    def _serve(
        self, request: httpx.Request, handler: Handler, groups: tuple[str, ...]
    ) -> httpx.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path
        rest = path.removeprefix(self.base_path) if path != "/api/graphql" else "/graphql"
        if documented_route(method, rest) is None:
            self.unexpected.append(f"{method} {path} (undocumented)")
        body = json.loads(request.content) if request.content else {}
        return handler(request, body, *groups)

    def _routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path regex, handler) of every operation served; GET before POST on a path."""
        base = re.escape(self.base_path)
        r = f"{base}/repos/{re.escape(self.repo)}"
        return [
            *((m, f"{base}{path}", h) for m, path, h in (self.git.routes() if self.git else [])),
            ("POST", rf"{base}/app/installations/(\d+)/access_tokens", self._token),
            ("GET", rf"{base}/app/hook/deliveries", self._hook_deliveries),
            ("POST", rf"{base}/app/hook/deliveries/(\d+)/attempts", self._redeliver),
            ("GET", rf"{r}", self._repository),
            ("GET", rf"{r}/contents/(.+)", self._contents),
            ("GET", rf"{r}/collaborators/([^/]+)/permission", self._permission),
            ("GET", rf"{base}/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", self._membership),
            ("GET", rf"{r}/issues/(\d+)/comments", self._list_comments),
            ("POST", rf"{r}/issues/(\d+)/comments", self._create_comment),
            ("PATCH", rf"{r}/issues/comments/(\d+)", self._update_comment),
            ("POST", rf"{r}/issues/comments/(\d+)/reactions", self._react),
            ("POST", rf"{r}/issues/(\d+)/labels", self._add_labels),
            ("DELETE", rf"{r}/issues/(\d+)/labels/([^/]+)", self._remove_label),
            ("GET", rf"{r}/pulls", self._list_pulls),
            ("POST", rf"{r}/pulls", self._create_pull),
            ("GET", rf"{r}/pulls/(\d+)", self._get_pull),
            ("PATCH", rf"{r}/pulls/(\d+)", self._update_pull),
            ("POST", rf"{r}/pulls/(\d+)/requested_reviewers", self._request_reviewers),
            ("GET", rf"{r}/pulls/(\d+)/reviews", self._list_reviews),
            ("GET", rf"{r}/pulls/(\d+)/reviews/(\d+)/comments", self._review_comments),
            ("POST", "/api/graphql" if self.base_path else "/graphql", self._graphql),
            *self.check_routes(r),
        ]

    # -- the App: tokens, webhook deliveries --------------------------------------------------
    def _token(self, request: httpx.Request, body: Any, _installation: str) -> httpx.Response:
        """An installation token; the JWT asking for it names the App (its check runs')."""
        self.tokens_issued += 1
        self.app_id = app_of(request) or self.app_id
        expires = datetime.now(UTC) + timedelta(hours=1)
        stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        return httpx.Response(201, json=token(self.token, stamp, body.get("permissions")))

    def _hook_deliveries(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.hook_deliveries))

    def _redeliver(self, request: httpx.Request, body: Any, delivery_id: str) -> httpx.Response:
        """As GitHub: send the delivery's payload again, under the same guid, and list the
        attempt with the answer the receiver gave."""
        item = next((d for d in self.hook_deliveries if d["id"] == int(delivery_id)), None)
        if item is None or self.deliver is None:
            return error(404, "Not Found")
        event, payload = self.hook_payloads[item["guid"]]
        status = int(self.deliver(item["guid"], event, payload))
        attempt = delivery(
            next(self._ids), item["guid"], datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            status="OK" if status < 300 else "Bad Gateway", code=status, redelivery=True,
        )  # fmt: skip
        self.hook_deliveries.insert(0, attempt)
        return httpx.Response(202, json={})

    # -- the repository: contents, permissions, teams -----------------------------------------
    def _repository(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=repository(self.repo, default_branch=self.default_branch))

    def _contents(self, request: httpx.Request, body: Any, path: str) -> httpx.Response:
        if path not in self.files:
            return error(404, "Not Found")
        return httpx.Response(200, json=content_file(path, self.files[path], self.repo))

    def _permission(self, request: httpx.Request, body: Any, login: str) -> httpx.Response:
        if login not in self.permissions:
            return error(404, "Not Found")
        level = self.permissions[login]
        if isinstance(level, list):  # changes over time: one answer per request
            level = level.pop(0) if len(level) > 1 else level[0]
        return httpx.Response(200, json=permission(login, level, self.roles.get(login)))

    def _membership(
        self, request: httpx.Request, body: Any, org: str, slug: str, login: str
    ) -> httpx.Response:
        if self.membership_refused:
            return error(403, "Resource not accessible by integration")
        state = self.teams.get(f"{org}/{slug}", {}).get(login)
        if state is None:
            return error(404, "Not Found")
        return httpx.Response(200, json=team_membership(login, state))

    # -- issues: comments, reactions, labels --------------------------------------------------
    def _list_comments(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.comments.get(int(number), [])))

    def _create_comment(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        item = comment(next(self._ids), body["body"], repo=self.repo)
        self.comments.setdefault(int(number), []).append(item)
        return httpx.Response(201, json=item)

    def _update_comment(self, request: httpx.Request, body: Any, comment_id: str) -> httpx.Response:
        for items in self.comments.values():
            for item in items:
                if item["id"] == int(comment_id):
                    item["body"] = body["body"]
                    return httpx.Response(200, json=item)
        return error(404, "Not Found")

    def _react(self, request: httpx.Request, body: Any, comment_id: str) -> httpx.Response:
        self.reactions.append((int(comment_id), body["content"]))
        return httpx.Response(201, json=reaction(next(self._ids), body["content"]))

    def _add_labels(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        names = body["labels"] if isinstance(body, dict) else body  # an object or a bare list
        current = self.labels.setdefault(int(number), [])
        current.extend(name for name in names if name not in current)
        return httpx.Response(200, json=[label(name) for name in current])

    def _remove_label(
        self, request: httpx.Request, body: Any, number: str, name: str
    ) -> httpx.Response:
        current = self.labels.setdefault(int(number), [])
        if unquote(name) not in current:
            return error(404, "Label does not exist")
        current.remove(unquote(name))
        return httpx.Response(200, json=[label(each) for each in current])

    # -- pull requests ------------------------------------------------------------------------
    def _pull_body(self, number: int) -> dict[str, Any]:
        """The pull request as GitHub answers it, with its labels and requested reviewers."""
        item = dict(self.pulls[number])
        item["labels"] = [label(name) for name in self.labels.get(number, [])]
        item["requested_reviewers"] = [user(login) for login in self.reviewers.get(number, [])]
        item["requested_teams"] = [team(slug) for slug in self.team_reviewers.get(number, [])]
        return item

    def _head_label(self, head: str) -> str:
        """`owner:branch`, as GitHub labels a head (a bare branch is this repository's)."""
        return head if ":" in head else f"{self.repo.split('/')[0]}:{head}"

    def _list_pulls(self, request: httpx.Request, body: Any) -> httpx.Response:
        head, state = request.url.params.get("head"), request.url.params.get("state", "open")
        found = [
            self._pull_body(number)
            for number, item in sorted(self.pulls.items())
            if state in ("all", item["state"])
            and (head is None or item["head"]["label"] == self._head_label(head))
        ]
        return httpx.Response(200, json=page_of(request, found))

    def _create_pull(self, request: httpx.Request, body: Any) -> httpx.Response:
        head = self._head_label(body["head"])
        if any(p["head"]["label"] == head and p["state"] == "open" for p in self.pulls.values()):
            already = f"A pull request already exists for {head}."
            return error(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "code": "custom", "message": already}],
            )
        number = len(self.pulls) + 100
        self.pulls[number] = pull(
            number,
            draft=bool(body.get("draft")),
            head=body["head"],
            title=body["title"],
            body=body.get("body", ""),
            repo=self.repo,
        )
        self.pulls[number]["user"] = user(BOT_LOGIN, 99)
        return httpx.Response(201, json=self._pull_body(number))

    def _get_pull(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        if int(number) not in self.pulls:
            return error(404, "Not Found")
        return httpx.Response(200, json=self._pull_body(int(number)))

    def _update_pull(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        if int(number) not in self.pulls:
            return error(404, "Not Found")
        changed = {k: v for k, v in body.items() if k in ("title", "body", "state")}
        self.pulls[int(number)].update(changed)
        return httpx.Response(200, json=self._pull_body(int(number)))

    def _request_reviewers(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        if int(number) not in self.pulls:
            return error(404, "Not Found")
        users, teams = body.get("reviewers", []), body.get("team_reviewers", [])
        if self.collaborators is not None and any(u not in self.collaborators for u in users):
            return error(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or "
                f"teams you specified is not a collaborator of the {self.repo} repository.",
            )
        for asked, names in ((self.reviewers, users), (self.team_reviewers, teams)):
            current = asked.setdefault(int(number), [])
            current.extend(name for name in names if name not in current)
        return httpx.Response(201, json=self._pull_body(int(number)))

    def _list_reviews(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        return httpx.Response(200, json=page_of(request, self.reviews.get(int(number), [])))

    def _review_comments(
        self, request: httpx.Request, body: Any, number: str, review_id: str
    ) -> httpx.Response:
        items = self.review_comments.get(int(review_id), [])
        return httpx.Response(200, json=page_of(request, items))

    def _graphql(self, request: httpx.Request, body: Any) -> httpx.Response:
        """The one mutation Draftsmith sends: markPullRequestReadyForReview."""
        if "markPullRequestReadyForReview" not in body.get("query", ""):
            self.unexpected.append("POST /graphql (not markPullRequestReadyForReview)")
            return httpx.Response(200, json={"errors": [{"message": "not served by the fake"}]})
        variables = body.get("variables") or {}
        node_id = str(variables.get("id") or variables.get("pullRequestId"))
        found = [item for item in self.pulls.values() if item["node_id"] == node_id]
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
    def labels_of(self, number: int) -> list[str]:
        """The label names on an issue or pull request, in the order they were added."""
        return list(self.labels.get(number, []))

    def comment_bodies(self, number: int) -> list[str]:
        """Bodies of the comments on an issue, oldest first."""
        return [c["body"] for c in self.comments.get(number, [])]

    def calls(self, method: str, path_regex: str) -> list[httpx.Request]:
        """The requests received with this method and a path matching `path_regex` (whole)."""
        return [
            request
            for request in self.requests
            if request.method == method and re.fullmatch(path_regex, request.url.path)
        ]

    def sent_text(self) -> str:
        """Every request Draftsmith sent, as text (URL, headers without auth, body)."""
        parts = []
        for request in self.requests:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
            parts.append(f"{request.method} {request.url}\n{headers}\n{request.content.decode()}")
        return "\n".join(parts)
