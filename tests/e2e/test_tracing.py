"""A scripted local run traced with the SDK's in-memory exporter: the tree of spans, their ids,
and no prompt text or secret anywhere in them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from bot.observe.telemetry import configure_tracing, shutdown_tracing
from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.local_runs import local_settings
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import happy_path

API_KEY = "sk-test-secret-for-tracing-0123456789abcdef"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter, batch=False)
    yield exporter
    shutdown_tracing()


def test_a_run_traces_every_phase_model_call_and_sandbox_command_without_prompt_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spans: InMemorySpanExporter
) -> None:
    repo = make_repo(tmp_path / "calc", PYTHON_FILES)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    model = ScriptedModel(happy_path())
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        code = run_local_pipeline(
            settings, repo, "Add subtract\n\nPlease, SENTINEL-PROMPT-TEXT.", Console(), store=store
        )
    assert code == 0
    run = store.list_runs()[0]
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    roots = [s for s in finished if s.name.startswith("draftsmith.run")]
    assert {s.context.trace_id for s in finished} == {roots[0].context.trace_id}, "one trace"
    assert roots[0].name == "draftsmith.run" and all(
        r.name == "draftsmith.run.resume" for r in roots[1:]
    )
    phases = [s for s in finished if s.name.startswith("phase ")]
    assert [s.name for s in phases] == [
        "phase planning",
        "phase setup",
        "phase coding",
        "phase testing",
        "phase reviewing",
        "phase deploying",
    ]
    for phase in phases:
        assert phase.parent is not None and by_id[phase.parent.span_id] in roots
        assert phase.attributes["draftsmith.run_id"] == run.id
    model_spans = [
        s for s in finished if s.attributes.get("gen_ai.request.model") or "model" in s.name
    ]
    assert len(model_spans) >= 4
    sandbox_spans = [s for s in finished if s.name.startswith("sandbox")]
    assert sandbox_spans, [s.name for s in finished]
    assert all(
        by_id[s.parent.span_id].name.startswith("phase ")
        for s in sandbox_spans
        if s.parent is not None and s.parent.span_id in by_id
    )
    dumped = json.dumps([dict(s.attributes or {}) for s in finished], default=str)
    assert "SENTINEL-PROMPT-TEXT" not in dumped and "subtract(5, 3)" not in dumped
    assert API_KEY not in dumped
    assert store.get_run(run.id).trace_context is not None
