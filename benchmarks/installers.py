"""uv against pip: environment preparation of replay cases, cold and with the download cache.

Usage: .venv/bin/python benchmarks/installers.py --cases CASES.jsonl --bundle REPO.bundle
       [--only ID,ID] [--json]

For each case, the parent commit is cloned from the bundle and its environment prepared by
bot.environment.prepare_environment in the real bubblewrap sandbox, four times: with pip and with
uv (toolboxes with and without the uv binary), each first with an empty download cache and then
with the cache the first run filled (a fresh clone each time, so only downloads are reused).
Printed: seconds per preparation and whether it succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.environment.cache import RepositoryCache  # noqa: E402
from bot.environment.prepare import UV_BIN, prepare_environment  # noqa: E402
from bot.policy.decide import load_default_policy  # noqa: E402
from bot.sandbox.base import Limits  # noqa: E402
from bot.sandbox.bwrap import BwrapSandbox  # noqa: E402
from bot.sandbox.toolbox import build_python_toolbox  # noqa: E402

CA_NAMES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")


def sandbox_with(toolbox: Path) -> BwrapSandbox:
    """The bwrap sandbox; until the setup network lands here, setup gets the operator's CA."""
    if hasattr(BwrapSandbox(), "setup"):
        return BwrapSandbox(toolbox=toolbox)
    passed = {n: os.environ[n] for n in CA_NAMES if n in os.environ}

    class WithCA(BwrapSandbox):
        async def run(self, command, *, workdir, limits, network=False, env=None):  # type: ignore[no-untyped-def]
            env = {**(env or {}), **passed} if network else env
            return await super().run(
                command, workdir=workdir, limits=limits, network=network, env=env
            )

    return WithCA(toolbox=toolbox)


def prepare(sandbox: BwrapSandbox, bundle: Path, parent: str, work: Path, cache: Path) -> Any:
    """One preparation on a fresh clone of `parent`; (seconds, ok, problem)."""
    root = work / "clone"
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(bundle), str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "checkout", "-q", parent], check=True)
    started = time.monotonic()
    result = asyncio.run(
        prepare_environment(
            sandbox,
            root,
            language="python",
            limits=Limits(),
            allow=load_default_policy().setup_allow,
            cache=RepositoryCache(cache, "replay"),
        )
    )
    return round(time.monotonic() - started, 2), result.ok, (result.problem or "")[:300]


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    if args.only:
        cases = [c for c in cases if c["id"] in set(args.only.split(","))]
    work = Path(tempfile.mkdtemp(prefix="draftsmith-installers-"))
    with_uv = build_python_toolbox(work / "toolbox-uv")
    without = build_python_toolbox(work / "toolbox-pip")
    shutil.rmtree(without / Path(UV_BIN).parent)
    rows = []
    for case in cases:
        for name, toolbox in (("pip", without), ("uv", with_uv)):
            sandbox = sandbox_with(toolbox)
            cache = work / f"cache-{name}-{case['id']}"
            for state in ("cold", "cached"):
                seconds, ok, problem = prepare(sandbox, args.bundle, case["parent"], work, cache)
                row = {"case": case["id"], "installer": name, "cache": state,
                       "seconds": seconds, "ok": ok, "problem": problem}  # fmt: skip
                rows.append(row)
                if not args.json:
                    print(json.dumps(row), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
