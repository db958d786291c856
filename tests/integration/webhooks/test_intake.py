"""The webhook intake over real HTTP: a uvicorn server, a real store and a real queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.jobs.outbox import Outbox
from bot.jobs.queue import TaskQueue
from bot.steering.commands import StartRun, load_command
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState
from tests.helpers.payloads import load_payload
from tests.helpers.server import serve
from webhooks.app import create_app
from webhooks.signature import sign

SECRET = "s3cr3t-for-tests-only-0123456789"


@pytest.fixture
def server(
    store: Store, sqlite_queue: TaskQueue
) -> Iterator[tuple[httpx.Client, Store, TaskQueue]]:
    app = create_app(store=store, queue=sqlite_queue, webhook_secret=SECRET, max_body_bytes=1 << 20)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client, store, sqlite_queue


def post(
    client: httpx.Client,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    secret: str | None = SECRET,
    signature: str | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return client.post("/webhooks/github", content=body, headers=headers)


def labeled() -> dict[str, Any]:
    return load_payload("issues.labeled", label={"name": "draftsmith"}, installation={"id": 7})


def test_a_signed_labeled_issue_is_stored_and_queued(server: Any) -> None:
    client, store, queue = server
    response = post(client, "issues", labeled(), delivery="d-1")
    assert response.status_code == 202
    assert response.json() == {"delivery": "d-1", "command": "start_run"}
    delivery = store.get_delivery("d-1")
    assert delivery is not None and delivery.outcome == DeliveryState.queued
    assert isinstance(load_command(delivery.command), StartRun)
    assert Outbox(store, queue).drain() == 1
    assert queue.ping() == 1
    dispatched = store.get_delivery("d-1")
    assert dispatched is not None and dispatched.outcome == DeliveryState.dispatched


@pytest.mark.parametrize(
    ("secret", "signature"),
    [
        (None, None),
        ("another-secret-entirely-987654", None),
        (None, "sha256=" + "0" * 64),
        (None, "sha1=deadbeef"),
    ],
    ids=["missing", "wrong-secret", "forged-hex", "wrong-scheme"],
)
def test_a_bad_signature_is_refused_and_nothing_stored(
    server: Any, secret: str | None, signature: str | None
) -> None:
    client, store, queue = server
    response = post(client, "issues", labeled(), delivery="bad", secret=secret, signature=signature)
    assert response.status_code == 401
    assert store.get_delivery("bad") is None
    assert store.count_deliveries() == 0


def test_a_redelivery_is_answered_as_a_duplicate_and_starts_nothing(server: Any) -> None:
    client, store, queue = server
    first = post(client, "issues", labeled(), delivery="same")
    again = post(client, "issues", labeled(), delivery="same")
    assert first.status_code == 202
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Outbox(store, queue).drain() == 1
    assert store.count_deliveries() == 1


def test_an_oversize_body_is_refused_with_413(server: Any) -> None:
    client, store, _ = server
    big = json.dumps({"padding": "x" * (2 << 20)}).encode()
    response = post(client, "issues", big, delivery="big")
    assert response.status_code == 413
    assert store.get_delivery("big") is None


@pytest.mark.parametrize(
    "body", [b"not json at all", b"[1, 2, 3]", b"\xff\xfe"], ids=["text", "array", "binary"]
)
def test_a_body_that_is_not_a_json_object_is_refused_with_400(server: Any, body: bytes) -> None:
    client, store, queue = server
    response = post(client, "issues", body, delivery="nj")
    assert response.status_code == 400
    refused = store.get_delivery("nj")
    assert refused is not None and refused.outcome == DeliveryState.refused
    assert refused.error and "JSON" in refused.error
    assert Outbox(store, queue).drain() == 0


def test_a_signed_body_nested_5000_levels_deep_is_refused_with_400(server: Any) -> None:
    client, store, _ = server
    body = b'{"action":"labeled","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post(client, "issues", body, delivery="deep")
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]
    refused = store.get_delivery("deep")
    assert refused is not None and refused.outcome == DeliveryState.refused


def test_an_unknown_event_answers_204_and_is_recorded_as_ignored(server: Any) -> None:
    client, store, queue = server
    response = post(client, "pull_request", load_payload("pull_request.opened"), delivery="pr")
    assert response.status_code == 204
    delivery = store.get_delivery("pr")
    assert delivery is not None and delivery.outcome == DeliveryState.ignored
    assert Outbox(store, queue).drain() == 0


def test_a_bot_comment_triggers_nothing(server: Any) -> None:
    client, store, queue = server
    payload = load_payload(
        "issue_comment.created",
        sender={"login": "draftsmith[bot]", "type": "Bot"},
        **{"comment.body": "/draftsmith retry"},
    )
    assert post(client, "issue_comment", payload).status_code == 204
    assert Outbox(store, queue).drain() == 0


def test_ping_is_answered_with_pong(server: Any) -> None:
    client, _, _ = server
    response = post(client, "ping", load_payload("ping"))
    assert response.status_code == 200 and response.json()["pong"] is True


def test_missing_delivery_header_is_a_400(server: Any) -> None:
    client, _, _ = server
    body = json.dumps(labeled()).encode()
    response = client.post(
        "/webhooks/github",
        content=body,
        headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(body, SECRET)},
    )
    assert response.status_code == 400


def test_healthz_reports_database_and_queue(server: Any) -> None:
    client, _, _ = server
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "queue": "ok"}


def test_healthz_reports_an_unreachable_queue(store: Store) -> None:
    from huey import RedisHuey

    dead = TaskQueue(RedisHuey("dead", url="redis://127.0.0.1:1/0"))
    app = create_app(store=store, queue=dead, webhook_secret=SECRET)
    with serve(app) as url:
        response = httpx.get(url + "/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["queue"].startswith("error")


def test_a_delivery_accepted_while_the_queue_is_down_waits_and_is_dispatched_later(
    sqlite_store: Store, sqlite_queue: TaskQueue
) -> None:
    from huey import RedisHuey

    from bot.shared.errors import QueueError

    dead = TaskQueue(RedisHuey("dead", url="redis://127.0.0.1:1/0"))
    app = create_app(store=sqlite_store, queue=dead, webhook_secret=SECRET)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert post(client, "issues", labeled(), delivery="waits").status_code == 202
        assert client.get("/healthz").status_code == 503
    with pytest.raises(QueueError):
        Outbox(sqlite_store, dead).drain()
    waiting = sqlite_store.get_delivery("waits")
    assert waiting is not None and waiting.outcome == DeliveryState.queued
    assert Outbox(sqlite_store, sqlite_queue).drain() == 1
    assert sqlite_queue.ping() == 1


def test_the_outbox_thread_dispatches_as_soon_as_it_is_notified(
    sqlite_store: Store, sqlite_queue: TaskQueue
) -> None:
    import threading

    outbox = Outbox(sqlite_store, sqlite_queue, retry_interval_s=3600)
    dispatched = threading.Event()
    original = sqlite_store.mark_dispatched

    def mark(ids: list[str]) -> None:
        original(ids)
        dispatched.set()

    sqlite_store.mark_dispatched = mark  # type: ignore[method-assign]
    outbox.start()
    try:
        app = create_app(
            store=sqlite_store, queue=sqlite_queue, webhook_secret=SECRET, on_accepted=outbox.notify
        )
        with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            assert post(client, "issues", labeled(), delivery="now").status_code == 202
        assert dispatched.wait(10), "the outbox did not dispatch on notify"
    finally:
        outbox.stop()
    assert sqlite_queue.ping() == 1


def test_each_answer_is_counted_with_its_outcome(server: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from bot.observe import metrics

    def counts() -> dict[tuple[str, str], float]:
        text = metrics.render(metrics.registry_for(None)).decode()
        return {
            (s.labels["event"], s.labels["outcome"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "draftsmith_webhook_deliveries_total"
        }

    client, _, _ = server
    before = counts()
    post(client, "issues", labeled(), delivery="m-1")
    post(client, "issues", labeled(), delivery="m-1")
    post(client, "issues", labeled(), delivery="m-2", secret=None)
    post(client, "ping", load_payload("ping"))
    after = counts()
    for key in (
        ("issues", "accepted"),
        ("issues", "duplicate"),
        ("issues", "bad_signature"),
        ("ping", "ping"),
    ):
        assert after.get(key, 0) - before.get(key, 0) == 1, key


def test_the_webhook_path_answers_only_post_and_other_routes_still_reach_fastapi(
    server: tuple[httpx.Client, Store, TaskQueue],
) -> None:
    client, store, _ = server
    refused = client.get("/webhooks/github")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert client.get("/healthz").json()["status"] == "ok"  # served by FastAPI behind it
    assert client.get("/no-such-page").status_code == 404
    assert store.count_deliveries() == 0


def test_an_unexpected_error_in_the_webhook_is_logged_and_answered_500(
    server: tuple[httpx.Client, Store, TaskQueue],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, store, _ = server

    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("a defect in the store layer")

    monkeypatch.setattr(store, "record_delivery", broken)
    answer = post(client, "issues", labeled())
    assert answer.status_code == 500 and answer.json() == {"error": "internal error"}
    assert "webhook failed unexpectedly" in caplog.text and "a defect in the store" in caplog.text
