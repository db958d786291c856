"""The HTTP app factory: the webhook intake (served before FastAPI) and the health route.

Thin by design: verify, parse, route, persist the delivery, answer. No work here: the outbox
(bot/jobs/outbox.py), in the process that runs the consumers, hands stored deliveries to the
queue off the ack path (woken per delivery when the worker is embedded, polled every second by
`draftsmith worker`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from bot.jobs.queue import TaskQueue
from bot.observe.metrics import record_delivery
from bot.shared.errors import DraftsmithError
from bot.steering.commands import dump_command
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState
from webhooks.dashboard import build_dashboard_router
from webhooks.payload import PayloadError, check_headers, delivery_facts, parse_payload
from webhooks.routing import Ignored, MalformedPayload, Pong, route
from webhooks.signature import verify

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/github"


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    *,
    store: Store,
    queue: TaskQueue,
    webhook_secret: str | None,
    app_id: int | None = None,
    mention_login: str | None = None,
    max_body_bytes: int = 25 * 1024 * 1024,
    on_startup: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
    on_accepted: Callable[[], None] | None = None,
    dashboard_token: str | None = None,
    trace_url_template: str | None = None,
) -> WebhookFirst:
    """Build the HTTP app; `webhook_secret=None` only in explicit insecure development mode.

    The dashboard is part of this (internet-facing) app only when `dashboard_token` protects it;
    without a token it is served by its own loopback listener (`webhooks/listeners.py`).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await run_in_threadpool(on_startup)
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(title="Draftsmith", lifespan=lifespan, docs_url=None, redoc_url=None)

    async def github_webhook_route(request: Request) -> Response:
        response, outcome = await github_webhook(request)
        record_delivery(request.headers.get("x-github-event", "") or "unknown", outcome)
        return response

    async def github_webhook(request: Request) -> tuple[Response, str]:
        """The answer to a delivery and its outcome for the deliveries metric."""
        delivery = request.headers.get("x-github-delivery", "")
        event = request.headers.get("x-github-event", "")
        log: dict[str, Any] = {"delivery_id": delivery, "event": event}
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            logger.warning("webhook refused: body over %d bytes", max_body_bytes, extra=log)
            return _error(413, f"body larger than {max_body_bytes} bytes"), "too_large"
        if webhook_secret is not None and not verify(
            body, webhook_secret, request.headers.get("x-hub-signature-256")
        ):
            logger.warning(
                "webhook refused: missing or invalid X-Hub-Signature-256; check that the App's "
                "webhook secret equals DRAFTSMITH_WEBHOOK_SECRET",
                extra=log,
            )
            return _error(401, "missing or invalid X-Hub-Signature-256"), "bad_signature"
        if not delivery or not event:
            return (
                _error(400, "X-GitHub-Delivery and X-GitHub-Event headers are required"),
                "invalid",
            )
        try:
            check_headers(delivery, event)
        except PayloadError as exc:  # not storable under its id: answered, never recorded
            logger.warning("webhook refused: %s", exc, extra=log)
            return _error(400, str(exc)), "invalid"
        try:
            payload = parse_payload(body)
            facts = delivery_facts(payload)
            routed = route(event, payload, app_id=app_id, mention_login=mention_login)
        except (PayloadError, MalformedPayload) as exc:
            reason = str(exc)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a shape route missed
            reason = f"payload of unexpected shape ({exc.__class__.__name__}: {exc})"
        else:
            reason = ""
        if reason:
            logger.warning("webhook refused: %s", reason, extra=log)
            await _record_refused(delivery, event, reason, log)
            return _error(400, reason[:300]), "invalid"
        log.update(action=facts.action, repo=facts.repo)
        command = None if isinstance(routed, Ignored | Pong) else dump_command(routed)
        state = DeliveryState.queued if command is not None else DeliveryState.ignored
        try:
            fresh = await run_in_threadpool(
                store.record_delivery,
                delivery,
                event=event,
                action=facts.action,
                installation_id=facts.installation,
                repo=facts.repo,
                sender=facts.sender,
                command=command,
                outcome=state,
            )
        except DraftsmithError as exc:
            logger.error("webhook not stored: %s", exc, extra=log)
            return (
                _error(503, "run store unavailable; GitHub will show this delivery as failed"),
                "unavailable",
            )
        if not fresh:
            logger.info("duplicate delivery ignored", extra=log)
            return JSONResponse({"duplicate": True, "delivery": delivery}), "duplicate"
        if isinstance(routed, Pong):
            return JSONResponse({"pong": True, "zen": routed.zen}), "ping"
        if isinstance(routed, Ignored):
            logger.info("webhook ignored: %s", routed.reason, extra=log)
            return Response(status_code=204), "ignored"
        if on_accepted is not None:
            on_accepted()
        logger.debug("webhook accepted: %s", routed.kind, extra=log)
        return (
            JSONResponse({"delivery": delivery, "command": routed.kind}, status_code=202),
            "accepted",
        )

    async def _record_refused(delivery: str, event: str, reason: str, log: dict[str, Any]) -> None:
        """Keep a signed but malformed delivery as `refused`, with why; it is never handled."""
        try:
            await run_in_threadpool(
                store.record_delivery,
                delivery,
                event=event,
                action=None,
                installation_id=None,
                repo=None,
                command=None,
                outcome=DeliveryState.refused,
                error=reason,
            )
        except DraftsmithError as exc:
            logger.error("refused webhook not stored: %s", exc, extra=log)

    @app.get("/healthz")
    async def healthz() -> Response:
        checks: dict[str, str] = {}
        ok = True
        try:
            await run_in_threadpool(store.ping)
            checks["database"] = "ok"
        except DraftsmithError as exc:
            checks["database"] = f"error: {exc.message}"
            ok = False
        try:
            await run_in_threadpool(queue.ping)
            checks["queue"] = "ok"
        except DraftsmithError as exc:
            checks["queue"] = f"error: {exc.message}"
            ok = False
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    if dashboard_token:
        app.include_router(
            build_dashboard_router(store, dashboard_token, trace_url_template=trace_url_template)
        )
    return WebhookFirst(app, github_webhook_route)


class WebhookFirst:
    """The ASGI app served: `POST /webhooks/github` is answered here, before FastAPI's middleware,
    routing and dependency solving (a third of a delivery's CPU, measured with py-spy); every
    other request, and the lifespan, goes to the FastAPI app (`.app`).

    The webhook reads its own body within `max_body_bytes`; an unexpected error is logged and
    answered 500, as FastAPI's error middleware would.
    """

    def __init__(self, app: FastAPI, webhook: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.webhook = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            answer = _error(405, "GitHub delivers webhooks with POST", headers={"allow": "POST"})
            await answer(scope, receive, send)
            return
        try:
            response = await self.webhook(Request(scope, receive))
        except Exception:
            logger.exception("webhook failed unexpectedly; GitHub will show the delivery failed")
            response = _error(500, "internal error")
        await response(scope, receive, send)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
