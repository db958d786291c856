"""Setup of a repeated run against its first: kept environments (bot/environment/kept.py).

Usage: .venv/bin/python benchmarks/kept_environments.py [--runs 3] [--only python|node] [--json]

For each project, `--runs` workspaces of one repository prepare the same environment in turn
through `prepare_environment` (the real bubblewrap sandbox, the setup egress filter built as
`serve` builds it, the registries this machine reaches), sharing one repository cache:
- **first**: an empty download cache, nothing kept: downloads and installs;
- **warm, not kept**: the download cache warm, the kept environment removed first: what every
  run cost before environments were kept;
- **repeated**: a copy of the kept environment, paths rewritten (each later run).
Projects: Python (uv; pytest, requests, httpx, pydantic, SQLAlchemy from requirements.txt) and
JavaScript (npm ci of jest 29 from a package-lock.json, about 270 packages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.environment.cache import RepositoryCache  # noqa: E402
from bot.environment.prepare import prepare_environment  # noqa: E402
from bot.policy.decide import load_default_policy  # noqa: E402
from bot.sandbox.base import Limits  # noqa: E402
from bot.sandbox.bwrap import BwrapSandbox  # noqa: E402
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork  # noqa: E402
from bot.sandbox.toolbox import build_python_toolbox  # noqa: E402
from tests.helpers.node_projects import npm_lock  # noqa: E402
from tests.helpers.repos import make_repo  # noqa: E402

LIMITS = Limits(wall_time_s=600, cpu_time_s=600)
PYTHON = {
    "requirements.txt": "pytest==8.3.3\nrequests==2.32.3\nhttpx==0.27.2\npydantic==2.9.2\n"
    "SQLAlchemy==2.0.35\n",
    "app.py": "def one():\n    return 1\n",
    "tests/test_app.py": "from app import one\n\n\ndef test_one():\n    assert one() == 1\n",
}
NODE_MANIFEST: dict[str, Any] = {
    "name": "calc",
    "private": True,
    "scripts": {"test": "jest"},
    "devDependencies": {"jest": "29.7.0"},
}


def node_files() -> dict[str, str]:
    return {
        "package.json": json.dumps(NODE_MANIFEST, indent=2) + "\n",
        "package-lock.json": npm_lock(NODE_MANIFEST),
        "index.js": "module.exports = () => 1;\n",
        "index.test.js": "test('one', () => expect(require('./index')()).toBe(1));\n",
    }


def prepare(
    sandbox: BwrapSandbox, root: Path, language: str, cache: RepositoryCache, restored: bool
) -> float:
    prepared = asyncio.run(
        prepare_environment(
            sandbox, root, language=language, limits=LIMITS,
            allow=load_default_policy().setup_allow, cache=cache,
        )
    )  # fmt: skip
    if not prepared.ok:
        raise SystemExit(f"{language} setup failed: {prepared.problem}")
    if prepared.restored is not restored:
        raise SystemExit(f"{language}: restored is {prepared.restored}, expected {restored}")
    return prepared.duration_s


def measure(sandbox: BwrapSandbox, language: str, files: dict[str, str], runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="kept-bench-") as tmp:
        cache = RepositoryCache(Path(tmp) / "cache", "bench/project")

        def one(name: str, restored: bool) -> float:
            root = make_repo(Path(tmp) / name / "repo", files)
            return prepare(sandbox, root, language, cache, restored)

        first = one("w0", False)
        warm, repeated = [], []
        for i in range(1, runs + 1):
            shutil.rmtree(cache.root / "environments", ignore_errors=True)
            warm.append(one(f"a{i}", False))
            repeated.append(one(f"b{i}", True))
    warm_median, repeated_median = statistics.median(warm), statistics.median(repeated)
    return {
        "language": language,
        "first_s": first,
        "warm_not_kept_s": warm,
        "repeated_s": repeated,
        "repeated_over_first": round(repeated_median / first, 3),
        "repeated_over_warm": round(repeated_median / warm_median, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("python", "node"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    environ = {**os.environ, "COREPACK_INTEGRITY_KEYS": "0"}
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, environ)
    with tempfile.TemporaryDirectory(prefix="kept-toolbox-") as toolbox:
        sandbox = BwrapSandbox(toolbox=build_python_toolbox(Path(toolbox)), setup=setup)
        results = [
            measure(sandbox, language, files, args.runs)
            for language, files in (("python", PYTHON), ("node", node_files()))
            if args.only in (None, language)
        ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['language']}: first {r['first_s']:.2f} s; warm download cache, not kept "
            f"{statistics.median(r['warm_not_kept_s']):.2f} s (median of {args.runs}); "
            f"repeated {statistics.median(r['repeated_s']):.2f} s = "
            f"{r['repeated_over_first']:.0%} of the first, {r['repeated_over_warm']:.0%} of warm"
        )


if __name__ == "__main__":
    main()
