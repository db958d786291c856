"""Prometheus metrics for the operator, in a dedicated registry (never the client's global one).

Two kinds of source:
- the run store, read at scrape time by `StoreCollector` (runs by status, phase durations, model
  tokens and cost): right for every worker at once, since the store is the source of truth;
- counters of this process (webhook deliveries by event and outcome, sandbox commands by limit
  hit), counted where they happen with `record_delivery` and `record_sandbox_command`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.run.states import Status
from bot.shared.errors import StoreError
from bot.store.runs import Store
from bot.store.tables import PhaseRecord, Run, RunEvent, as_aware
from bot.store.vocabulary import EventKind

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PHASE_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
RUN_STATUSES = tuple(status.value for status in Status)

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's own counters (the store's figures are added per scrape by `registry_for`)."""

DELIVERIES = Counter(
    "draftsmith_webhook_deliveries",
    "Webhook deliveries received, by event and intake outcome.",
    ("event", "outcome"),
    registry=PROCESS_REGISTRY,
)
SANDBOX_COMMANDS = Counter(
    "draftsmith_sandbox_commands",
    "Sandboxed commands run by this process, by the limit that ended them (none: exited).",
    ("limit_hit",),
    registry=PROCESS_REGISTRY,
)


def record_delivery(event: str, outcome: str) -> None:
    """Count one webhook delivery (outcome: accepted, ignored, duplicate, refused, ...)."""
    DELIVERIES.labels(event=event or "unknown", outcome=outcome).inc()


def record_sandbox_command(limit_hit: str) -> None:
    """Count one sandboxed command by its limit hit (`none` when it exited on its own)."""
    SANDBOX_COMMANDS.labels(limit_hit=limit_hit).inc()


class StoreCollector(Collector):
    """Reads runs, phases and model calls from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """The store's metrics; a store that does not answer yields `draftsmith_store_up 0`."""
        up = GaugeMetricFamily("draftsmith_store_up", "Whether the run store answered the scrape.")
        try:
            families = [self._runs(), self._phases(), *self._model_calls()]
        except StoreError as exc:
            logger.warning("metrics: run store unavailable: %s", exc.message)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _runs(self) -> Metric:
        family = GaugeMetricFamily(
            "draftsmith_runs", "Runs in the store by status.", labels=["status"]
        )
        with self.store.session() as s:
            counts = dict(s.execute(select(Run.status, func.count()).group_by(Run.status)).all())
        by_value = {str(status): int(n) for status, n in counts.items()}
        for status in sorted(set(RUN_STATUSES) | set(by_value)):
            family.add_metric([status], by_value.get(status, 0))
        return family

    def _phases(self) -> Metric:
        durations: dict[str, list[float]] = defaultdict(list)
        with self.store.session() as s:
            rows = s.execute(
                select(PhaseRecord.name, PhaseRecord.started_at, PhaseRecord.finished_at).where(
                    PhaseRecord.finished_at.is_not(None)
                )
            ).all()
        for name, started, finished in rows:
            start, end = as_aware(started), as_aware(finished)
            if start is not None and end is not None:
                durations[name].append(max(0.0, (end - start).total_seconds()))
        family = HistogramMetricFamily(
            "draftsmith_phase_duration_seconds",
            "Duration of finished phases, by phase.",
            labels=["phase"],
        )
        for phase in sorted(durations):
            values = durations[phase]
            buckets = [(_le(b), float(sum(v <= b for v in values))) for b in PHASE_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            family.add_metric([phase], buckets, sum_value=sum(values))
        return family

    def _model_calls(self) -> list[Metric]:
        calls: dict[tuple[str, str], int] = defaultdict(int)
        tokens: dict[tuple[str, str, str], int] = defaultdict(int)
        cost: dict[tuple[str, str], float] = defaultdict(float)
        with self.store.session() as s:
            rows = s.scalars(
                select(RunEvent.data).where(RunEvent.kind == EventKind.model_call)
            ).all()
        for data in rows:
            key = (str(data.get("role", "")), str(data.get("model", "")))
            calls[key] += 1
            tokens[(*key, "prompt")] += int(data.get("prompt_tokens") or 0)
            tokens[(*key, "completion")] += int(data.get("completion_tokens") or 0)
            cost[key] += float(data.get("cost_usd") or 0.0)
        labels = ["role", "model"]
        calls_f = CounterMetricFamily(
            "draftsmith_model_calls", "Model requests, by role and model.", labels=labels
        )
        tokens_f = CounterMetricFamily(
            "draftsmith_model_tokens",
            "Model tokens, by role, model and kind (prompt or completion).",
            labels=[*labels, "kind"],
        )
        cost_f = CounterMetricFamily(
            "draftsmith_model_cost_usd", "Model cost in USD, by role and model.", labels=labels
        )
        for key in sorted(calls):
            calls_f.add_metric(list(key), calls[key])
            cost_f.add_metric(list(key), cost[key])
        for tkey in sorted(tokens):
            tokens_f.add_metric(list(tkey), tokens[tkey])
        return [calls_f, tokens_f, cost_f]


def _le(bound: float) -> str:
    return repr(float(bound))


class _ProcessCounters(Collector):
    """Hands this process's counters to a per-store registry."""

    def collect(self) -> Iterator[Metric]:
        """The counters of PROCESS_REGISTRY."""
        yield from PROCESS_REGISTRY.collect()


def registry_for(store: Store | None) -> CollectorRegistry:
    """A registry with this process's counters and, given a store, the store's figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessCounters())
    if store is not None:
        registry.register(StoreCollector(store))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format (serve with CONTENT_TYPE)."""
    return generate_latest(registry)
