"""The coder's edit-run loop against the same mistake without it.

Usage: .venv/bin/python benchmarks/coder_loop.py [-k 3] [--json]

The scenario (tests/helpers/loop_scripts.py): add subtract to a small calc repository whose
existing test carries its own assertion message. The scripted model makes the mistake a real one
makes (its first edit breaks add) and behaves in each mode as a model would:
- **loop**: edit (breaks add), run the test (fails, the model reads the assertion), edit (fixes),
  run the test (passes), submit: one revision;
- **no loop**: the coder answers the same broken edit at once as a whole change; the tester's
  suite fails, the reviewer's rules send it back, the coder answers the fix in revision 1.

Both through `draftsmith run` (bot.runtime.local.run_local_pipeline) with the real bubblewrap
sandbox and the scripted model on a loopback HTTP server, answering with realistic usage (prompt
tokens from the request's size). Measured per run: revisions, wall time, the coder's steps and the
sandbox time of each `run` step (from the stored transcript), model calls per role and tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402

from bot.runtime.local import run_local_pipeline  # noqa: E402
from bot.shared.config import Settings  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.loop_scripts import (  # noqa: E402
    ADD,
    BROKEN,
    CALC_FILES,
    FIXED,
    REQUEST,
    break_run_fix_submit,
    whole_change,
)
from tests.helpers.repos import make_repo  # noqa: E402
from tests.helpers.scripted_model import ScriptedModel, serve_model  # noqa: E402
from tests.helpers.scripts import APPROVED, PLAN, TESTS  # noqa: E402


@dataclass
class Figures:
    """One run of one mode."""

    mode: str
    status: str
    revisions: int
    wall_s: float
    coder_steps: int
    run_steps_s: list[float]
    calls: dict[str, int]
    tokens: int


def script(mode: str) -> dict[str, list[Any]]:
    """The scripted model of `mode` (see the module docstring)."""
    if mode == "loop":
        return {
            "planner": [PLAN],
            "coder": list(break_run_fix_submit()),
            "tester": [TESTS],
            "reviewer": [APPROVED],
        }
    return {
        "planner": [PLAN],
        "coder": [whole_change(ADD, BROKEN, 0), whole_change(BROKEN, FIXED, 1)],
        "tester": [TESTS, TESTS],
        "reviewer": [APPROVED, APPROVED],
    }


def measure(mode: str, work: Path) -> Figures:
    """Run the pipeline once in `mode` on a fresh repository under `work`."""
    repo = make_repo(work / "calc", CALC_FILES)
    settings = Settings(
        database_url=f"sqlite:///{work / 'db.sqlite'}", work_dir=work / "work", model="scripted"
    )
    store = Store(settings.database_url)
    model = ScriptedModel(script(mode), realistic_usage=True)
    with serve_model(model) as url:
        os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"] = url, "sk-bench-0000000000"
        started = time.perf_counter()
        run_local_pipeline(settings, repo, REQUEST, Console(record=True, quiet=True), store)
        wall = time.perf_counter() - started
    run = store.list_runs()[0]
    steps = [
        json.loads(a.content) for a in store.artifacts(run.id) if a.name.startswith("transcript.r")
    ]
    return Figures(
        mode=mode,
        status=run.status,
        revisions=run.revision,
        wall_s=round(wall, 2),
        coder_steps=len(steps),
        run_steps_s=[s["seconds"] for s in steps if s["tool"] == "run"],
        calls=dict(model.calls),
        tokens=run.tokens_used,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=3, help="runs per mode")
    parser.add_argument("--json", action="store_true", help="print every run as JSON")
    args = parser.parse_args()
    results: list[Figures] = []
    for index in range(args.k):
        for mode in ("loop", "no loop"):
            with tempfile.TemporaryDirectory(prefix="draftsmith-loop-bench-") as tmp:
                results.append(measure(mode, Path(tmp)))
            print(f"run {index + 1} {mode}: {results[-1]}", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    print("| mode | status | revisions | wall s (median) | coder steps | run step s | "
          "coder / tester / reviewer calls | tokens |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode in ("loop", "no loop"):
        runs = [r for r in results if r.mode == mode]
        run_steps = [s for r in runs for s in r.run_steps_s]
        per_step = f"{statistics.median(run_steps):.2f}" if run_steps else "-"
        last = runs[-1]
        calls = f"{last.calls['coder']} / {last.calls['tester']} / {last.calls['reviewer']}"
        print(
            f"| {mode} | {', '.join(sorted({r.status for r in runs}))} | {last.revisions} | "
            f"{statistics.median(r.wall_s for r in runs):.2f} | {last.coder_steps} | "
            f"{per_step} | {calls} | {statistics.median(r.tokens for r in runs):.0f} |"
        )


if __name__ == "__main__":
    main()
