"""Build replay cases (cases.jsonl) from any Python project's git history, with ground truth.

Usage: python3 benchmarks/replay_cases.py --bundle REPO.bundle (or --repo PATH) --name NAME
       --out CASES.jsonl [--ref BRANCH] [--max-cases N] [--scan N] [--install "PIP ARGS"]
       [--pythonpath DIR] [--timeout S] [--work DIR] [--python python3]

A case is a real non-merge commit on `--ref` (default: the bundle's HEAD), newest first, that
changed Python source files and test files and nothing else of code (documentation — `*.md`,
`*.rst`, plain `*.txt` other than requirements, anything under `docs/` or `.github/` — may change
too; any other file, a deleted or renamed `.py` file, or a commit without both kinds skips it).
A test file is a `.py` file named `test_*.py`, `*_test.py` or `conftest.py`, or under a folder
named `tests`, `test` or `testing`; every other `.py` file is a source file.

Ground truth is computed outside Draftsmith, the way /work/shared/datasets/replay/README.md
describes for the Jinja cases (SWE-bench's way): a git worktree at the parent plus the commit's
test files, a plain venv made with `python -m venv` and `pip install INSTALL` run in that tree
(default `-e .`; give the project's test dependencies too, e.g. `-e . --group tests`), then plain
`pytest -p no:cacheprovider --junitxml --continue-on-collection-errors` on the test files; then
the commit's source files on top, same command. `fail_to_pass` = the cases that passed after
and did not pass before (failed, errored, skipped or not collected). `suite_at_commit` = passed
/ failed (with errors) / skipped (xfail included) of the whole suite run the same way on the
commit's full tree. Case names are JUnit `classname::name`. Nothing here knows which project
it reads: the project's install is the command line's `--install`.

Generated data (worktrees, venvs, the cases file) belongs outside this repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

from bot.sandbox.junit import JUnitReportError, junit_cases

DOC_SUFFIXES = {".md", ".rst", ".txt", ".adoc"}
DOC_FOLDERS = ("docs/", "doc/", ".github/", "changelog.d/", "changes/")
TEST_FOLDERS = {"tests", "test", "testing"}


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in `repo`; its stdout."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def is_test_file(path: str) -> bool:
    """`test_*.py`, `*_test.py`, `conftest.py`, or a `.py` file under tests/, test/, testing/."""
    pure = PurePosixPath(path)
    name = pure.name
    if pure.suffix != ".py":
        return False
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return True
    return any(part in TEST_FOLDERS for part in pure.parts[:-1])


def is_documentation(path: str) -> bool:
    """A file that is not code: prose, or anything under a docs or CI folder."""
    pure = PurePosixPath(path)
    if path.startswith(DOC_FOLDERS):
        return True
    if pure.suffix.lower() not in DOC_SUFFIXES:
        return False
    return not pure.name.lower().startswith("requirements")


def classify(changes: list[tuple[str, str]]) -> tuple[list[str], list[str]] | None:
    """(source files, test files) of a commit's `git diff --name-status`, or None to skip it."""
    sources, tests = [], []
    for status, path in changes:
        if is_documentation(path) and not path.endswith(".py"):
            continue
        if not path.endswith(".py") or status[0] not in "AM":
            return None  # code that is not Python, or a deleted / renamed module
        if path.startswith(DOC_FOLDERS):
            continue  # docs/conf.py and examples in the docs are not the library
        (tests if is_test_file(path) else sources).append(path)
    if not sources or not tests:
        return None
    return sorted(sources), sorted(tests)


def candidates(repo: Path, ref: str, scan: int) -> list[dict[str, object]]:
    """The newest `scan` non-merge commits of `ref` that changed source and test files only."""
    found = []
    for sha in git(repo, "rev-list", "--no-merges", f"--max-count={scan}", ref).split():
        parents = git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        if len(parents) != 1:
            continue
        out = git(repo, "diff", "--no-renames", "--name-status", parents[0], sha)
        changes = [tuple(line.split("\t", 1)) for line in out.splitlines() if "\t" in line]
        kinds = classify([(s, p) for s, p in changes])
        if kinds is None:
            continue
        message = git(repo, "log", "-1", "--format=%B", sha).strip()
        found.append({"commit": sha, "parent": parents[0], "request": message,
                      "source_files": kinds[0], "test_files": kinds[1]})  # fmt: skip
    return found


def junit_outcomes(path: Path) -> dict[str, str] | None:
    """`classname::name` → passed / failed / error / skipped of a JUnit report (None: no report)."""
    try:
        return {case.name: case.outcome for case in junit_cases(path.read_text())}
    except (OSError, JUnitReportError):
        return None


class Tree:
    """A git worktree of the project at a case's parent and its own plain venv."""

    def __init__(self, repo: Path, work: Path, case_id: str, args: argparse.Namespace) -> None:
        self.repo, self.args = repo, args
        self.path = work / "trees" / case_id
        self.venv = work / "venvs" / case_id
        self.reports = work / "reports" / case_id
        self.log = work / "logs" / f"{case_id}.log"
        for folder in (self.reports, self.log.parent):
            folder.mkdir(parents=True, exist_ok=True)

    def create(self, parent: str) -> None:
        """The worktree at `parent` (replacing an earlier one), then the venv and the install."""
        git(self.repo, "worktree", "remove", "--force", str(self.path), check=False)
        git(self.repo, "worktree", "prune")
        shutil.rmtree(self.path, ignore_errors=True)
        shutil.rmtree(self.venv, ignore_errors=True)
        git(self.repo, "worktree", "add", "--quiet", "--detach", str(self.path), parent)
        self.run([self.args.python, "-m", "venv", str(self.venv)], timeout=300)
        pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        self.run([*pip, *shlex.split(self.args.install)], timeout=900)
        if not (self.venv / "bin" / "pytest").exists():
            self.run([*pip, "pytest"], timeout=600)  # the install did not bring one

    def checkout(self, commit: str, paths: list[str]) -> None:
        """Files of `commit` on top of the tree."""
        git(self.path, "checkout", commit, "--", *paths)

    def pytest(self, label: str, paths: list[str]) -> tuple[dict[str, str] | None, float]:
        """Plain pytest on `paths` (the whole suite when empty): outcomes and seconds."""
        report = self.reports / f"{label}.xml"
        report.unlink(missing_ok=True)
        command = [str(self.venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider",
                   f"--junitxml={report}", *paths]  # fmt: skip
        if paths:  # one file that cannot be collected (a typing check module) must not void the
            # others' results: click a1d87858ab's tests/typing/typing_edit.py
            command.insert(-len(paths), "--continue-on-collection-errors")
        started = time.monotonic()
        self.run(command, timeout=self.args.timeout, check=False)
        return junit_outcomes(report), round(time.monotonic() - started, 2)

    def run(self, command: list[str], *, timeout: float, check: bool = True) -> int:
        """A command in the tree, its output appended to the case's log."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        if self.args.pythonpath:
            env["PYTHONPATH"] = str(self.path / self.args.pythonpath)
        with self.log.open("a") as log:
            log.write(f"$ {shlex.join(command)}\n")
            log.flush()
            try:
                done = subprocess.run(command, cwd=self.path, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, timeout=timeout)  # fmt: skip
            except subprocess.TimeoutExpired:
                log.write(f"(timed out after {timeout}s)\n")
                if check:
                    raise
                return -1
        if check and done.returncode != 0:
            raise RuntimeError(f"{command[:4]} exited {done.returncode}: see {self.log}")
        return done.returncode

    def remove(self) -> None:
        """The worktree and the venv (reports and logs stay)."""
        git(self.repo, "worktree", "remove", "--force", str(self.path), check=False)
        shutil.rmtree(self.venv, ignore_errors=True)


def figures(outcomes: dict[str, str]) -> dict[str, int]:
    """passed / failed (errors included) / skipped of one run."""
    values = list(outcomes.values())
    return {
        "passed": values.count("passed"),
        "failed": values.count("failed") + values.count("error"),
        "skipped": values.count("skipped"),
    }


def ground_truth(case: dict[str, object], tree: Tree) -> dict[str, object] | None:
    """The case with `fail_to_pass` and `suite_at_commit`; None when the tests could not run."""
    commit, tests = str(case["commit"]), list(case["test_files"])  # type: ignore[call-overload]
    tree.create(str(case["parent"]))
    tree.checkout(commit, tests)
    before, before_s = tree.pytest("before", tests)
    tree.checkout(commit, list(case["source_files"]))  # type: ignore[call-overload]
    after, after_s = tree.pytest("after", tests)
    if after is None:
        return None
    tree.checkout(commit, ["."])
    suite, suite_s = tree.pytest("suite", [])
    if suite is None:
        return None
    before = before or {}
    fail_to_pass = sorted(
        n for n, o in after.items() if o == "passed" and before.get(n) != "passed"
    )
    seconds = {"before": before_s, "after": after_s, "suite": suite_s}
    return {**case, "fail_to_pass": fail_to_pass, "suite_at_commit": figures(suite),
            "ground_truth_seconds": seconds}  # fmt: skip


def main() -> int:
    """Pick the commits, compute their ground truth, write cases.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", type=Path)
    source.add_argument("--repo", type=Path)
    parser.add_argument("--name", required=True, help="case ids are NAME-<short sha>")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--max-cases", type=int, default=8)
    parser.add_argument("--scan", type=int, default=400, help="newest N commits looked at")
    parser.add_argument("--install", default="-e .", help="pip install arguments, in the tree")
    parser.add_argument("--pythonpath", default="", help="PYTHONPATH for pytest, in the tree")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    parser.add_argument("--python", default="python3")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--list", action="store_true", help="list the commits, no ground truth")
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="replay-cases-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "source"
    if not repo.exists():
        origin = str((args.bundle or args.repo).resolve())
        git(work, "clone", "--quiet", "--no-checkout", origin, str(repo))
    written = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for found in candidates(repo, args.ref, args.scan):
            case = {"id": f"{args.name}-{str(found['commit'])[:10]}", **found}
            if args.list:
                print(case["id"], case["source_files"], case["test_files"], flush=True)
                continue
            tree = Tree(repo, work, str(case["id"]), args)
            try:
                done = ground_truth(case, tree)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{case['id']}: skipped ({exc})", file=sys.stderr, flush=True)
                continue
            finally:
                tree.remove()
            if done is None:
                print(f"{case['id']}: skipped (no JUnit report)", file=sys.stderr, flush=True)
                continue
            print(f"{case['id']}: fail_to_pass={len(done['fail_to_pass'])} "  # type: ignore[arg-type]
                  f"suite={done['suite_at_commit']} {done['ground_truth_seconds']}",
                  file=sys.stderr, flush=True)  # fmt: skip
            out.write(json.dumps(done) + "\n")
            out.flush()
            written += 1
            if written >= args.max_cases:
                break
    print(f"{written} cases written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
