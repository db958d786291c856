"""What measuring the coverage of a change costs, in CPU and wall time, against plain pytest.

Usage: .venv/bin/python benchmarks/coverage_cost.py --workdir DIR --changed PATHS
       --new-tests PATHS [--toolbox DIR] [--repeats N] [--json]

DIR is a prepared workspace with a `.venv` (for example a run kept by `benchmarks/replay.py
--work W`: `W/work/run-N/repo`), PATHS comma-separated files relative to it. Each variant runs
the whole suite in the bubblewrap sandbox, N times, interleaved, under bash's `time` inside the
sandbox (user + sys of the whole command tree: the sandbox's own wait4 does not see into its PID
namespace). On a shared machine CPU time is the figure to compare; wall time is shown too.

- `plain`: `python -m pytest -q -p no:cacheprovider`, the baseline.
- `draftsmith`: the suite as Draftsmith ran it with new test files until 18d87d4: the toolbox
  plugin measures the changed files, collection and the new test files' tests only. Since then
  the suite runs untraced (about `plain`) and the new test files' run alone is measured instead
  (bot.testing.suite), because this variant's collection under the tracer cost 0.4x on Jinja.
- `every_test`: the same plugin measuring every test (a change without new test files).
- `whole_project`: a lower bound of the way before: `coverage run --source=.` with the project's
  own coverage settings and `coverage json --show-contexts` of every file, but without the
  switch to a context per test, which cost more on top (the old plugin is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.sandbox.base import Limits  # noqa: E402
from bot.sandbox.bwrap import BwrapSandbox  # noqa: E402
from bot.sandbox.choose import python_toolbox  # noqa: E402
from bot.sandbox.runners import COVERAGE_JSON, COVERAGE_RC, REPORT_DIR, coverage_config  # noqa: E402
from bot.sandbox.toolbox import CONTEXTS_PLUGIN  # noqa: E402

PYTEST = ".venv/bin/python -m pytest -q -p no:cacheprovider"
TIMED = re.compile(r"wall=([\d.]+) user=([\d.]+) sys=([\d.]+)")


def variants(workdir: Path, changed: list[str], new_tests: list[str]) -> dict[str, str]:
    """The shell command of each variant (plans and rcfiles written into the workdir)."""
    report = workdir / REPORT_DIR
    report.mkdir(exist_ok=True)
    (workdir / COVERAGE_RC).write_text(coverage_config(changed))
    for name, tests in (("new", new_tests), ("all", None)):
        plan = {"rcfile": COVERAGE_RC, "json": COVERAGE_JSON, "tests": tests}
        (report / f"bench-plan-{name}.json").write_text(json.dumps(plan))
    plugin = f"-p {CONTEXTS_PLUGIN} --draftsmith-coverage={REPORT_DIR}/bench-plan"
    whole = f"--data-file={REPORT_DIR}/bench-whole.data"
    return {
        "plain": PYTEST,
        "draftsmith": f"{PYTEST} {plugin}-new.json",
        "every_test": f"{PYTEST} {plugin}-all.json",
        "whole_project": (
            f".venv/bin/python -m coverage run {whole} --source=. -m pytest -q "
            "-p no:cacheprovider; "
            f".venv/bin/python -m coverage json -i {whole} --show-contexts "
            f"-o {REPORT_DIR}/bench-whole.json"
        ),
    }


async def timed(sandbox: BwrapSandbox, workdir: Path, script: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `script` in the sandbox, from bash's `time`."""
    shell = f"TIMEFORMAT='wall=%R user=%U sys=%S'; time {{ {script} ; }} >/dev/null 2>&1"
    result = await sandbox.run(
        ["/bin/bash", "-c", shell], workdir=workdir, limits=Limits(wall_time_s=1800)
    )
    found = TIMED.search(result.stderr)
    if found is None:
        raise RuntimeError(f"no timing from {script!r}: {result.stderr[-500:]}")
    wall, user, system = (float(g) for g in found.groups())
    return round(user + system, 3), wall


def main() -> int:
    """Run every variant N times; print medians and ratios to plain pytest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--changed", required=True)
    parser.add_argument("--new-tests", required=True)
    parser.add_argument("--toolbox", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    toolbox = python_toolbox(args.toolbox or Path(tempfile.mkdtemp(prefix="toolbox-")))
    sandbox = BwrapSandbox(toolbox=toolbox)
    commands = variants(workdir, args.changed.split(","), args.new_tests.split(","))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, script in commands.items():
            samples[name].append(asyncio.run(timed(sandbox, workdir, script)))
    base_cpu = statistics.median(c for c, _ in samples["plain"])
    base_wall = statistics.median(w for _, w in samples["plain"])
    figures = {}
    for name, runs in samples.items():
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        figures[name] = {
            "cpu_s": [c for c, _ in runs],
            "wall_s": [w for _, w in runs],
            "median_cpu_s": cpu,
            "median_wall_s": wall,
            "cpu_ratio": round(cpu / base_cpu, 2),
            "wall_ratio": round(wall / base_wall, 2),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, f in figures.items():
            print(
                f"{name:14} cpu {f['median_cpu_s']:7.2f} s ({f['cpu_ratio']:.2f}x)  "
                f"wall {f['median_wall_s']:7.2f} s ({f['wall_ratio']:.2f}x)  cpu runs {f['cpu_s']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
