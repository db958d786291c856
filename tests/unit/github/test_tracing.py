"""Every GitHub call is a span with its method, route template and status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.github.client import GitHubGateway
from bot.observe.telemetry import configure_tracing, shutdown_tracing
from tests.unit.github.support import comment, token_body


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter, batch=False)
    yield exporter
    shutdown_tracing()


def test_github_calls_are_traced_by_route_with_their_status(
    github_api: respx.MockRouter, gateway: GitHubGateway, spans: InMemorySpanExporter
) -> None:
    github_api.post("/app/installations/77/access_tokens").respond(201, json=token_body())
    github_api.post("/repos/octo/widgets/issues/7/comments").respond(201, json=comment(5, "hello"))
    github_api.get("/repos/octo/widgets/contents/.github/draftsmith.yml").respond(
        404, json={"message": "Not Found"}
    )
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
