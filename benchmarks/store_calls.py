"""Store calls per phase: how often one `Engine.advance` enters the run store, phase by phase.

Usage: .venv/bin/python benchmarks/store_calls.py [--json]

One scripted run, as `draftsmith run` does it (bot.runtime.local.run_local_pipeline), on a fresh
copy of the small calc repository (tests/helpers/repos.py PYTHON_FILES), answered by the scripted
model of the end-to-end tests (tests/helpers/scripts.py happy_path()) from a loopback HTTP server,
with the real bubblewrap sandbox. Every public method of the Store instance is wrapped with a
counter; a call made from inside another store call (`create_run` asking `active_run_for`, say) is
not counted again: the figure is round-trips asked for by the rest of the code. Each call is
attributed to the phase whose `Engine.advance` is running (`outside` otherwise: creating the
run, the local driver's own reads). The engine's stop watch (a `get_run` every 0.5 s while a
step runs) is counted apart: it follows wall time. The rest is deterministic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402

from bot.run import engine as engine_module  # noqa: E402
from bot.runtime.local import run_local_pipeline  # noqa: E402
from bot.shared.config import Settings  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.repos import PYTHON_FILES, make_repo  # noqa: E402
from tests.helpers.scripted_model import ScriptedModel, serve_model  # noqa: E402
from tests.helpers.scripts import happy_path  # noqa: E402

REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."
OUTSIDE = "outside"


def _polling_for_a_stop() -> bool:
    """Whether the caller is the engine's stop watch (`Engine._stopped`, every 0.5 s while a
    step runs): its count follows the step's wall time, so it is reported apart."""
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code.co_name == "_stopped":
            return True
        frame = frame.f_back
    return False


class StoreCounter:
    """Counts the outermost calls of a Store instance's public methods, by current phase."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.phase = OUTSIDE
        self.calls: dict[str, Counter[str]] = {}
        self.advances: Counter[str] = Counter()
        self.stop_polls: Counter[str] = Counter()
        self._local = threading.local()
        for name in dir(type(store)):
            if name.startswith("_") or name == "session":
                continue  # every query opens a session: counting it would count each call twice
            attr = getattr(store, name)
            if callable(attr):
                setattr(store, name, self._counted(name, attr))

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                if _polling_for_a_stop():
                    self.stop_polls[self.phase] += 1
                else:
                    self.calls.setdefault(self.phase, Counter())[name] += 1
            self._local.depth = depth + 1
            try:
                return method(*args, **kwargs)
            finally:
                self._local.depth = depth

        return call

    @contextmanager
    def in_phase(self, phase: str) -> Iterator[None]:
        """Attribute the calls made meanwhile to `phase`."""
        self.phase = phase
        self.advances[phase] += 1
        try:
            yield
        finally:
            self.phase = OUTSIDE


def measure(workdir: Path) -> tuple[StoreCounter, str]:
    """One scripted local run; the counter and the run's final status."""
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'db.sqlite'}",
        work_dir=workdir / "work",
        model="scripted-model",
    )
    store = Store(settings.database_url)
    store.migrate()
    counter = StoreCounter(store)
    original = engine_module.Engine.advance

    def advance(self: engine_module.Engine, run_id: int) -> Any:
        phase = str(Store.get_run(store, run_id).phase)  # unwrapped: not a counted call
        with counter.in_phase(phase):
            return original(self, run_id)

    repo = make_repo(workdir / "calc", PYTHON_FILES)
    engine_module.Engine.advance = advance  # type: ignore[method-assign]
    try:
        with serve_model(ScriptedModel(happy_path())) as url:
            os.environ["OPENAI_BASE_URL"] = url
            os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key-000000000000"
            console = Console(file=open(os.devnull, "w"), width=200)  # noqa: SIM115
            run_local_pipeline(settings, repo, REQUEST, console, store=store)
    finally:
        engine_module.Engine.advance = original  # type: ignore[method-assign]
    status = str(Store.list_runs(store)[0].status)
    return counter, status


def main() -> None:
    """Print the store calls of each phase's advance, and what they were."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-calls-") as tmp:
        counter, status = measure(Path(tmp))
    phases = [p for p in counter.calls if p != OUTSIDE] + [OUTSIDE]
    figures = {
        phase: {
            "advances": counter.advances.get(phase, 0),
            "calls": sum(counter.calls.get(phase, Counter()).values()),
            "stop_polls": counter.stop_polls.get(phase, 0),
            "by_method": dict(sorted(counter.calls.get(phase, Counter()).items())),
        }
        for phase in phases
    }
    in_advance = sum(v["calls"] for k, v in figures.items() if k != OUTSIDE)
    if args.json:
        print(json.dumps({"status": status, "in_advance": in_advance, "phases": figures}))
        return
    print(f"run ended {status}; store calls inside Engine.advance: {in_advance}")
    for phase, row in figures.items():
        methods = ", ".join(f"{name} {n}" for name, n in row["by_method"].items())
        print(
            f"  {phase:<10} {row['advances']} advance(s), {row['calls']:>3} calls "
            f"(+{row['stop_polls']} stop polls): {methods}"
        )


if __name__ == "__main__":
    main()
