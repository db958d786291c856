"""The run dashboard: read-only HTML pages (and JSON) of runs, `/metrics`, optional token login.

`GET /runs` lists runs (filters `status`, `repo`), `GET /runs/{id}` shows one run's timeline,
cost per agent, plan, reviews, test reports and diffs. `Accept: application/json` gets the same
data as JSON. With a token every route (and `/metrics`) needs `Authorization: Bearer <token>`
or the cookie the login form sets; wrong tokens (form or header) are throttled per client.
Where the dashboard is served (its own loopback listener without a token) is decided in
`bot/observe/exposure.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.model.usage import format_cost
from bot.observe import metrics, runview
from bot.security.masking import process_masker
from bot.shared.errors import DraftsmithError, StoreError
from bot.store.runs import Store
from webhooks.throttle import LoginThrottle

logger = logging.getLogger(__name__)

COOKIE = "draftsmith_dashboard"
TEMPLATES = Path(__file__).parent / "templates"
STATUSES = metrics.RUN_STATUSES
_MAX_FORM_BYTES = 4096


def _money(value: float | None) -> str:
    return format_cost(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _masked(value: Any) -> Any:
    """Every value a page shows goes through the process masker (secrets, credentials).

    Markup (a macro's output, already escaped and masked value by value) stays Markup: a
    plain `str` here would be escaped a second time and show its tags as text.
    """
    if isinstance(value, Markup):
        return Markup(process_masker().mask(str(value)))
    return process_masker().mask(value) if isinstance(value, str) else value


def _masked_json(data: Any, status_code: int = 200) -> JSONResponse:
    """A JSON answer with every string masked."""
    return JSONResponse(process_masker().mask_obj(data), status_code=status_code)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_masked,
    )
    env.filters["money"] = _money
    env.filters["duration"] = _duration
    return env


def session_cookie_value(token: str) -> str:
    """The login cookie's value: a keyed hash of the token, never the token itself."""
    return hmac.new(token.encode(), b"draftsmith-dashboard-session", hashlib.sha256).hexdigest()


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/runs"


def build_dashboard_router(
    store: Store,
    token: str | None,
    *,
    github_url: str = "https://github.com",
    trace_url_template: str | None = None,
    throttle: LoginThrottle | None = None,
) -> APIRouter:
    """The dashboard's routes over `store`; with `token`, every route requires it."""
    router = APIRouter()
    logins = throttle or LoginThrottle()
    env = _environment()
    session = session_cookie_value(token) if token else None

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def authorized(request: Request) -> bool:
        if token is None or session is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer":
            # A bearer header is a login attempt: counted and throttled like the form.
            if logins.retry_after(client_of(request)):
                return False
            if hmac.compare_digest(given.strip().encode(), token.encode()):
                return True
            logins.failed(client_of(request))
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), session.encode())

    def denied(request: Request, *, page: bool = True) -> Response | None:
        wait = logins.retry_after(client_of(request))
        if authorized(request):
            return None
        if wait:
            return JSONResponse(
                {"error": f"too many wrong tokens; try again in {wait} seconds"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if page and not _wants_json(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse(
            {"error": "a dashboard token is required (Authorization: Bearer <token>)"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="draftsmith"'},
        )

    def html(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        body = env.get_template(name).render(protected=token is not None, **context)
        return HTMLResponse(body, status_code=status_code)

    def unavailable(request: Request, exc: DraftsmithError) -> Response:
        logger.error("dashboard: %s", exc)
        if _wants_json(request):
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=503)
        return html(
            "error.html", 503, title="Run store unavailable", message=exc.message, hint=exc.hint
        )

    @router.get("/runs", response_model=None)
    def runs_page(request: Request, status: str | None = None, repo: str | None = None) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        try:
            runs = runview.list_runs(store, status=status, repo=repo, github_url=github_url)
            repos = runview.repositories(store)
        except DraftsmithError as exc:
            return unavailable(request, exc)
        if _wants_json(request):
            return _masked_json(
                {
                    "runs": [r.model_dump(mode="json") for r in runs],
                    "filters": {"status": status, "repo": repo},
                }
            )
        return html(
            "runs.html",
            runs=runs,
            repos=repos,
            statuses=STATUSES,
            status=status or "",
            repo=repo or "",
        )

    @router.get("/runs/{run_id}", response_model=None)
    def run_page(request: Request, run_id: int) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        try:
            detail = runview.run_detail(
                store, run_id, github_url=github_url, trace_url_template=trace_url_template
            )
        except StoreError as exc:
            try:
                store.ping()
            except DraftsmithError:
                return unavailable(request, exc)
            if _wants_json(request):
                return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
            return html(
                "error.html",
                404,
                title=f"No run {run_id}",
                message=f"There is no run {run_id}.",
                hint="See the list of runs.",
            )
        if _wants_json(request):
            return _masked_json(detail.model_dump(mode="json"))
        return html("run.html", d=detail, r=detail.run)

    @router.get("/metrics", response_model=None)
    def metrics_page(request: Request) -> Response:
        if (refusal := denied(request, page=False)) is not None:
            return refusal
        body = metrics.render(metrics.registry_for(store))
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @router.get("/login", response_model=None)
    def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
        if token is None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return html("login.html", next=_safe_next(next), error=None)

    @router.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        if token is None or session is None:
            return RedirectResponse("/runs", status_code=303)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM_BYTES:
                return JSONResponse({"error": "form too large"}, status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or [""])[0])
        client = client_of(request)
        wait = logins.retry_after(client)
        if wait:
            logger.warning("dashboard login refused: too many wrong tokens (%s)", client)
            refused = html(
                "login.html",
                429,
                next=target,
                error=f"Too many wrong tokens. Try again in {wait} seconds.",
            )
            refused.headers["Retry-After"] = str(wait)
            return refused
        if not hmac.compare_digest(given.encode(), token.encode()):
            logins.failed(client)
            logger.warning("dashboard login refused: wrong token (%s)", client)
            return html("login.html", 401, next=target, error="That token is not right.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
            max_age=12 * 3600,
        )
        return response

    return router
