"""The adversarial suite's harness: Draftsmith end to end, with every readable output collected.

A scripted model that OBEYS injected instructions (the worst case), GitHub at the HTTP boundary,
real git repositories, the real bwrap sandbox, and the process masker set as at start-up. After a
scenario, `Readable` gathers everything a person or a model could read (artifacts, events, log
records, prompts, GitHub request bodies, evidence files) so a test can grep it for secrets.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console

from bot.run.states import ACTIVE
from bot.runtime import Runtime
from bot.runtime.local import run_local_pipeline
from bot.security.masking import (
    Masker,
    install_masking,
    process_masker,
    set_process_masker,
)
from bot.shared.config import Settings
from bot.store.runs import Store
from bot.store.tables import Run
from tests.helpers.draftsmith import serve_draftsmith
from tests.helpers.fake_github import TOKEN, FakeGitHub
from tests.helpers.payloads import load_payload
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from webhooks.signature import sign

APP_ID = 4242
INSTALLATION = 4242
WEBHOOK_SECRET = "adv-webhook-secret-7c1e9b2f44d0a8e6"
OPENAI_KEY = "sk-adv-Q7mZ2xP9vR4tL8kN3bW6yH1jF5cD0sA"
REPO = "octo/widgets"


@pytest.fixture
def settings(tmp_path: Path, private_key: str) -> Settings:
    """The bot's settings, with real secrets to leak."""
    return Settings(
        github_app_id=APP_ID,
        github_private_key=SecretStr(private_key),
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        database_url=f"sqlite:///{tmp_path / 'draftsmith.db'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        work_dir=tmp_path / "work",
        workers=2,
        catchup_interval_s=0,
        model="scripted-model",
    )


@pytest.fixture
def secrets(settings: Settings) -> list[str]:
    """Every secret value the bot holds: none may appear anywhere a person or model reads."""
    values = [WEBHOOK_SECRET, OPENAI_KEY, TOKEN]
    key = settings.private_key()
    values += [line for line in key.splitlines() if len(line) >= 16 and "-----" not in line]
    return values


@pytest.fixture(autouse=True)
def all_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every log record, so tests can grep them for secrets."""
    import logging

    caplog.set_level(logging.DEBUG)


@pytest.fixture(autouse=True)
def masking(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Masker]:
    """The process masker and log masking, as `bot.runtime.setup_process` installs them."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    previous = process_masker()
    masker = Masker.from_settings(settings, extra=[OPENAI_KEY])
    set_process_masker(masker)
    uninstall = install_masking(masker)
    try:
        yield masker
    finally:
        uninstall()
        set_process_masker(previous)


@dataclass
class Readable:
    """Everything of a scenario a person or a model could read."""

    parts: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        """Add one readable text."""
        self.parts[name] = text

    def leaks(self, secrets: list[str]) -> list[str]:
        """`where: secret-prefix` for every secret found in any part."""
        return [
            f"{name}: {secret[:8]}..."
            for name, text in self.parts.items()
            for secret in secrets
            if secret in text
        ]


def readable(
    store: Store,
    caplog: pytest.LogCaptureFixture,
    model: ScriptedModel | None = None,
    github: FakeGitHub | None = None,
    work_dir: Path | None = None,
) -> Readable:
    """Collect artifacts, events, log records, prompts, GitHub requests and evidence files."""
    out = Readable()
    for run in store.list_runs():
        for artifact in store.artifacts(run.id):
            out.add(f"run {run.id} artifact {artifact.name}#{artifact.id}", artifact.content)
        for event in store.events(run.id):
            out.add(f"run {run.id} event {event.id}", event.message + json.dumps(event.data))
        out.add(f"run {run.id} status", f"{run.status_reason}")
    for record in caplog.records:
        text = record.getMessage() + json.dumps(
            {k: str(v) for k, v in record.__dict__.items()}, default=str
        )
        out.add(f"log {record.name}:{record.lineno}", text + (record.exc_text or ""))
    if model is not None:
        out.add("prompts", model.prompts_text())
    if github is not None:
        out.add("github requests", github.sent_text())
    if work_dir is not None and work_dir.exists():
        for path in work_dir.rglob("evidence.md"):
            out.add(str(path), path.read_text())
    return out


# ----------------------------------------------------------------------------- local runs
@dataclass
class LocalResult:
    """The outcome of one `draftsmith run` on a local repository."""

    code: int
    run: Run
    store: Store
    model: ScriptedModel
    output: str
    repo: Path

    def artifact(self, name: str) -> str:
        """The content of the run's newest artifact `name`."""
        found = self.store.get_artifact(self.run.id, name)
        assert found is not None, f"no artifact {name}"
        return found.content


@pytest.fixture
def local_run(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """run(script, request, files=...) -> LocalResult: the local CLI pipeline on a fresh repo."""

    def run(
        script: dict[str, list[Any]], request: str, files: dict[str, str] | None = None
    ) -> LocalResult:
        repo = make_repo(tmp_path / "calc", {**PYTHON_FILES, **(files or {})})
        store = Store(settings.database_url)
        model = ScriptedModel(script)
        console = Console(record=True, width=200)
        with serve_model(model) as url:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            code = run_local_pipeline(settings, repo, request, console, store=store)
        runs = store.list_runs()
        assert len(runs) == 1
        return LocalResult(code, runs[0], store, model, console.export_text(), repo)

    return run


# ----------------------------------------------------------------------------- webhook runs
class Watcher:
    """Counts handled deliveries and settled runs, without polling."""

    def __init__(self, runtime: Runtime) -> None:
        self.lock = threading.Condition()
        self.deliveries = 0
        self.settled: list[Run] = []
        advance, handle = runtime.advance, runtime.handle_delivery

        def watched_advance(run_id: int) -> None:
            advance(run_id)
            run = runtime.store.get_run(run_id)
            if run.status not in ACTIVE:
                with self.lock:
                    self.settled.append(run)
                    self.lock.notify_all()

        def watched_handle(delivery_id: str) -> None:
            handle(delivery_id)
            with self.lock:
                self.deliveries += 1
                self.lock.notify_all()

        runtime.queue.bind(watched_handle, watched_advance)

    def wait_deliveries(self, count: int, timeout: float = 60) -> None:
        """Until `count` deliveries in all have been handled."""
        with self.lock:
            assert self.lock.wait_for(lambda: self.deliveries >= count, timeout), (
                f"only {self.deliveries} of {count} deliveries handled"
            )

    def wait_settled(self, count: int = 1, timeout: float = 120) -> Run:
        """Until runs stopped advancing `count` times; the last settled run."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.settled) >= count, timeout), (
                "the run did not settle"
            )
            return self.settled[-1]


class System:
    """A running Draftsmith server with an embedded worker; `post` sends a webhook."""

    def __init__(self, runtime: Runtime, client: httpx.Client, watcher: Watcher) -> None:
        self.runtime, self.client, self.watcher = runtime, client, watcher
        self.store = runtime.store

    def post(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery: str | None = None,
        secret: str = WEBHOOK_SECRET,
        body: bytes | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST a webhook signed with `secret` (or with `signature` as given)."""
        raw = body if body is not None else json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature if signature is not None else sign(raw, secret),
        }
        return self.client.post("/webhooks/github", content=raw, headers=headers)


@pytest.fixture
def system(settings: Settings, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Any:
    """start(script) -> context manager yielding a running System and its ScriptedModel."""
    from contextlib import contextmanager

    @contextmanager
    def start(
        script: dict[str, list[Any]] | None = None, *, worker: bool = True
    ) -> Iterator[tuple[System, Any]]:
        model = ScriptedModel(script or {})
        with serve_model(model) as model_url:
            monkeypatch.setenv("OPENAI_BASE_URL", model_url)
            with serve_draftsmith(settings, Watcher, worker=worker) as (runtime, watcher, client):
                yield System(runtime, client, watcher), model

    return start


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """GitHub's API for octo/widgets at the HTTP boundary; carol writes, mallory reads."""
    github = FakeGitHub(repo=REPO, permissions={"carol": "write", "mallory": "read"})
    with github.mock():
        yield github


@pytest.fixture
def remote(tmp_path: Path, fake_github: FakeGitHub) -> str:
    """A bare repository serving as GitHub's git remote (a file:// clone URL) and behind the
    fake's Git Data API."""
    return fake_github.serve_remote(tmp_path, PYTHON_FILES)


def labeled(clone_url: str, title: str, body: str, **sender: Any) -> dict[str, Any]:
    """An `issues.labeled` payload with the trigger label on issue 7."""
    return load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": INSTALLATION},
        repository={"full_name": REPO, "clone_url": clone_url, "default_branch": "main"},
        issue={"number": 7, "title": title, "body": body},
        sender={"login": "carol", "id": 3, "type": "User", **sender},
    )


def comment(body: str, login: str, *, number: int = 7, **extra: Any) -> dict[str, Any]:
    """An `issue_comment.created` payload."""
    return load_payload(
        "issue_comment.created",
        installation={"id": INSTALLATION},
        repository={"full_name": REPO},
        issue={"number": number},
        comment={"body": body, "id": 555, **extra.pop("comment", {})},
        sender={"login": login, "id": 9, "type": "User", **extra.pop("sender", {})},
        **extra,
    )


_BLOCK = r'<untrusted [^>]*id="([0-9a-f]{16})">\n(.*?)\n</untrusted id="\1">'


def untrusted_blocks(prompt: str) -> list[str]:
    """The contents of every <untrusted ...> block of a prompt."""
    import re

    return [body for _, body in re.findall(_BLOCK, prompt, re.S)]


def outside_blocks(prompt: str) -> str:
    """A prompt with every <untrusted> block removed: the text the model takes as instructions."""
    import re

    return re.sub(_BLOCK, "", prompt, flags=re.S)


def user_prompts(model: ScriptedModel, role: str) -> list[str]:
    """The user messages sent to `role`, in order (JSON-decoded, so real newlines)."""
    from tests.helpers.scripted_model import role_of

    return [
        "\n".join(str(m.get("content") or "") for m in body["messages"] if m["role"] != "system")
        for body in model.bodies
        if role_of(body) == role
    ]
