"""Pipeline overhead benchmark: the whole local pipeline with a zero-latency scripted model.

Usage: .venv/bin/python benchmarks/pipeline_overhead.py [-k 5] [--json] [--profile N]

Each of K runs does what `draftsmith run` does (bot.runtime.local.run_local_pipeline: create the
run, advance it phase by phase until it settles, fetch its branch back into the repository) on a
fresh copy of the small calc repository (tests/helpers/repos.py PYTHON_FILES), answered by the
scripted model of the end-to-end tests (tests/helpers/scripts.py happy_path(): one answer per
role) served from a real loopback HTTP server, with the real bubblewrap sandbox.

Measured per run: total wall time; time in the sandbox (every `BwrapSandbox.run`, through a
timing subclass passed as the Engine's sandbox_factory); time in model calls (every
`ModelClient.complete`, through a timing subclass from the llm_factory; of which the HTTP
exchange itself, timed at the httpx transport); Draftsmith's own overhead = total minus the
union of sandbox and model intervals (they never double count if they overlap). The reviewer's
differential static analysis (base tree extraction + the analysers in the sandbox, twice) is
reported apart, from the duration stored with its `analysis.rN` artifact; it is inside the figures
above (its sandbox commands in the sandbox time, its host side in the overhead). One-time costs
(store migration, the sandbox's Python toolbox) are reported apart, as they are paid once per
machine or database, not per run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
import openai  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from bot.model.base import Completion, Tool  # noqa: E402
from bot.model.client import ModelClient  # noqa: E402
from bot.policy.decide import RepoConfig  # noqa: E402
from bot.run import artifacts  # noqa: E402
from bot.run.artifacts import Artifacts  # noqa: E402
from bot.run.engine import Engine  # noqa: E402
from bot.run.states import ACTIVE  # noqa: E402
from bot.runtime.local import fetch_branch  # noqa: E402
from bot.sandbox.base import ExecResult, Limits  # noqa: E402
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem  # noqa: E402
from bot.sandbox.choose import python_toolbox  # noqa: E402
from bot.shared.config import Settings  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.repos import PYTHON_FILES, make_repo  # noqa: E402
from tests.helpers.scripted_model import ScriptedModel, serve_model  # noqa: E402
from tests.helpers.scripts import happy_path  # noqa: E402

T = TypeVar("T", bound=BaseModel)
REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."


@dataclass
class Clock:
    """Intervals (perf_counter start, end) spent in the sandbox, in model calls, in HTTP."""

    sandbox: list[tuple[float, float]] = field(default_factory=list)
    model: list[tuple[float, float]] = field(default_factory=list)
    http: list[tuple[float, float]] = field(default_factory=list)
    sandbox_commands: list[str] = field(default_factory=list)

    def clear(self) -> None:
        """Forget every interval (between runs)."""
        self.sandbox.clear()
        self.model.clear()
        self.http.clear()
        self.sandbox_commands.clear()


def label(command: list[str]) -> str:
    """A short one-line name of a sandboxed command (its first words, code shortened)."""
    words = [" ".join(w.split())[:24] for w in command[:4]]
    return " ".join(words)


class TimedSandbox(BwrapSandbox):
    """The real bwrap sandbox, recording how long each command takes."""

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    async def run(
        self,
        command: list[str],
        *,
        workdir: Path,
        limits: Limits,
        network: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run in bwrap and record the interval."""
        start = time.perf_counter()
        try:
            return await super().run(
                command, workdir=workdir, limits=limits, network=network, env=env
            )
        finally:
            self.clock.sandbox.append((start, time.perf_counter()))
            self.clock.sandbox_commands.append(label(command))


class TimedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, recording each request's exchange (to the response headers)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send and record the interval."""
        start = time.perf_counter()
        try:
            return await super().handle_async_request(request)
        finally:
            self.clock.http.append((start, time.perf_counter()))


class TimedModelClient(ModelClient):
    """The real model client, recording how long each `complete` takes."""

    def __init__(self, clock: Clock, settings: Settings, models: dict[str, str]) -> None:
        super().__init__(
            settings,
            models=models,
            http_client=openai.DefaultAsyncHttpxClient(transport=TimedTransport(clock)),
        )
        self.clock = clock

    async def complete(
        self,
        role: Any,
        messages: list[dict[str, Any]],
        contract: type[T],
        *,
        tools: Any = (),
        tool_budget: int = 20,
    ) -> Completion[T]:
        """Ask the model and record the interval."""
        tool_list: tuple[Tool, ...] = tuple(tools)
        start = time.perf_counter()
        try:
            return await super().complete(
                role, messages, contract, tools=tool_list, tool_budget=tool_budget
            )
        finally:
            self.clock.model.append((start, time.perf_counter()))


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


@dataclass
class RunFigures:
    """The figures of one run."""

    status: str
    total_s: float
    sandbox_s: float
    model_s: float
    http_s: float
    overhead_s: float
    analysis_s: float
    sandbox_calls: int
    model_calls: int
    phases: dict[str, float]
    sandbox_by_command: list[tuple[str, float]]


def one_run(
    settings: Settings, store: Store, clock: Clock, toolbox: Path, repo: Path, model: ScriptedModel
) -> RunFigures:
    """What `draftsmith run` does, timed: create, advance until settled, fetch the branch."""

    def llm_factory(config: RepoConfig | None) -> ModelClient:
        models = {k: v for k, v in config.models.model_dump().items() if v} if config else {}
        return TimedModelClient(clock, settings, models)

    clock.clear()
    with serve_model(model) as url:
        os.environ["OPENAI_BASE_URL"] = url
        start = time.perf_counter()
        title, _, body = REQUEST.partition("\n")
        run, _ = store.create_run(
            repo=repo.name,
            issue_number=None,
            clone_url=str(repo),
            title=title,
            request=body.strip(),
        )
        engine = Engine(
            settings,
            store,
            sandbox_factory=lambda: TimedSandbox(clock, toolbox=toolbox),
            llm_factory=llm_factory,
        )
        phases: dict[str, float] = {}
        while run.status in ACTIVE:
            name = run.phase
            t = time.perf_counter()
            run = engine.advance(run.id)
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        if run.branch:
            t = time.perf_counter()
            fetch_branch(repo, engine.run_dir(run) / "repo", run.branch)
            phases["fetch branch"] = time.perf_counter() - t
        total = time.perf_counter() - start
    sandbox = union_seconds(clock.sandbox)
    model_s = union_seconds(clock.model)
    outside = total - union_seconds(clock.sandbox + clock.model)
    if run.status != "approved":
        raise SystemExit(
            f"run {run.id} ended {run.status}: {run.status_reason}; the benchmark "
            "measures the happy path, so this is a regression to look at"
        )
    analysis = Artifacts(store, run.id).load(artifacts.ANALYSIS, run.revision)
    if analysis is None:
        raise SystemExit(f"run {run.id} stored no static analysis; the reviewer skipped it")
    analysis_s = analysis.duration_s
    return RunFigures(
        run.status,
        total,
        sandbox,
        model_s,
        union_seconds(clock.http),
        outside,
        analysis_s,
        len(clock.sandbox),
        len(clock.model),
        phases,
        [(c, b - a) for c, (a, b) in zip(clock.sandbox_commands, clock.sandbox, strict=True)],
    )


def _per_command(run: RunFigures) -> dict[str, float]:
    """Seconds per sandbox command line in one run (summed when a command runs twice)."""
    out: dict[str, float] = {}
    for command, seconds in run.sandbox_by_command:
        out[command] = out.get(command, 0.0) + seconds
    return out


def summary(runs: list[RunFigures], setup: dict[str, float], k: int) -> dict[str, Any]:
    """Medians (and ranges) over the runs."""

    def stat(values: list[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }

    phase_names = list(runs[0].phases)
    return {
        "runs": k,
        "cores": os.cpu_count(),
        "load_average_at_start": setup["load"],
        "one_time_s": {
            "store_migration": round(setup["migrate"], 3),
            "sandbox_toolbox": round(setup["toolbox"], 3),
        },
        "total_s": stat([r.total_s for r in runs]),
        "sandbox_s": stat([r.sandbox_s for r in runs]),
        "model_s": stat([r.model_s for r in runs]),
        "model_http_s": stat([r.http_s for r in runs]),
        "overhead_s": stat([r.overhead_s for r in runs]),
        "analysis_s": stat([r.analysis_s for r in runs]),
        "sandbox_calls": runs[0].sandbox_calls,
        "model_calls": runs[0].model_calls,
        "phases_median_s": {
            p: round(statistics.median(r.phases.get(p, 0.0) for r in runs), 3) for p in phase_names
        },
        "sandbox_commands_median_s": [
            [command, round(statistics.median(_per_command(r).get(command, 0.0) for r in runs), 3)]
            for command in _per_command(runs[0])
        ],
        "per_run": [
            {
                "total_s": round(r.total_s, 3),
                "sandbox_s": round(r.sandbox_s, 3),
                "model_s": round(r.model_s, 3),
                "overhead_s": round(r.overhead_s, 3),
                "analysis_s": round(r.analysis_s, 3),
            }
            for r in runs
        ],
        "target_overhead_s": 2.0,
    }


def report(s: dict[str, Any]) -> str:
    """The figures as text."""

    def line(label: str, key: str) -> str:
        v = s[key]
        return f"  {label:<22}median {v['median']:.3f} s  (min {v['min']:.3f}, max {v['max']:.3f})"

    phases = ", ".join(f"{k} {v:.3f}" for k, v in s["phases_median_s"].items())
    o = s["one_time_s"]
    return "\n".join(
        [
            f"pipeline overhead: {s['runs']} happy-path runs on the calc repository, zero-latency "
            f"scripted model, bwrap sandbox; {s['cores']} cores, load average "
            f"{s['load_average_at_start']:.2f} at start",
            line("total per run", "total_s"),
            line("in the sandbox", "sandbox_s") + f"  [{s['sandbox_calls']} commands]",
            line("in model calls", "model_s") + f"  [{s['model_calls']} calls]",
            line("  of which HTTP", "model_http_s"),
            line("Draftsmith overhead", "overhead_s")
            + f"  target <= {s['target_overhead_s']:.1f} s",
            line("static analysis", "analysis_s")
            + "  (base + change, apart; already inside the figures above)",
            f"  phases (median s)     {phases}",
            "  sandbox commands      "
            + "; ".join(f"{c} {t:.3f} s" for c, t in s["sandbox_commands_median_s"]),
            f"  one-time              store migration {o['store_migration']:.3f} s, "
            f"sandbox toolbox {o['sandbox_toolbox']:.3f} s (not in the per-run figures)",
        ]
    )


def main() -> None:
    """Parse options, run K times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=5, help="runs (default 5, at most 50)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile one extra run (cProfile, main thread) and print the "
        "top N functions by cumulative time",
    )
    parser.add_argument("--log-level", default="WARNING", help="log level (default WARNING)")
    args = parser.parse_args()
    if not 1 <= args.k <= 50:
        parser.error("-k must be between 1 and 50")
    problem = bwrap_problem()
    if problem:
        raise SystemExit(f"bwrap unavailable: {problem}")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="draftsmith-pipeline-"))
    try:
        settings = Settings(
            database_url=f"sqlite:///{tmp / 'db.sqlite'}",
            work_dir=tmp / "work",
            model="scripted-model",
            sandbox="bwrap",
        )
        os.environ["OPENAI_API_KEY"] = "sk-benchmark-not-a-real-key-0000000000"
        store = Store(settings.database_url)
        t = time.perf_counter()
        store.migrate()
        migrate_s = time.perf_counter() - t
        t = time.perf_counter()
        toolbox = python_toolbox(settings.work_dir / "toolbox")
        toolbox_s = time.perf_counter() - t
        clock = Clock()
        runs: list[RunFigures] = []
        for i in range(args.k):
            repo = make_repo(tmp / f"calc-{i}", PYTHON_FILES)
            runs.append(one_run(settings, store, clock, toolbox, repo, ScriptedModel(happy_path())))
        figures = summary(runs, {"load": load, "migrate": migrate_s, "toolbox": toolbox_s}, args.k)
        print(json.dumps(figures, indent=2) if args.json else report(figures))
        if args.profile:
            repo = make_repo(tmp / "calc-profiled", PYTHON_FILES)
            profiler = cProfile.Profile()
            profiler.enable()
            one_run(settings, store, clock, toolbox, repo, ScriptedModel(happy_path()))
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
            print(out.getvalue(), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
