"""OpenTelemetry tracing: setup from the standard OTEL_* variables and the span helpers of a run.

A run is a distributed saga: each `advance` may happen on another worker. The first worker opens
the root span `draftsmith.run` and stores its W3C `traceparent` with the run; every later worker
opens `draftsmith.run.resume` as a child of that stored context, so the whole run is one trace.
Nothing here records prompt text, model answers, command arguments or secrets: only names,
numbers and ids. Without OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) no provider is
built and every helper hands out the API's non-recording span.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from bot.run.states import Status as RunStatus
from bot.shared.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from bot.model.usage import Usage
    from bot.sandbox.base import ExecResult

logger = logging.getLogger(__name__)

TRACER_NAME = "draftsmith"
_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracerProvider()
_provider: TracerProvider | None = None
_global_set = False
_run_id: ContextVar[int | None] = ContextVar("draftsmith_run_id", default=None)
_delivery_id: ContextVar[str | None] = ContextVar("draftsmith_delivery_id", default=None)


class RunLike(Protocol):
    """What `run_span` reads of a run (bot.store.runs.Run satisfies it)."""

    id: int
    repo: str
    issue_number: int | None
    delivery_id: str | None
    trace_context: str | None


@dataclass
class RunTrace:
    """The span of this worker's part of a run and the traceparent to store with the run."""

    span: Span
    traceparent: str | None
    resumed: bool


# -- setup --------------------------------------------------------------------------------------


def _exporter_from_env(env: Mapping[str, str]) -> SpanExporter | None:
    """The exporter the OTEL_* variables ask for, or None when tracing is off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    choice = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if choice == "none" or (not choice and not endpoint):
        return None
    if choice in ("", "otlp"):
        protocol = (
            env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol != "http/protobuf":
            raise ConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported",
                "use http/protobuf (the OTLP/HTTP exporter is the one installed)",
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout)
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ConfigError(
        f"OTEL_TRACES_EXPORTER={choice!r} is not supported",
        "use otlp (with OTEL_EXPORTER_OTLP_ENDPOINT), console or none",
    )


def configure_tracing(
    *,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
    batch: bool | None = None,
) -> None:
    """Set up tracing from OTEL_* (or with `exporter`, for tests); nothing at all when unset."""
    global _provider, _global_set
    from_env = exporter is None
    env = os.environ if environ is None else environ
    chosen = exporter if exporter is not None else _exporter_from_env(env)
    if chosen is None:
        logger.debug("tracing off: no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER set")
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    shutdown_tracing()
    attrs: dict[str, Any] = {"service.name": env.get("OTEL_SERVICE_NAME") or "draftsmith"}
    provider = TracerProvider(resource=Resource.create(attrs))
    use_batch = from_env if batch is None else batch
    processor = BatchSpanProcessor(chosen) if use_batch else SimpleSpanProcessor(chosen)
    provider.add_span_processor(processor)
    _provider = provider
    if from_env and not _global_set:
        trace.set_tracer_provider(provider)  # lets any instrumented library join our traces
        _global_set = True
    logger.info("tracing on: exporting spans with %s", type(chosen).__name__)


def shutdown_tracing() -> None:
    """Flush and stop the configured provider (spans started later are not recorded)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def flush_tracing(timeout_ms: int = 10_000) -> bool:
    """Export spans still buffered; True when done in time (or nothing to do)."""
    return True if _provider is None else _provider.force_flush(timeout_ms)


def tracing_enabled() -> bool:
    """Whether spans are recorded and exported."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """The tracer of Draftsmith's spans (a no-op tracer when tracing is off)."""
    provider = _provider if _provider is not None else _NOOP
    return provider.get_tracer(TRACER_NAME)


# -- context ------------------------------------------------------------------------------------


def traceparent_of(span: Span) -> str | None:
    """The W3C traceparent of a span, or None for a non-recording, invalid one."""
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def current_traceparent() -> str | None:
    """The traceparent of the current span (store it with a run created inside a span)."""
    return traceparent_of(trace.get_current_span())


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside a recorded span."""
    ctx = trace.get_current_span().get_span_context()
    return trace.format_trace_id(ctx.trace_id) if ctx.is_valid else None


class TraceLogFilter(logging.Filter):
    """Adds the current trace id, run id and delivery id to log records that lack them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops one."""
        if getattr(record, "trace_id", None) is None:
            trace_id = current_trace_id()
            if trace_id is not None:
                record.trace_id = trace_id
        if getattr(record, "run_id", None) is None and _run_id.get() is not None:
            record.run_id = _run_id.get()
        if getattr(record, "delivery_id", None) is None and _delivery_id.get() is not None:
            record.delivery_id = _delivery_id.get()
        return True


# -- spans --------------------------------------------------------------------------------------


def _run_attributes(run: RunLike) -> dict[str, Any]:
    attrs: dict[str, Any] = {"draftsmith.run_id": run.id, "draftsmith.repository": run.repo}
    if run.issue_number is not None:
        attrs["draftsmith.issue"] = run.issue_number
    if run.delivery_id:
        attrs["draftsmith.delivery_id"] = run.delivery_id
    return attrs


@contextmanager
def run_span(run: RunLike) -> Iterator[RunTrace]:
    """This worker's span of `run`: a new root, or a child of the trace stored with the run."""
    parent = None
    if run.trace_context:
        parent = _PROPAGATOR.extract({"traceparent": run.trace_context})
        if not trace.get_current_span(parent).get_span_context().is_valid:
            logger.warning("run %s: stored trace context is invalid; starting a new trace", run.id)
            parent = None
    resumed = parent is not None
    name = "draftsmith.run.resume" if resumed else "draftsmith.run"
    run_token = _run_id.set(run.id)
    delivery_token = _delivery_id.set(run.delivery_id)
    try:
        with tracer().start_as_current_span(
            name, context=parent, attributes=_run_attributes(run)
        ) as span:
            stored = run.trace_context if resumed else traceparent_of(span)
            yield RunTrace(span, stored, resumed)
    finally:
        _delivery_id.reset(delivery_token)
        _run_id.reset(run_token)


@contextmanager
def delivery_span(delivery_id: str, event: str, action: str | None = None) -> Iterator[Span]:
    """A span for handling one webhook delivery (a run created inside it joins its trace)."""
    attrs: dict[str, Any] = {"draftsmith.delivery_id": delivery_id, "github.event": event}
    if action:
        attrs["github.action"] = action
    token = _delivery_id.set(delivery_id)
    try:
        with tracer().start_as_current_span(f"webhook {event}", attributes=attrs) as span:
            yield span
    finally:
        _delivery_id.reset(token)


@contextmanager
def phase_span(run_id: int, phase: str, revision: int) -> Iterator[Span]:
    """A span for one phase of a run; set its outcome with `record_outcome`."""
    attrs: dict[str, Any] = {
        "draftsmith.run_id": run_id,
        "draftsmith.phase": phase,
        "draftsmith.revision": revision,
    }
    with tracer().start_as_current_span(f"phase {phase}", attributes=attrs) as span:
        yield span


def record_outcome(span: Span, outcome: str, status: str | None = None) -> None:
    """Note how a phase ended (`outcome`) and the run status it left."""
    span.set_attribute("draftsmith.outcome", outcome)
    if status is not None:
        span.set_attribute("draftsmith.status", status)
        if status == RunStatus.failed:
            span.set_status(Status(StatusCode.ERROR, "phase failed"))


@contextmanager
def model_call_span(role: str, model: str) -> Iterator[Span]:
    """A span for one model request; call `record_usage` with its Usage when it answered."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "draftsmith.role": role,
    }
    with tracer().start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs
    ) as span:
        yield span


def record_usage(span: Span, usage: Usage) -> None:
    """Tokens, latency and cost of a model call (never its text)."""
    span.set_attribute("gen_ai.response.model", usage.model)
    span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    span.set_attribute("draftsmith.cost_usd", usage.cost_usd)
    span.set_attribute("draftsmith.latency_s", usage.latency_s)
    span.set_attribute("draftsmith.priced", usage.priced)


def record_model_call(usage: Usage) -> None:
    """A finished model request as a span ending now and lasting its latency."""
    import time

    end_ns = time.time_ns()
    start_ns = end_ns - int(usage.latency_s * 1e9)
    span = tracer().start_span(
        f"chat {usage.model}",
        kind=SpanKind.CLIENT,
        start_time=start_ns,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": usage.model,
            "draftsmith.role": usage.role,
        },
    )
    record_usage(span, usage)
    span.end(end_time=end_ns)


@contextmanager
def tool_span(name: str) -> Iterator[Span]:
    """A span for one tool call a model made (its arguments are not recorded)."""
    attrs = {"gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool"}
    with tracer().start_as_current_span(f"tool {name}", attributes=attrs) as span:
        yield span


def command_name(argv: list[str]) -> str:
    """The program name of a command line (its arguments may hold anything: never recorded)."""
    return PurePath(argv[0]).name if argv else ""


@contextmanager
def sandbox_span(command: str) -> Iterator[Span]:
    """A span for one sandboxed command; `command` is the program name (see `command_name`)."""
    attrs = {"draftsmith.sandbox.command": command}
    with tracer().start_as_current_span(f"sandbox {command}", attributes=attrs) as span:
        yield span


def record_exec(span: Span, result: ExecResult) -> None:
    """Exit code, duration and limit hit of a sandboxed command (never its output)."""
    span.set_attribute("process.exit_code", result.exit_code)
    span.set_attribute("draftsmith.sandbox.duration_s", result.duration_s)
    span.set_attribute("draftsmith.sandbox.timed_out", result.timed_out)
    hit = str(result.limit_hit) if result.limit_hit is not None else "none"
    span.set_attribute("draftsmith.sandbox.limit_hit", hit)
    if not result.ok:
        span.set_status(Status(StatusCode.ERROR, f"exit {result.exit_code}, limit {hit}"))
    from bot.observe.metrics import record_sandbox_command

    record_sandbox_command(hit)


@contextmanager
def github_span(method: str, route: str) -> Iterator[Span]:
    """A span for one GitHub REST call; `route` is the template, e.g. /repos/{owner}/{repo}."""
    attrs = {"http.request.method": method.upper(), "url.template": route}
    with tracer().start_as_current_span(
        f"GitHub {method.upper()} {route}", kind=SpanKind.CLIENT, attributes=attrs
    ) as span:
        yield span


def record_status(span: Span, status: int) -> None:
    """The HTTP status GitHub answered."""
    span.set_attribute("http.response.status_code", status)
    if status >= 400:
        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
