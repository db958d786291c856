"""Replay real upstream commits through the whole pipeline with an oracle model.

Usage: .venv/bin/python benchmarks/replay.py --cases CASES.jsonl --bundle REPO.bundle
       [--only ID,ID] [--limit N] [--cached-repeats N] [--json] [--work DIR]

Each case (one line of cases.jsonl: see /work/shared/datasets/replay/README.md) is a real commit
and its parent. The repository is cloned from the bundle and checked out at the parent; then
`draftsmith run` (bot.runtime.local.run_local_pipeline) runs on it with the real bubblewrap sandbox
and an oracle model on a loopback HTTP server (tests/helpers/scripted_model.py, the wire format of
the Chat Completions API): the planner names the commit's source files, the coder answers their
content at the commit, the reviewer approves, the tester answers the commit's test files. The
coder answers the same change again if asked for a revision (which then changes nothing).
Everything else is the product's own work: preparing the environment from the repository's own
files, the suite in the sandbox, the fail-before/pass-after proof, the evidence. Nothing here
knows which project it replays.

Per case: converged (approved), pinned == fail_to_pass, the evidence's suite figures == those of
a plain `pytest -p no:cacheprovider` run on the same commit in the same environment (and the
dataset's suite_at_commit), setup / testing / total seconds, testing time against that plain
run. The first run of a base commit runs the suite on the base too; `--cached-repeats N` runs
the first N cases again, with the base suite's result cached, and reports that ratio apart.
The per-repository download cache is shared by all cases (keyed by repository and lock file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rich.console import Console  # noqa: E402

from bot.observe.timebudget import OVERLAPPED  # noqa: E402
from bot.runtime.local import run_local_pipeline  # noqa: E402
from bot.sandbox.base import Limits  # noqa: E402
from bot.sandbox.choose import get_sandbox  # noqa: E402
from bot.sandbox.junit import JUnitReportError  # noqa: E402
from bot.sandbox.runners import parse_junit, read_report  # noqa: E402
from bot.shared.config import Settings  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.scripted_model import ScriptedModel, serve_model  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Replay",
    "GIT_AUTHOR_EMAIL": "replay@example.com",
    "GIT_COMMITTER_NAME": "Replay",
    "GIT_COMMITTER_EMAIL": "replay@example.com",
}


TESTING_PARTS = (
    "change_s",
    "change_plain_s",
    "new_tests_s",
    "base_suite_s",
    "base_selected_s",
    "base_new_tests_s",
    "base_view_s",
    "beside_s",
)
"""The suite with the change, the same suite without coverage when it failed under coverage (to
confirm those failures), the new tests alone with the change, the suite (or what of it was
selected) and the new tests on the base, the copy of the workspace the new tests ran in beside
the suite, and that wall time (bot.testing.suite's timings): testing time. Runs beside the suite
(`bot.observe.timebudget.OVERLAPPED`) count once, through `beside_s`."""


def testing_seconds(timings: dict[str, Any]) -> float:
    """The testing time of one run from its timings (see TESTING_PARTS)."""
    beside = timings.get("beside_s") is not None
    parts = [
        timings.get(key)
        for key in TESTING_PARTS
        if not (beside and key.removesuffix("_s") in OVERLAPPED)
    ]
    return round(sum(p for p in parts if p is not None), 2)


@dataclass
class CaseResult:
    """One replayed case: what the run did and how it compares with the ground truth."""

    id: str
    status: str = "not run"
    reason: str | None = None
    converged: bool = False
    pinned: list[str] = field(default_factory=list)
    expected_pinned: list[str] = field(default_factory=list)
    pinned_ok: bool = False
    claimed_proof: bool = False
    base_problem: str | None = None
    already_failing: list[str] = field(default_factory=list)
    evidence_figures: dict[str, int] | None = None
    pytest_figures: dict[str, int] | None = None
    dataset_figures: dict[str, int] | None = None
    figures_ok: bool = False
    setup_s: float | None = None
    setup_reused: bool | None = None
    testing_s: float | None = None
    total_s: float = 0.0
    plain_pytest_s: float | None = None
    ratio: float | None = None
    base_suite_cached: bool = False


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its output."""
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def oracle(case: dict[str, Any], source: Path) -> dict[str, list[Any]]:
    """The answers of each role: the commit's own source change, tests and an approval."""
    commit = case["commit"]
    show = {p: git(source, "show", f"{commit}:{p}") for p in case["source_files"]}
    tests = {p: git(source, "show", f"{commit}:{p}") for p in case["test_files"]}
    existing = set(git(source, "ls-tree", "-r", "--name-only", case["parent"]).splitlines())

    def operation(path: str) -> str:
        return "update" if path in existing else "create"

    title = case["request"].strip().splitlines()[0]
    plan = {
        "summary": title,
        "files_to_create": [],
        "files_to_modify": case["source_files"],
        "dependencies": [],
        "architecture_notes": "",
        "acceptance_criteria": [title],
        "risk_level": "low",
        "out_of_scope": [],
    }
    change = {
        "edits": [{"path": p, "operation": operation(p), "content": c} for p, c in show.items()],
        "explanation": case["request"][:2000],
        "dependencies_added": [],
        "revision": 0,
    }
    test_plan = {
        "focus": [title],
        "files": [{"path": p, "operation": operation(p), "content": c} for p, c in tests.items()],
    }
    approved = {"status": "approved", "issues": [], "suggestions": [], "score": 1.0}
    return {"planner": [plan], "coder": [change] * 4, "reviewer": [approved] * 4,
            "tester": [test_plan] * 4}  # fmt: skip


def figures(report: dict[str, Any]) -> dict[str, int]:
    """passed / failed / skipped of a stored TestReport (failed includes errors)."""
    return {
        "passed": int(report["tests_passed"]),
        "failed": int(report["tests_failed"]),
        "skipped": int(report["tests_skipped"]),
    }


def plain_pytest(settings: Settings, root: Path) -> tuple[dict[str, int] | None, float | None]:
    """Plain pytest on the run's tree, in its prepared environment and the same sandbox."""
    import asyncio

    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        return None, None
    sandbox = get_sandbox(settings)
    report = ".draftsmith/plain-junit.xml"
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
    result = asyncio.run(sandbox.run(command, workdir=root, limits=Limits()))
    text = read_report(root, report)
    if text is None:
        return None, result.duration_s
    try:
        counts = parse_junit(text)
    except JUnitReportError:
        return None, result.duration_s
    found = {"passed": counts.passed, "failed": counts.failed + counts.errors,
             "skipped": counts.skipped}  # fmt: skip
    return found, result.duration_s


def replay(case: dict[str, Any], bundle_clone: Path, work: Path, settings: Settings) -> CaseResult:
    """Run one case through the pipeline; compare with its ground truth."""
    result = CaseResult(id=case["id"], expected_pinned=sorted(case["fail_to_pass"]))
    result.dataset_figures = dict(case["suite_at_commit"])
    repo = work / "repos" / case["id"]
    if repo.exists():
        shutil.rmtree(repo)
    git(work, "clone", "--quiet", "--no-checkout", str(bundle_clone), str(repo))
    parent = git(repo, "rev-parse", case["parent"]).strip()
    git(repo, "checkout", "--quiet", "-B", "main", parent)
    store = Store(settings.database_url)
    model = ScriptedModel(oracle(case, bundle_clone))
    console = Console(file=open(os.devnull, "w"), width=200)  # noqa: SIM115
    started = time.monotonic()
    with serve_model(model) as url:
        os.environ["OPENAI_BASE_URL"] = url
        run_local_pipeline(settings, repo, case["request"], console, store=store)
    result.total_s = round(time.monotonic() - started, 2)
    run = max(store.list_runs(), key=lambda r: r.id)
    result.status, result.reason = run.status, run.status_reason
    result.converged = run.status in ("approved", "needs_approval")
    tested = [
        r for r in range(run.revision, -1, -1) if store.get_artifact(run.id, f"testoutcome.r{r}")
    ]
    if not tested:
        return result
    stored = store.get_artifact(run.id, f"testoutcome.r{tested[0]}")
    assert stored is not None
    outcome = json.loads(stored.content)
    result.pinned = sorted(outcome.get("pinned") or [])
    result.claimed_proof = bool(result.pinned)
    result.pinned_ok = result.pinned == result.expected_pinned
    result.base_problem = outcome.get("base_problem")
    result.already_failing = outcome.get("already_failing") or []
    result.base_suite_cached = bool(outcome.get("base_suite_cached"))
    result.evidence_figures = figures(outcome["report"])
    timings = outcome.get("timings") or {}
    result.setup_s = timings.get("setup_s")
    result.setup_reused = bool((outcome.get("environment") or {}).get("reused"))
    result.testing_s = testing_seconds(timings)
    root = (settings.work_dir / f"run-{run.id}" / "repo").resolve()
    result.pytest_figures, result.plain_pytest_s = plain_pytest(settings, root)
    result.figures_ok = result.evidence_figures == result.pytest_figures
    if result.plain_pytest_s:
        result.ratio = round(result.testing_s / result.plain_pytest_s, 2)
    return result


def summary(results: list[CaseResult], repeats: list[CaseResult]) -> dict[str, Any]:
    """Totals over every replayed case."""
    with_truth = [r for r in results if r.expected_pinned]
    without = [r for r in results if not r.expected_pinned]
    ratios = [r.ratio for r in results if r.ratio is not None]
    cached = [r.ratio for r in repeats if r.ratio is not None]
    return {
        "cases": len(results),
        "with_fail_to_pass": len(with_truth),
        "converged_with_fail_to_pass": sum(r.converged for r in with_truth),
        "pinned_equals_fail_to_pass": sum(r.pinned_ok for r in with_truth),
        "without_fail_to_pass_claiming_no_proof": sum(not r.claimed_proof for r in without),
        "without_fail_to_pass": len(without),
        "figures_equal_pytest": sum(r.figures_ok for r in results),
        "figures_equal_dataset": sum(r.evidence_figures == r.dataset_figures for r in results),
        # each case's first run, and the cached repeats (which find the environment kept)
        "median_setup_s_first": _median([r.setup_s for r in results]),
        "median_setup_s_repeated": _median([r.setup_s for r in repeats]),
        "median_testing_s": _median([r.testing_s for r in results]),
        "median_total_s": _median([r.total_s for r in results]),
        "median_ratio_first_run": _median(ratios),
        "median_ratio_cached_base": _median(cached),
        "max_ratio_cached_base": max(cached) if cached else None,
    }


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


def main() -> int:
    """Replay the cases; print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated case ids")
    parser.add_argument("--limit", type=int, default=0, help="the first N cases only")
    parser.add_argument("--cached-repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep runs here (default: tmp)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c["id"] in wanted]
    if args.limit:
        cases = cases[: args.limit]
    work = args.work or Path(tempfile.mkdtemp(prefix="draftsmith-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "source"
    if not source.exists():
        git(work, "clone", "--quiet", "--no-checkout", str(args.bundle.resolve()), str(source))
    settings = Settings(
        database_url=f"sqlite:///{work / 'replay.sqlite'}", work_dir=work / "work", model="oracle"
    )
    os.environ.setdefault("OPENAI_API_KEY", "sk-replay-oracle-not-a-real-key-0000000000")
    results: list[CaseResult] = []
    for case in cases:
        results.append(replay(case, source, work, settings))
        if not args.json:
            _print_row(results[-1])
    repeats = [replay(c, source, work, settings) for c in cases[: args.cached_repeats]]
    if not args.json:
        for row in repeats:
            _print_row(row, "repeat")
    total = summary(results, repeats)
    if args.json:
        data = {"cases": [asdict(r) for r in results], "repeats": [asdict(r) for r in repeats]}
        print(json.dumps({**data, "summary": total}, indent=2))
    else:
        print(json.dumps(total, indent=2))
    return 0


def _print_row(r: CaseResult, note: str = "") -> None:
    print(
        f"{r.id} {note} status={r.status} converged={r.converged} pinned_ok={r.pinned_ok} "
        f"({len(r.pinned)}/{len(r.expected_pinned)}) figures={r.evidence_figures} "
        f"pytest={r.pytest_figures} dataset={r.dataset_figures} setup={r.setup_s}s "
        f"reused={r.setup_reused} testing={r.testing_s}s plain={r.plain_pytest_s}s "
        f"ratio={r.ratio} cached_base={r.base_suite_cached} total={r.total_s}s "
        f"base_problem={r.base_problem} already={r.already_failing} "
        f"reason={(r.reason or '')[:300]!r}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
