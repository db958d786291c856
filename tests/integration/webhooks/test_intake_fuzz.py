"""The intake under random and adversarial deliveries: never a 5xx, healthy after, nothing lost.

1,200 deliveries over real HTTP (uvicorn, the real store and queue), from a fixed seed: GitHub's
own payloads, duplicates of them, bad signatures, odd headers, bodies that are not JSON objects,
bodies nested thousands of levels deep, and GitHub payloads with fields swapped for values of
every other JSON type. Every answer must be 2xx or 4xx; every accepted delivery is stored once
and dispatched once.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.jobs.outbox import Outbox
from bot.jobs.queue import TaskQueue
from bot.store.runs import Store
from bot.store.vocabulary import DeliveryState
from tests.helpers.payloads import fixture_names, load_payload
from tests.helpers.server import serve
from webhooks.app import create_app
from webhooks.signature import sign

SECRET = "fuzz-secret-for-tests-only-0123456789"
DELIVERIES = 1200
NOT_OBJECTS = [b"[]", b"1", b'"s"', b"null", b"NaN"]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", "x" * 5000, "\u202e\u0000", [], [None], {}, {"id": "7"},
]  # fmt: skip


@pytest.fixture
def intake(
    store: Store, sqlite_queue: TaskQueue
) -> Iterator[tuple[httpx.Client, Store, TaskQueue]]:
    app = create_app(store=store, queue=sqlite_queue, webhook_secret=SECRET, max_body_bytes=1 << 20)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client, store, sqlite_queue


def mutate(payload: Any, rng: random.Random) -> Any:
    """The payload with one field, anywhere in it, replaced by a value of another shape."""
    payload = copy.deepcopy(payload)
    containers: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list) and node:
            containers.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(payload)
    if not containers:
        return payload
    target = rng.choice(containers)
    key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
    target[key] = rng.choice(ODD_VALUES)
    return payload


def deep(levels: int, opener: bytes) -> bytes:
    """A signed-looking issues body with a value nested `levels` arrays or objects deep."""
    inner, closer = (b"[", b"]") if opener == b"[" else (b'{"a":', b"}")
    return b'{"action":"labeled","nested":' + inner * levels + b"1" + closer * levels + b"}"


def test_a_thousand_hostile_deliveries_get_no_5xx_and_every_valid_one_is_kept_once(
    intake: tuple[httpx.Client, Store, TaskQueue],
) -> None:
    client, store, queue = intake
    rng = random.Random(23)
    names = [n for n in fixture_names() if n != "ping"]
    accepted: list[str] = []
    seen_ids: list[str] = []
    statuses: dict[int, int] = {}
    refused_5xx: list[tuple[str, int, str]] = []

    def signed(body: bytes) -> dict[str, str]:
        return {"X-Hub-Signature-256": sign(body, SECRET)}

    def valid() -> tuple[str, bytes, dict[str, str]]:
        name = rng.choice(names)
        payload = load_payload(name, installation={"id": rng.randint(1, 9)})
        if name == "issues.labeled":
            payload["label"]["name"] = "draftsmith"
        body = json.dumps(payload).encode()
        return name.split(".")[0], body, signed(body)

    kinds: dict[str, Callable[[], tuple[str, bytes, dict[str, str]]]] = {
        "valid": valid,
        "mutated": lambda: _with(valid(), lambda b: json.dumps(mutate(json.loads(b), rng))),
        "deep-array": lambda: ("issues", (b := deep(rng.choice([65, 999, 5000]), b"[")), signed(b)),
        "deep-object": lambda: ("issues", (b := deep(rng.choice([65, 5000]), b"{")), signed(b)),
        "not-json": lambda: ("issues", (b := rng.randbytes(rng.randint(0, 200))), signed(b)),
        "not-object": lambda: (
            "issues",
            (b := rng.choice([b"[]", b"1", b'"s"', b"null"])),
            signed(b),
        ),
        "truncated": lambda: _with(valid(), lambda b: b[: rng.randint(1, len(b) - 1)].decode()),
        "bad-signature": lambda: (lambda e, b, _: (e, b, {"X-Hub-Signature-256": "sha256=00"}))(
            *valid()
        ),
        "no-signature": lambda: (lambda e, b, _: (e, b, {}))(*valid()),
        "odd-event": lambda: (lambda _, b, h: (rng.choice(["", "x" * 300, "is sues", "☃"]), b, h))(
            *valid()
        ),
    }
    weights = [30, 25, 5, 5, 8, 5, 7, 5, 5, 5]
    for number in range(DELIVERIES):
        kind = rng.choices(list(kinds), weights)[0]
        event, body, headers = kinds[kind]()
        delivery = f"fuzz-{number}"
        if kind == "valid" and seen_ids and rng.random() < 0.2:
            delivery = rng.choice(seen_ids)  # a redelivery
        if rng.random() < 0.02:
            delivery = rng.choice(["", "y" * 200, "a b", "\u2603"])
        headers = {
            **headers,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "Content-Type": "application/json",
        }
        headers = {k: v for k, v in headers.items() if v.isascii()}
        response = client.post("/webhooks/github", content=body, headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            refused_5xx.append((kind, response.status_code, response.text[:200]))
        if response.status_code == 202:
            accepted.append(delivery)
        if response.status_code < 300 and delivery not in seen_ids:
            seen_ids.append(delivery)

    assert refused_5xx == []
    assert sum(statuses.values()) == DELIVERIES
    assert client.get("/healthz").status_code == 200
    assert len(accepted) == len(set(accepted)) > 50
    for delivery in accepted:
        stored = store.get_delivery(delivery)
        assert stored is not None and stored.outcome == DeliveryState.queued
    assert Outbox(store, queue).drain() == len(accepted)
    assert Outbox(store, queue).drain() == 0
    assert store.count_deliveries(DeliveryState.refused) > 50


def _with(
    sample: tuple[str, bytes, dict[str, str]], change: Callable[[bytes], str]
) -> tuple[str, bytes, dict[str, str]]:
    event, body, _ = sample
    new = change(body).encode()
    return event, new, {"X-Hub-Signature-256": sign(new, SECRET)}
