"""Replay real upstream commits of a JavaScript/TypeScript project through the whole pipeline.

Usage: .venv/bin/python benchmarks/replay_node.py --repo PATH --runner jest|vitest|mocha
       --install "corepack pnpm install --frozen-lockfile"
       (--commit SHA [--commit SHA ...] | --pick N [--ref REF] [--scan M] | --cases-in FILE)
       [--cases-out FILE] [--truth-only] [--runner-args "--typecheck"] [--work DIR] [--json]

The commits are named (`--commit`), or picked from the history (`--pick N`: the newest N
non-merge commits among the last `--scan` of `--ref` that changed JavaScript/TypeScript source
and test files and no other code, configuration, manifest or lock file: documentation, `.github/`,
`.changeset/` and test snapshots may change too), or read from a cases file (`--cases-in`).
`--cases-out` writes each commit's ground truth as one JSON line (the cases file: commit,
parent, package, tests, sources, fail_to_pass, suite), and `--truth-only` stops there.

Per commit (a real non-merge commit that changed source and test files), ground truth comes from
the project's own runner outside Draftsmith: a git worktree at the parent, the project installed
with `--install` on the host (no sandbox), the commit's test files run with the runner's JSON
reporter (`jest --json --runTestsByPath`, `vitest run --reporter=json`, `mocha --reporter
json`, from node_modules/.bin), then again with the commit's source files too: `fail_to_pass`
are the cases that pass after and did not pass before; `suite` is the runner's own figures
(passed, failed, skipped) on the commit's whole tree. Case names follow the runners' reports:
`file::describe > title` (mocha: `file::fullTitle`), the file relative to the repository root.
In a workspace (npm/yarn `workspaces`, `pnpm-workspace.yaml`), a commit whose changed files lie
in one package is replayed in that package: the runner runs from the package's directory (its
bin, else the root's), on its test files and its whole suite, as a person testing that package
would (`--install` runs at the root, through `sh -c`: `... && pnpm -r build` when packages import
each other's builds).

Then `draftsmith run` (bot.runtime.local.run_local_pipeline) on a clone at the parent with the real
bubblewrap sandbox and an oracle model (tests/helpers/scripted_model.py): the coder answers the
commit's source files, the tester its test files, the reviewer approves. Reported: converged,
pinned == fail_to_pass, the evidence's suite figures == the runner's own. Nothing here knows
which project it replays: the runner and the install are the command line's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from bot.agents.tester import is_test_path  # noqa: E402
from bot.environment.node import touched_packages  # noqa: E402
from bot.runtime.local import run_local_pipeline  # noqa: E402
from bot.shared.config import Settings  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.scripted_model import ScriptedModel, serve_model  # noqa: E402

CODE_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx")
APPROVED = {"status": "approved", "issues": [], "suggestions": [], "score": 0.9}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its stdout."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


JEST_RUN = Path(tempfile.mkdtemp()) / "jest-run.js"
JEST_RUN.write_text(
    'require(require.resolve("jest", { paths: [process.cwd()] }))'
    ".run(JSON.parse(process.env.REPLAY_JEST_ARGS));\n"
)
RUNNER_ARGS: list[str] = []
"""The options the project's scripts.test gives its runner (`--runner-args`, e.g. --typecheck)."""


def runner_command(runner: str, report: Path, files: list[str] | None) -> list[str]:
    """The runner with its own JSON reporter, as a person would run it by hand."""
    if runner == "jest":  # its options out of process.argv: tests of CLI libraries read it
        select = ["--runTestsByPath", *files] if files else []
        given = [*RUNNER_ARGS, "--ci", "--json", f"--outputFile={report}", *select]
        os.environ["REPLAY_JEST_ARGS"] = json.dumps(given)
        return ["node", str(JEST_RUN)]
    if runner == "vitest":
        return ["vitest", "run", *RUNNER_ARGS, "--reporter=json", f"--outputFile={report}",
                *(files or [])]  # fmt: skip
    return ["mocha", *RUNNER_ARGS, "--reporter", "json", "--reporter-option",
            f"output={report}", *(files or [])]  # fmt: skip


def report_data(runner: str, report: Path, stdout: str) -> dict[str, Any] | None:
    """The runner's JSON report; mocha before 9.2 prints it on stdout (after test output)."""
    try:
        return dict(json.loads(report.read_text()))
    except (OSError, ValueError):
        start = stdout.rfind('{\n  "stats": {') if runner == "mocha" else -1
        try:
            return dict(json.loads(stdout[start:])) if start >= 0 else None
        except ValueError:
            return None


def read_cases(
    runner: str, report: Path, root: Path, stdout: str = "", files: list[str] | None = None
) -> dict[str, str]:
    """Case name -> passed/failed/skipped from the runner's JSON report ({} when none)."""
    data = report_data(runner, report, stdout)
    if data is None:
        return {}
    only = files[0] if files and len(files) == 1 else "(unknown file)"  # mocha < 8 names none
    cases: dict[str, str] = {}
    if runner == "mocha":
        failed = {(t.get("file"), t.get("fullTitle")) for t in data.get("failures") or []}
        pending = {(t.get("file"), t.get("fullTitle")) for t in data.get("pending") or []}
        for test in data.get("tests") or []:
            key = (test.get("file"), test.get("fullTitle"))
            file = os.path.relpath(str(key[0]), root) if key[0] else only
            name = f"{file}::{key[1]}"
            status = "failed" if key in failed else "skipped" if key in pending else "passed"
            cases[name] = status
        return cases
    for suite in data.get("testResults") or []:
        file = os.path.relpath(suite["name"], root)
        for a in suite.get("assertionResults") or []:
            name = f"{file}::{' > '.join([*a.get('ancestorTitles', []), a.get('title', '')])}"
            status = a.get("status")
            cases[name] = status if status in ("passed", "failed") else "skipped"
    return cases


def run_in(runner: str, root: Path, package: str, files: list[str] | None) -> tuple[Path, str, str]:
    """Run the runner in `package` (relative to `root`; "" for the root) on `files` (relative to
    it; None: its whole suite), its bin first, then the root's; the report's path, stdout and
    stderr."""
    report = Path(tempfile.mkdtemp()) / "report.json"
    command = runner_command(runner, report, files)
    bins = [root / package / "node_modules" / ".bin", root / "node_modules" / ".bin"]
    path = os.pathsep.join([*(str(b) for b in bins), os.environ.get("PATH", "")])
    cwd = root / package
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PATH": path})  # fmt: skip
    return report, done.stdout, done.stderr


def run_runner(runner: str, root: Path, package: str, files: list[str]) -> dict[str, str]:
    """Run the runner in `package` on `files` (relative to the root); its cases."""
    local = [f.removeprefix(f"{package}/") if package else f for f in files]
    report, stdout, _ = run_in(runner, root, package, local)
    return read_cases(runner, report, root, stdout, files)


def suite_figures(runner: str, root: Path, package: str) -> dict[str, int]:
    """The runner's own totals for the whole suite (its report's summary, not case names)."""
    report, stdout, stderr = run_in(runner, root, package, None)
    data = report_data(runner, report, stdout)
    if data is None:
        raise SystemExit(f"{runner} wrote no report in {root / package}:\n{stderr[-2000:]}")
    if runner == "mocha":
        stats = data["stats"]
        return {"passed": stats["passes"], "failed": stats["failures"], "skipped": stats["pending"]}
    return {
        "passed": data["numPassedTests"],
        "failed": data["numFailedTests"],
        "skipped": data["numPendingTests"] + data.get("numTodoTests", 0),
    }


class NotReplayable(Exception):
    """The commit cannot be replayed here (its own install fails outside Draftsmith)."""


def ground_truth(repo: Path, commit: str, runner: str, install: str, work: Path) -> dict[str, Any]:
    """fail_to_pass and the suite's figures, by the project's own runner outside Draftsmith."""
    changed = git(repo, "diff", "--name-only", f"{commit}^", commit).split()
    tests = [p for p in changed if is_test_path(p)]
    sources = [p for p in changed if p.endswith(CODE_SUFFIXES) and not is_test_path(p)]
    tree = work / f"truth-{commit[:10]}"
    if tree.exists():
        git(repo, "worktree", "remove", "--force", str(tree))
    git(repo, "worktree", "add", "--quiet", "--detach", str(tree), f"{commit}^")
    installed = subprocess.run(["sh", "-c", install], cwd=tree, capture_output=True, text=True,
                               timeout=1800)  # fmt: skip
    if installed.returncode != 0:
        git(repo, "worktree", "remove", "--force", str(tree))
        raise NotReplayable(f"the install failed at the parent: {installed.stderr.strip()[-400:]}")
    packages = touched_packages(tree, changed)  # a workspace: the package the commit changed
    package = packages[0] if len(packages) == 1 else ""
    for path in tests:
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(git(repo, "show", f"{commit}:{path}"))
    runnable = [p for p in tests if p.endswith(CODE_SUFFIXES)]  # not snapshots, fixtures
    before = run_runner(runner, tree, package, runnable)
    for path in sources:
        (tree / path).write_text(git(repo, "show", f"{commit}:{path}"))
    after = run_runner(runner, tree, package, runnable)
    figures = suite_figures(runner, tree, package)
    git(repo, "worktree", "remove", "--force", str(tree))
    fail_to_pass = sorted(
        n for n, s in after.items() if s == "passed" and before.get(n) != "passed"
    )
    return {"tests": tests, "sources": sources, "package": package, "fail_to_pass": fail_to_pass,
            "suite": figures}  # fmt: skip


DOC_PATHS = (".md", ".mdx", ".txt", ".rst")
DOC_FOLDERS = ("docs/", ".github/", ".changeset/")


def replayable(repo: Path, commit: str) -> bool:
    """Whether a commit changed source and test files and, besides them, documentation only."""
    changed = git(repo, "diff", "--name-status", "--no-renames", f"{commit}^", commit).splitlines()
    tests = sources = 0
    for line in changed:
        status, path = line.split("\t", 1)
        if path.endswith(DOC_PATHS) or path.startswith(DOC_FOLDERS) or "/docs/" in path:
            continue
        if is_test_path(path) or "__snapshots__/" in path:
            tests += 1
        elif path.endswith(CODE_SUFFIXES) and status != "D":
            sources += 1
        else:  # configuration, manifests, lock files, assets: not a code-and-tests change
            return False
    return tests > 0 and sources > 0


def declares(repo: Path, commit: str, runner: str) -> bool:
    """Whether the parent's package.json files above the changed files name `runner` among
    their dependencies (a project that moved between runners is replayed in its runner's era)."""
    changed = git(repo, "diff", "--name-only", f"{commit}^", commit).split()
    manifests = {str(Path(*Path(p).parts[:i], "package.json")) for p in changed
                 for i in range(len(Path(p).parts))}  # fmt: skip
    for manifest in sorted(manifests):
        shown = subprocess.run(["git", "show", f"{commit}^:{manifest}"], cwd=repo,
                               capture_output=True, text=True)  # fmt: skip
        if shown.returncode != 0:
            continue
        try:
            data = json.loads(shown.stdout)
        except ValueError:
            continue
        for field in ("devDependencies", "dependencies"):
            if runner in (data.get(field) or {}):
                return True
    return False


def pick(repo: Path, ref: str, count: int, scan: int, runner: str) -> list[str]:
    """The newest `count` replayable non-merge commits among the last `scan` of `ref` whose
    project declares `runner`."""
    listed = git(repo, "rev-list", "--no-merges", f"--max-count={scan}", ref).split()
    chosen = (c[:10] for c in listed if replayable(repo, c) and declares(repo, c, runner))
    return list(itertools.islice(chosen, count))


def replay(repo: Path, commit: str, truth: dict[str, Any], work: Path) -> dict[str, Any]:
    """The whole pipeline on a clone at the parent, with an oracle model."""
    run_dir = work / f"run-{commit[:10]}"
    shutil.rmtree(run_dir, ignore_errors=True)
    clone = run_dir / "repo"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    git(clone, "checkout", "--quiet", "-B", "main", f"{commit}^")

    def files(paths: list[str]) -> list[dict[str, Any]]:
        return [{"path": p, "operation": "update" if (clone / p).exists() else "create",
                 "content": git(repo, "show", f"{commit}:{p}")} for p in paths]  # fmt: skip

    subject = git(repo, "log", "-1", "--format=%s", commit).strip()
    script = {
        "planner": [{"summary": subject, "files_to_modify": truth["sources"],
                     "acceptance_criteria": [subject], "risk_level": "low"}],
        "coder": [{"edits": files(truth["sources"]), "explanation": subject}] * 4,
        "tester": [{"focus": [subject], "files": files(truth["tests"])}] * 4,
        "reviewer": [APPROVED] * 4,
    }  # fmt: skip
    settings = Settings(
        database_url=f"sqlite:///{run_dir / 'db.sqlite'}",
        work_dir=work / "draftsmith",
        model="scripted-model",
    )
    store = Store(settings.database_url)
    started = time.monotonic()
    with serve_model(ScriptedModel(script)) as url:
        os.environ["OPENAI_BASE_URL"] = url
        os.environ.setdefault("OPENAI_API_KEY", "sk-replay-not-a-real-key-0000000000")
        code = run_local_pipeline(settings, clone, subject, Console(quiet=True), store=store)
    run = store.list_runs()[0]
    stored = store.get_artifact(run.id, "testoutcome.r0")
    if stored is None:  # stopped before any test ran (setup, most often): say where and why
        return {"commit": commit[:10], "converged": False, "status": str(run.status),
                "reason": (run.status_reason or "")[:600],
                "fail_to_pass": len(truth["fail_to_pass"]),
                "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
    outcome = json.loads(stored.content)
    report = outcome["report"]
    figures = {"passed": report["tests_passed"], "failed": report["tests_failed"],
               "skipped": report["tests_skipped"]}  # fmt: skip
    return {
        "commit": commit[:10],
        "package": truth["package"],
        "converged": code == 0,
        "status": str(run.status),
        "pinned_equals_fail_to_pass": sorted(outcome["pinned"]) == truth["fail_to_pass"],
        "pinned": len(outcome["pinned"]),
        "fail_to_pass": len(truth["fail_to_pass"]),
        "suite_equals_runner": figures == truth["suite"],
        "suite": figures,
        "runner_suite": truth["suite"],
        "seconds": round(time.monotonic() - started, 1),
        "setup_s": outcome["timings"].get("setup_s"),
    }


def main() -> int:
    """Replay the given commits and print one line (or JSON object) per commit."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--runner", choices=("jest", "vitest", "mocha"), required=True)
    parser.add_argument("--install", required=True)
    parser.add_argument("--commit", action="append", default=[])
    parser.add_argument("--pick", type=int, default=0, help="pick N commits from the history")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--scan", type=int, default=300)
    parser.add_argument("--cases-in", type=Path, help="replay the cases of this file")
    parser.add_argument("--cases-out", type=Path, help="write each commit's ground truth here")
    parser.add_argument("--truth-only", action="store_true", help="compute ground truth only")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "replay-node")
    parser.add_argument("--runner-args", default="", help="the runner's options in scripts.test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    RUNNER_ARGS.extend(shlex.split(args.runner_args))
    args.work.mkdir(parents=True, exist_ok=True)
    given: dict[str, dict[str, Any] | None] = {c: None for c in args.commit}
    if args.pick:
        given.update(
            {c: None for c in pick(args.repo, args.ref, args.pick, args.scan, args.runner)}
        )
    if args.cases_in:
        for line in args.cases_in.read_text().splitlines():
            case = json.loads(line)
            given[case["commit"]] = case
    if not given:
        parser.error("name commits: --commit, --pick or --cases-in")
    for commit, case in given.items():
        try:
            truth = case or ground_truth(args.repo, commit, args.runner, args.install, args.work)
        except NotReplayable as exc:
            print(f"{commit}: not replayable: {exc}")
            continue
        if case is None and args.cases_out:
            parent = git(args.repo, "rev-parse", f"{commit}^").strip()
            with args.cases_out.open("a") as out:
                out.write(json.dumps({"commit": commit, "parent": parent, **truth}) + "\n")
        if args.truth_only:
            print(f"{commit}: {len(truth['fail_to_pass'])} fail-to-pass, suite {truth['suite']}")
            continue
        result = replay(args.repo, commit, truth, args.work)
        print(json.dumps(result) if args.json else " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
