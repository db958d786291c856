"""Tracing: the span tree of a scripted run across two workers, its attributes, what it never holds.

Real components: a SQLite run store, the real ModelClient against scripted Chat Completions
answers (respx), a real bubblewrap command, the SDK's in-memory exporter; and a real OTLP/HTTP
export to a loopback collector.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.model.client import ModelClient, Tool
from bot.observe import telemetry
from bot.observe.logs import JsonFormatter
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox
from bot.shared.config import Settings
from bot.shared.contracts import ImplementationPlan
from bot.store.runs import Store

BASE = "http://llm.test/v1"
PROMPT_SENTINEL = "PROMPT-TEXT-7f3a never-export-me"
ANSWER_SENTINEL = "ANSWER-TEXT-91bc"
TOOL_ARG_SENTINEL = "TOOL-ARG-c0ffee"
OUTPUT_SENTINEL = "SANDBOX-OUTPUT-5eed"
API_KEY = "sk-test-SECRET-0123456789abcdef"
PLAN = {
    "summary": f"Add mul {ANSWER_SENTINEL}",
    "files_to_modify": ["pkg/calc.py"],
    "acceptance_criteria": ["mul(2, 3) == 6"],
    "risk_level": "low",
}


def completion(
    content: str | None = None, tool_calls: list[dict[str, Any]] | None = None
) -> httpx.Response:
    """A Chat Completions response in the wire format, with usage."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1763856000,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        },
    )


@pytest.fixture()
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    telemetry.configure_tracing(exporter=exporter)
    yield exporter
    telemetry.shutdown_tracing()


def by_name(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


def one(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = by_name(finished, name)
    assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in finished]}"
    return found[0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def scripted_worker_one(store: Store, run_id: int, workdir: Path) -> None:
    """The first worker: plans with one tool call, runs one sandboxed command, one GitHub call."""
    run = store.get_run(run_id)
    with telemetry.run_span(run) as rt:
        assert not rt.resumed and rt.traceparent is not None
        store.update_run(run_id, trace_context=rt.traceparent)
        with telemetry.phase_span(run_id, "planning", 0) as phase:
            read = Tool("read_file", "Read a file.", {"type": "object"}, lambda path: "x = 1")
            with respx.mock(base_url=BASE) as mock:
                mock.post("/chat/completions").mock(
                    side_effect=[
                        completion(
                            tool_calls=[
                                {
                                    "id": "c1",
                                    "type": "function",
                                    "function": {
                                        "name": "read_file",
                                        "arguments": json.dumps({"path": TOOL_ARG_SENTINEL}),
                                    },
                                }
                            ]
                        ),
                        completion(json.dumps(PLAN)),
                    ]
                )
                client = ModelClient(
                    Settings(),
                    models={"default": "gpt-4o-mini"},
                    base_url=BASE,
                    api_key=API_KEY,
                    max_retries=0,
                )
                answer = await client.complete(
                    "planner",
                    [{"role": "user", "content": PROMPT_SENTINEL}],
                    ImplementationPlan,
                    tools=[read],
                )
            assert answer.value.risk_level == "low"
            argv = ["/bin/sh", "-c", f"echo {OUTPUT_SENTINEL}; exit 3"]
            # The sandbox traces its own commands.
            result = await BwrapSandbox().run(argv, workdir=workdir, limits=Limits())
            assert result.exit_code == 3 and OUTPUT_SENTINEL in result.stdout
            with telemetry.github_span("post", "/repos/{owner}/{repo}/issues/{n}/comments") as gh:
                telemetry.record_status(gh, 201)
            telemetry.record_outcome(phase, "planned", "running")


def scripted_worker_two(store: Store, run_id: int) -> str | None:
    """A second worker resumes the run from the stored context and does one phase."""
    run = store.get_run(run_id)
    with telemetry.run_span(run) as rt:
        assert rt.resumed
        with telemetry.phase_span(run_id, "coding", 1) as phase:
            telemetry.record_outcome(phase, "failed", "failed")
        return rt.traceparent


@pytest.fixture()
def scripted_run(
    spans: InMemorySpanExporter, sqlite_store: Store, tmp_path: Path
) -> tuple[tuple[ReadableSpan, ...], int, str]:
    run, _ = sqlite_store.create_run(
        repo="octo/calc",
        issue_number=7,
        clone_url="https://github.com/octo/calc.git",
        title="Add mul",
        request=PROMPT_SENTINEL,
        delivery_id="d-1234",
    )
    import asyncio

    workdir = tmp_path / "work"
    workdir.mkdir()
    asyncio.run(scripted_worker_one(sqlite_store, run.id, workdir))
    stored = sqlite_store.get_run(run.id).trace_context
    assert stored is not None
    assert scripted_worker_two(sqlite_store, run.id) == stored
    return spans.get_finished_spans(), run.id, stored


def test_a_run_is_one_trace_across_two_workers(
    scripted_run: tuple[tuple[ReadableSpan, ...], int, str],
) -> None:
    finished, _, stored = scripted_run
    root = one(finished, "draftsmith.run")
    resume = one(finished, "draftsmith.run.resume")
    assert root.parent is None
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    assert f"{root.context.trace_id:032x}-{root.context.span_id:016x}" in stored
    assert parent_id(resume) == root.context.span_id
    assert resume.parent is not None and resume.parent.is_remote


def test_span_tree_has_phases_model_tool_sandbox_and_github_calls(
    scripted_run: tuple[tuple[ReadableSpan, ...], int, str],
) -> None:
    finished, _, _ = scripted_run
    root = one(finished, "draftsmith.run")
    planning = one(finished, "phase planning")
    coding = one(finished, "phase coding")
    assert parent_id(planning) == root.context.span_id
    assert parent_id(coding) == one(finished, "draftsmith.run.resume").context.span_id
    chats = by_name(finished, "chat gpt-4o-mini")
    assert len(chats) == 2
    children = [
        *chats,
        one(finished, "tool read_file"),
        one(finished, "sandbox sh"),
        one(finished, "GitHub POST /repos/{owner}/{repo}/issues/{n}/comments"),
    ]
    for child in children:
        assert parent_id(child) == planning.context.span_id, child.name


def test_spans_carry_run_ids_usage_exit_codes_and_status(
    scripted_run: tuple[tuple[ReadableSpan, ...], int, str],
) -> None:
    finished, run_id, _ = scripted_run
    for name in ("draftsmith.run", "draftsmith.run.resume"):
        attrs = dict(one(finished, name).attributes or {})
        assert attrs == {
            "draftsmith.run_id": run_id,
            "draftsmith.repository": "octo/calc",
            "draftsmith.issue": 7,
            "draftsmith.delivery_id": "d-1234",
        }
    planning = dict(one(finished, "phase planning").attributes or {})
    assert planning["draftsmith.run_id"] == run_id and planning["draftsmith.revision"] == 0
    assert planning["draftsmith.outcome"] == "planned"
    coding = one(finished, "phase coding")
    assert coding.attributes is not None and coding.attributes["draftsmith.revision"] == 1
    assert coding.status.status_code.name == "ERROR"
    chat = by_name(finished, "chat gpt-4o-mini")[0]
    attrs = dict(chat.attributes or {})
    assert attrs["draftsmith.role"] == "planner"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.output_tokens"] == 200
    assert attrs["draftsmith.cost_usd"] == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    assert isinstance(attrs["draftsmith.latency_s"], float) and attrs["draftsmith.latency_s"] >= 0
    assert chat.end_time is not None and chat.start_time is not None
    assert chat.end_time >= chat.start_time
    sandbox = dict(one(finished, "sandbox sh").attributes or {})
    assert sandbox["process.exit_code"] == 3
    assert sandbox["draftsmith.sandbox.limit_hit"] == "none"
    assert float(sandbox["draftsmith.sandbox.duration_s"]) > 0
    github = one(finished, "GitHub POST /repos/{owner}/{repo}/issues/{n}/comments")
    assert github.attributes is not None
    assert github.attributes["http.response.status_code"] == 201


def test_spans_never_hold_prompt_text_answers_arguments_output_or_secrets(
    scripted_run: tuple[tuple[ReadableSpan, ...], int, str],
) -> None:
    finished, _, _ = scripted_run
    exported = "\n".join(span.to_json() for span in finished)
    assert "gen_ai.usage.input_tokens" in exported  # the dump is the real one
    for sentinel in (
        PROMPT_SENTINEL,
        "PROMPT-TEXT",
        ANSWER_SENTINEL,
        TOOL_ARG_SENTINEL,
        OUTPUT_SENTINEL,
        API_KEY,
        "sk-test",
    ):
        assert sentinel not in exported, sentinel


def test_logs_inside_a_run_carry_its_run_id_and_trace_id(
    spans: InMemorySpanExporter,
    sqlite_store: Store,
) -> None:
    run, _ = sqlite_store.create_run(
        repo="octo/calc",
        issue_number=8,
        clone_url="x",
        title="t",
        request="r",
        delivery_id="d-77",
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(telemetry.TraceLogFilter())
    log = logging.getLogger("tests.telemetry")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with telemetry.run_span(run), telemetry.phase_span(run.id, "planning", 0):
            log.info("planning")
        log.info("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    root = one(spans.get_finished_spans(), "draftsmith.run")
    assert inside["run_id"] == run.id and inside["delivery_id"] == "d-77"
    assert inside["trace_id"] == f"{root.context.trace_id:032x}"
    assert "run_id" not in outside and "trace_id" not in outside


def test_without_otel_variables_nothing_is_recorded(sqlite_store: Store) -> None:
    """Disabled spans are the no-op kind (their cost is a benchmark's business, not a test's)."""
    telemetry.shutdown_tracing()
    telemetry.configure_tracing(environ={"PATH": "/usr/bin"})
    assert not telemetry.tracing_enabled()
    run, _ = sqlite_store.create_run(
        repo="octo/calc", issue_number=9, clone_url="x", title="t", request="r"
    )
    with telemetry.run_span(run) as rt:
        assert rt.traceparent is None and not rt.span.is_recording()
    with telemetry.phase_span(1, "coding", 0) as span:
        telemetry.record_outcome(span, "coded")
        assert not span.is_recording()
        assert not span.get_span_context().is_valid  # no trace id was even generated


def test_an_unsupported_exporter_is_refused_with_a_hint() -> None:
    from bot.shared.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        telemetry.configure_tracing(environ={"OTEL_TRACES_EXPORTER": "zipkin"})
    assert "otlp" in caught.value.hint
    assert not telemetry.tracing_enabled()


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


def test_otlp_endpoint_variable_exports_spans_over_http(sqlite_store: Store) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        "OTEL_SERVICE_NAME": "draftsmith-test-svc",
    }
    run, _ = sqlite_store.create_run(
        repo="octo/calc", issue_number=10, clone_url="x", title="t", request="r"
    )
    try:
        import os

        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the OTLP exporter reads its endpoint from the environment
        try:
            telemetry.configure_tracing(environ=env)
            assert telemetry.tracing_enabled()
            with telemetry.run_span(run) as rt:
                assert rt.traceparent is not None
            assert telemetry.flush_tracing()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            telemetry.shutdown_tracing()
    finally:
        server.shutdown()
        server.server_close()
    paths = [path for path, _ in _Collector.received]
    assert paths and set(paths) == {"/v1/traces"}
    body = b"".join(b for _, b in _Collector.received)
    assert b"draftsmith-test-svc" in body and b"draftsmith.run" in body and b"octo/calc" in body
