"""The one wiring of a serving Draftsmith for end-to-end tests: Runtime + webhook app + model.

`serve_draftsmith(settings, watch)` is the wiring itself, as `draftsmith serve` does it: the
Runtime of the settings (store migrated), a watcher bound to its queue before anything runs, and
the webhook app on a real uvicorn server, with the embedded worker unless `worker=False`.
`draftsmith(settings, model, monkeypatch)` adds the scripted model endpoint and yields a
`Harness` whose `deliver` posts signed webhooks as GitHub does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pytest

from bot.run.states import ACTIVE
from bot.runtime import Runtime
from bot.shared.config import Settings
from bot.store.tables import Run
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.server import serve
from webhooks.app import create_app
from webhooks.signature import sign

WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"
W = TypeVar("W")


class RunWatcher:
    """Signals when a run stops advancing (terminal or waiting), without polling."""

    def __init__(self, runtime: Runtime) -> None:
        self.settled = threading.Event()
        self.runs: list[Run] = []
        original = runtime.advance
        self.deliveries_done = threading.Event()
        original_delivery = runtime.handle_delivery

        def advance(run_id: int) -> None:
            original(run_id)
            run = runtime.store.get_run(run_id)
            if run.status not in ACTIVE:
                self.runs.append(run)
                self.settled.set()

        def handle_delivery(delivery_id: str) -> None:
            original_delivery(delivery_id)
            self.deliveries_done.set()

        runtime.queue.bind(handle_delivery, advance)


class Harness:
    """Draftsmith serving; `deliver` posts a signed webhook."""

    def __init__(self, runtime: Runtime, client: httpx.Client, watcher: RunWatcher) -> None:
        self.runtime, self.client, self.watcher = runtime, client, watcher

    @property
    def url(self) -> str:
        """The webhook server's base URL."""
        return str(self.client.base_url)

    def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None) -> int:
        """Post a signed delivery; its HTTP status."""
        self.watcher.settled.clear()
        self.watcher.deliveries_done.clear()
        body = json.dumps(payload).encode()
        response = self.client.post(
            "/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body, WEBHOOK_SECRET),
            },
        )
        return response.status_code

    def settle(self) -> None:
        """Until a run stops advancing."""
        assert self.watcher.settled.wait(120), "the run did not settle"

    def handled(self) -> None:
        """Until a delivery was handled."""
        assert self.watcher.deliveries_done.wait(60), "the delivery was not handled"


@contextmanager
def draftsmith(
    settings: Settings,
    model: ScriptedModel,
    monkeypatch: pytest.MonkeyPatch,
    *,
    worker: bool = True,
) -> Iterator[Harness]:
    """Draftsmith serving with `model` as its endpoint (see the module's docstring)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
    settings.model = "scripted-model"
    with serve_model(model) as model_url:
        monkeypatch.setenv("OPENAI_BASE_URL", model_url)
        with serve_draftsmith(settings, RunWatcher, worker=worker) as (runtime, watcher, client):
            yield Harness(runtime, client, watcher)


@contextmanager
def serve_draftsmith(
    settings: Settings, watch: Callable[[Runtime], W], *, worker: bool = True
) -> Iterator[tuple[Runtime, W, httpx.Client]]:
    """Draftsmith serving webhooks as `draftsmith serve` wires it (see the module's docstring);
    yields the runtime, `watch(runtime)` and a client of the webhook server."""
    runtime = Runtime.from_settings(settings)
    runtime.store.migrate()
    watcher = watch(runtime)  # bound to the queue before the worker takes anything
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = create_app(
        store=runtime.store,
        queue=runtime.queue,
        webhook_secret=secret,
        app_id=settings.github_app_id,
        mention_login=settings.app_slug,
        on_startup=runtime.start_embedded if worker else None,
        on_shutdown=runtime.stop,
        on_accepted=runtime.outbox.notify if worker else None,
    )
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield runtime, watcher, client
