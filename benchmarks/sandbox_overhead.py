"""Per-command overhead of the bwrap sandbox: `/bin/true` and `python -c pass`, bare vs sandboxed.

Run: .venv/bin/python benchmarks/sandbox_overhead.py [RUNS]   (default 50 runs each)
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


async def main(runs: int) -> None:
    problem = bwrap_problem()
    if problem:
        raise SystemExit(f"bwrap unavailable: {problem}")
    sandbox = BwrapSandbox()
    commands = {"/bin/true": ["/bin/true"], "python -c pass": [sys.executable, "-c", "pass"]}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for label, command in commands.items():
            inner = ["python3", "-c", "pass"] if label.startswith("python") else command
            bare, boxed = [], []
            for _ in range(runs):
                t = time.perf_counter()
                subprocess.run(command, check=True)
                bare.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                result = await sandbox.run(inner, workdir=workdir, limits=Limits())
                boxed.append((time.perf_counter() - t) * 1000)
                assert result.exit_code == 0, result.stderr
            mb, ms = statistics.median(bare), statistics.median(boxed)
            print(
                f"{label:16} bare median {mb:6.1f} ms p95 {_p95(bare):6.1f} ms | "
                f"sandbox median {ms:6.1f} ms p95 {_p95(boxed):6.1f} ms | "
                f"overhead median {ms - mb:6.1f} ms p95 {_p95(boxed) - _p95(bare):6.1f} ms"
            )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
