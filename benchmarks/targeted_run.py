"""One chosen test: Draftsmith's targeted run against plain pytest on the same test.

Usage: .venv/bin/python benchmarks/targeted_run.py [-k 7] [--test NODEID] [--json]

On Jinja (../shared/datasets/replay/jinja.bundle, at the newest case's commit), the environment
prepared once by `prepare_environment` (real bubblewrap, uv), then, interleaved K times:
- **plain**: `.venv/bin/python -m pytest -q -p no:cacheprovider NODEID` on the host, the same
  venv, no sandbox: what a person types;
- **targeted**: `run_pytest(..., paths=[NODEID])` (bot/sandbox/runners.py) in the real
  sandbox: bwrap, the JUnit report written and read into a TestReport;
- **targeted with coverage**: the same with `coverage_of` the module under test, as the run of a
  change's new tests measures it.
Overhead = median(targeted) − median(plain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.environment.prepare import prepare_environment  # noqa: E402
from bot.policy.decide import load_default_policy  # noqa: E402
from bot.sandbox.base import Limits  # noqa: E402
from bot.sandbox.bwrap import BwrapSandbox  # noqa: E402
from bot.sandbox.runners import run_pytest  # noqa: E402
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork  # noqa: E402
from bot.sandbox.toolbox import build_python_toolbox  # noqa: E402

DATASET = REPO_ROOT.parent / "shared" / "datasets" / "replay"
LIMITS = Limits(wall_time_s=600, cpu_time_s=600)
DEFAULT_TEST = "tests/test_filters.py::TestFilter::test_capitalize"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=7)
    parser.add_argument("--test", default=DEFAULT_TEST)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    commit = json.loads((DATASET / "cases.jsonl").read_text().splitlines()[0])["commit"]
    with tempfile.TemporaryDirectory(prefix="targeted-") as tmp:
        root = Path(tmp) / "jinja"
        subprocess.run(["git", "clone", "-q", str(DATASET / "jinja.bundle"), str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "checkout", "-q", commit], check=True)
        setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, os.environ)
        sandbox = BwrapSandbox(toolbox=build_python_toolbox(Path(tmp) / "toolbox"), setup=setup)
        prepared = asyncio.run(
            prepare_environment(sandbox, root, language="python", limits=LIMITS,
                                allow=load_default_policy().setup_allow)
        )  # fmt: skip
        if not prepared.ok:
            raise SystemExit(f"setup failed: {prepared.problem}")
        module = "src/jinja2/filters.py"
        timings: dict[str, list[float]] = {"plain": [], "targeted": [], "coverage": []}
        plain = [str(root / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        for _ in range(args.k):
            started = time.perf_counter()
            done = subprocess.run([*plain, args.test], cwd=root, capture_output=True, text=True)
            timings["plain"].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"plain pytest failed:\n{done.stdout[-2000:]}")
            for name, coverage in (("targeted", ()), ("coverage", (module,))):
                started = time.perf_counter()
                report = asyncio.run(run_pytest(sandbox, root, LIMITS, paths=[args.test],
                                                coverage_of=coverage))  # fmt: skip
                timings[name].append(time.perf_counter() - started)
                if report.tests_passed != 1:
                    raise SystemExit(f"{name}: {report.tests_passed} passed, not 1")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    result = {
        "test": args.test,
        "k": args.k,
        "median_s": {n: round(v, 3) for n, v in medians.items()},
        "overhead_s": round(medians["targeted"] - medians["plain"], 3),
        "overhead_with_coverage_s": round(medians["coverage"] - medians["plain"], 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{args.test} (median of {args.k}): plain {medians['plain']:.3f} s, targeted "
        f"{medians['targeted']:.3f} s (+{result['overhead_s']:.3f} s), with coverage "
        f"{medians['coverage']:.3f} s (+{result['overhead_with_coverage_s']:.3f} s)"
    )


if __name__ == "__main__":
    main()
