"""Metrics: the store's figures read at scrape time and this process's counters, as Prometheus
text parsed back with the Prometheus client's own parser."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import update

from bot.observe import metrics
from bot.run.states import Status
from bot.store.runs import Store
from bot.store.tables import PhaseRecord, utcnow
from tests.helpers.runs import seed_state


def scrape(store: Store | None) -> dict[str, list[Sample]]:
    text = metrics.render(metrics.registry_for(store)).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def finished_phase(store: Store, run_id: int, name: str, seconds: float) -> None:
    phase_id = store.start_phase(run_id, name, 0)
    store.finish_phase(phase_id, "done")
    began = utcnow() - timedelta(minutes=10)
    with store.session() as s:
        s.execute(
            update(PhaseRecord)
            .where(PhaseRecord.id == phase_id)
            .values(started_at=began, finished_at=began + timedelta(seconds=seconds))
        )


def test_runs_by_status_phase_durations_and_model_usage_come_from_the_store(
    sqlite_store: Store,
) -> None:
    a, _ = sqlite_store.create_run(
        repo="o/a", issue_number=1, clone_url="x", title="t", request="r"
    )
    b, _ = sqlite_store.create_run(
        repo="o/a", issue_number=2, clone_url="x", title="t", request="r"
    )
    seed_state(sqlite_store, b.id, status=Status.needs_human_review)
    finished_phase(sqlite_store, a.id, "coding", 3)
    finished_phase(sqlite_store, b.id, "coding", 100)
    sqlite_store.start_phase(a.id, "testing", 0)  # still running: not observed
    for role, model, prompt, completion, cost in (
        ("coder", "gpt-4.1-mini", 1000, 300, 0.002),
        ("coder", "gpt-4.1-mini", 500, 100, 0.001),
        ("planner", "gpt-4o-mini", 200, 50, 0.0001),
    ):
        sqlite_store.add_event(
            a.id,
            "model_call",
            role,
            {
                "role": role,
                "model": model,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "cost_usd": cost,
                "latency_s": 1.0,
            },
        )
    families = scrape(sqlite_store)
    runs = families["draftsmith_runs"]
    assert value(runs, "draftsmith_runs", status="queued") == 1
    assert value(runs, "draftsmith_runs", status="needs_human_review") == 1
    assert value(runs, "draftsmith_runs", status="approved") == 0
    phases = families["draftsmith_phase_duration_seconds"]
    hist = "draftsmith_phase_duration_seconds"
    assert value(phases, f"{hist}_count", phase="coding") == 2
    assert value(phases, f"{hist}_sum", phase="coding") == 103
    assert value(phases, f"{hist}_bucket", phase="coding", le="5.0") == 1
    assert value(phases, f"{hist}_bucket", phase="coding", le="120.0") == 2
    assert not [s for s in phases if s.labels.get("phase") == "testing"]
    tokens = families["draftsmith_model_tokens"]
    coder = {"role": "coder", "model": "gpt-4.1-mini"}
    assert value(tokens, "draftsmith_model_tokens_total", **coder, kind="prompt") == 1500
    assert value(tokens, "draftsmith_model_tokens_total", **coder, kind="completion") == 400
    cost = families["draftsmith_model_cost_usd"]
    assert abs(value(cost, "draftsmith_model_cost_usd_total", **coder) - 0.003) < 1e-12
    calls = families["draftsmith_model_calls"]
    assert value(calls, "draftsmith_model_calls_total", role="planner", model="gpt-4o-mini") == 1
    assert value(families["draftsmith_store_up"], "draftsmith_store_up") == 1


def test_deliveries_and_sandbox_commands_are_counted_by_label() -> None:
    before = scrape(None)

    def count(families: dict[str, list[Sample]], family: str, name: str, **labels: str) -> float:
        found = [s.value for s in families.get(family, []) if s.name == name and s.labels == labels]
        return found[0] if found else 0.0

    metrics.record_delivery("issues", "accepted")
    metrics.record_delivery("issues", "accepted")
    metrics.record_delivery("ping", "refused_signature")
    metrics.record_sandbox_command("wall_time")
    after = scrape(None)
    deliveries = ("draftsmith_webhook_deliveries", "draftsmith_webhook_deliveries_total")
    assert (
        count(after, *deliveries, event="issues", outcome="accepted")
        - count(before, *deliveries, event="issues", outcome="accepted")
        == 2
    )
    assert (
        count(after, *deliveries, event="ping", outcome="refused_signature")
        - count(before, *deliveries, event="ping", outcome="refused_signature")
        == 1
    )
    sandbox = ("draftsmith_sandbox_commands", "draftsmith_sandbox_commands_total")
    assert (
        count(after, *sandbox, limit_hit="wall_time")
        - count(before, *sandbox, limit_hit="wall_time")
        == 1
    )


def test_a_store_that_does_not_answer_is_reported_not_raised() -> None:
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    families = scrape(store)
    assert value(families["draftsmith_store_up"], "draftsmith_store_up") == 0
    assert "draftsmith_runs" not in families
