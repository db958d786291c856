"""Every GitHub call is a span with its method, route template and status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.github.client import GitHubGateway
from bot.observe.telemetry import configure_tracing, shutdown_tracing
from tests.helpers.fake_github import FakeGitHub


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter, batch=False)
    yield exporter
    shutdown_tracing()


def test_github_calls_are_traced_by_route_with_their_status(
    fake_github: FakeGitHub, gateway: GitHubGateway, spans: InMemorySpanExporter
) -> None:
    assert ".github/draftsmith.yml" not in fake_github.files  # answered 404
    client = gateway.installation(77, ["widgets"], {"issues": "write"})
    client.create_comment("octo/widgets", 7, "hello")
    assert client.read_file("octo/widgets", ".github/draftsmith.yml") is None
    traced = {
        (s.attributes["url.template"], s.attributes["http.response.status_code"])
        for s in spans.get_finished_spans()
        if s.name.startswith("GitHub ")
    }
    assert ("/repos/{owner}/{repo}/issues/{id}/comments", 201) in traced
    assert ("/repos/{owner}/{repo}/contents/.github/draftsmith.yml", 404) in traced
    assert ("/app/installations/{id}/access_tokens", 201) in traced
    names = " ".join(s.name for s in spans.get_finished_spans())
    assert "ghs_" not in names and "hello" not in names
