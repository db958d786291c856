"""Where a run's wall time went, from a store's own records (the run page shows the same).

Usage: .venv/bin/python benchmarks/run_breakdown.py [--database-url URL] [RUN_ID ...] [--demo]

Reads the runs of a Draftsmith store (default: the `DRAFTSMITH_DATABASE_URL` or
`sqlite:///draftsmith.db`), every run when no id is given, and prints each one's time by phase,
by timed test run inside testing, and the model's answering time per role
(`bot.observe.timebudget`). `--demo` first runs `draftsmith demo` in a temporary folder and
reads its store: a whole run on the real sandbox with recorded model answers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402

from bot.observe.timebudget import time_budget  # noqa: E402
from bot.store.runs import Store  # noqa: E402


def show(store: Store, run_id: int) -> None:
    run = store.get_run(run_id)
    print(f"run {run_id} ({run.repo}: {run.title[:60]}), {run.status}")
    for row in time_budget(store, run_id):
        seconds = "unknown" if row.seconds is None else f"{row.seconds:8.2f} s"
        where = f"  (in {row.within})" if row.within else ""
        print(f"  {row.part:<22} {seconds:>10}{where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_ids", nargs="*", type=int)
    parser.add_argument("--database-url", default=os.environ.get("DRAFTSMITH_DATABASE_URL"))
    parser.add_argument("--demo", action="store_true", help="run `draftsmith demo` first")
    args = parser.parse_args()
    if args.demo:
        from bot.demo.run import run_demo

        folder = Path(tempfile.mkdtemp(prefix="draftsmith-breakdown-"))
        _, store, run_id = run_demo(folder, Console(stderr=True))
        show(store, run_id)
        return
    store = Store(args.database_url or "sqlite:///draftsmith.db")
    for run_id in args.run_ids or [r.id for r in store.list_runs()]:
        show(store, run_id)


if __name__ == "__main__":
    main()
