"""Per-command overhead of the sandboxes: `/bin/true` and `python3 -c pass`, bare vs sandboxed,
for bubblewrap and for Docker side by side (and the setup phase's egress filter under bwrap).

Run: .venv/bin/python benchmarks/sandbox_overhead.py [RUNS]   (default 50 runs each)
Docker needs an engine and DRAFTSMITH_DOCKER_IMAGE (scripts/build_sandbox_image.sh prints it);
without them its rows say why they are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.docker import DockerSandbox, docker_problem


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def _sandboxes() -> dict[str, Sandbox | str]:
    found: dict[str, Sandbox | str] = {}
    problem = bwrap_problem()
    found["bwrap"] = problem or BwrapSandbox()
    image = os.environ.get("DRAFTSMITH_DOCKER_IMAGE")
    problem = docker_problem() or (None if image else "DRAFTSMITH_DOCKER_IMAGE is not set")
    found["docker"] = problem or DockerSandbox(str(image))
    return found


async def main(runs: int) -> None:
    commands = {"/bin/true": ["/bin/true"], "python3 -c pass": ["python3", "-c", "pass"]}
    cases = [(label, command, False) for label, command in commands.items()]
    cases.append(("python3 -c pass (setup, egress filter)", commands["python3 -c pass"], True))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for backend, sandbox in _sandboxes().items():
            if isinstance(sandbox, str):
                print(f"{backend:6} unavailable: {sandbox}")
                continue
            await sandbox.run(["/bin/true"], workdir=workdir, limits=Limits())  # warm: image
            for label, command, network in cases:
                bare_cmd = [sys.executable, "-c", "pass"] if "python" in label else command
                bare, boxed = [], []
                for _ in range(runs):
                    t = time.perf_counter()
                    subprocess.run(bare_cmd, check=True)
                    bare.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    result = await sandbox.run(
                        command, workdir=workdir, limits=Limits(), network=network
                    )
                    boxed.append((time.perf_counter() - t) * 1000)
                    assert result.exit_code == 0, result.stderr
                mb, ms = statistics.median(bare), statistics.median(boxed)
                print(
                    f"{backend:6} {label:40} bare median {mb:6.1f} ms | "
                    f"sandbox median {ms:7.1f} ms p95 {_p95(boxed):7.1f} ms | "
                    f"overhead median {ms - mb:7.1f} ms p95 {_p95(boxed) - _p95(bare):7.1f} ms"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=50, help="runs of each command")
    asyncio.run(main(parser.parse_args().runs))
