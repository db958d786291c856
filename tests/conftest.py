"""Shared fixtures: run stores and queues on SQLite and on the machine's PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.jobs.queue import TaskQueue, make_huey
from bot.store.runs import Store

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the machine's PostgreSQL or Redis, so `pytest -m postgres`
    and `pytest -m redis` select them: by the fixtures it uses or the backend it is
    parametrised with."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres_store" in names or params.get("store") == "postgres":
            item.add_marker(pytest.mark.postgres)
        if "redis_queue" in names or params.get("queue") == "redis":
            item.add_marker(pytest.mark.redis)


@pytest.fixture(scope="session")
def private_key() -> str:
    """A real RSA private key (PEM), as GitHub issues for an App."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """A migrated SQLite store in a temporary file."""
    store = Store(f"sqlite:///{tmp_path / 'draftsmith.db'}")
    store.migrate()
    return store


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """A migrated store in a fresh PostgreSQL database, dropped afterwards."""
    name = f"draftsmith_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = Store(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    store.migrate()
    try:
        yield store
    finally:
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    """The run store on each supported database."""
    name = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    result: Store = request.getfixturevalue(name)
    return result


@pytest.fixture
def sqlite_queue(tmp_path: Path) -> TaskQueue:
    """A queue on a SQLite huey file."""
    return TaskQueue(make_huey(f"sqlite:///{tmp_path / 'queue.db'}"))


@pytest.fixture
def redis_queue() -> Iterator[TaskQueue]:
    """A queue on the machine's Redis, under a unique queue name, flushed afterwards."""
    queue = TaskQueue(make_huey(f"{REDIS_URL}?queue=draftsmith-test-{uuid.uuid4().hex[:8]}"))
    yield queue
    queue.huey.flush()


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest) -> TaskQueue:
    """The queue on each supported backend."""
    name = "sqlite_queue" if request.param == "sqlite" else "redis_queue"
    result: TaskQueue = request.getfixturevalue(name)
    return result
