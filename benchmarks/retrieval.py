"""File-localization benchmark of bot.repo.retrieval on real commits, beside naive baselines.

Usage: python benchmarks/retrieval.py [--cases PATH] [--trees DIR] [--json]

Each case names a project's sdist (the tree before the change), a commit message (the request)
and the non-test Python files the commit changed (the answer). Scores, as in Agentless: per
case, whether all changed files are in the top k (hit@k), and the recall of changed files at k;
plus the tokens (chars/4) of the ranked files a coder's context must hold, in rank order, to
include every changed file. Only non-test Python files are scored (the answer key's
population), so every method ranks the same candidates.

Methods: `bm25` is bot.repo.retrieval's ranking (files named in the request first, then BM25 over
paths and contents); `bm25_unnamed` is the same without putting named files first (an
ablation); `largest` always ranks the package's modules by size, largest first;
`most_edited` puts the project's most often changed file in these cases first (a prior read
from the answer key itself, so it is optimistic), then the rest by size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.repo.retrieval import LexicalIndex, estimate_tokens  # noqa: E402

DEFAULT_CASES = REPO_ROOT.parent / "shared" / "datasets" / "localization" / "cases.jsonl"
DEFAULT_TREES = Path.home() / ".cache" / "draftsmith" / "localization-trees"
KS = (1, 3, 5)


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fetch_tree(trees: Path, name: str, version: str) -> Path:
    """The unpacked sdist NAME-VERSION under `trees`, downloaded with pip when missing."""
    sdists = trees / "sdists"
    normal = name.lower().replace("-", "_")

    def matching() -> list[Path]:
        return [
            p
            for p in sdists.glob("*.tar.gz")
            if p.name.lower().replace("-", "_") == f"{normal}_{version}.tar.gz"
        ]

    if not matching():
        sdists.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{name}=={version}",
                "-d",
                str(sdists),
            ],
            check=True,
        )
    archive = matching()[0]
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        dest = trees / top
        if not dest.is_dir():
            tar.extractall(trees, filter="data")
    return dest


def is_candidate(path: str) -> bool:
    """A non-test Python file (the population the answer key is drawn from)."""
    parts = path.split("/")
    name = parts[-1]
    if not name.endswith((".py", ".pyi")):
        return False
    if any(p in ("tests", "test", "testing") for p in parts[:-1]):
        return False
    return not (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py")


def score(ranking: list[str], changed: list[str], tokens: dict[str, int]) -> dict[str, float]:
    """hit@k, recall@k and the tokens needed to include every changed file."""
    result: dict[str, float] = {}
    for k in KS:
        top = set(ranking[:k])
        found = sum(1 for f in changed if f in top)
        result[f"hit@{k}"] = float(found == len(changed))
        result[f"recall@{k}"] = found / len(changed)
    positions = [ranking.index(f) if f in ranking else len(ranking) - 1 for f in changed]
    result["tokens_needed"] = float(sum(tokens[f] for f in ranking[: max(positions) + 1]))
    return result


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means of the scores, median of the tokens."""
    out = {
        key: round(statistics.fmean(r[key] for r in rows), 3)
        for key in rows[0]
        if key != "tokens_needed"
    }
    out["tokens_needed_median"] = round(statistics.median(r["tokens_needed"] for r in rows))
    out["tokens_needed_mean"] = round(statistics.fmean(r["tokens_needed"] for r in rows))
    return out


def run(cases: list[dict[str, Any]], trees: Path) -> dict[str, Any]:
    """Score every method on every case; figures per project and in total."""
    by_tree: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        by_tree[(case["pypi_name"], case["sdist_version"])].append(case)
    per_project: dict[str, dict[str, list[dict[str, float]]]] = {}
    seconds = 0.0
    for (name, version), group in by_tree.items():
        root = fetch_tree(trees, name, version)
        index = LexicalIndex.build(root)
        candidates = [f for f in index.files if is_candidate(f)]
        tokens = {f: estimate_tokens((root / f).read_text("utf-8", "replace")) for f in candidates}
        by_size = sorted(candidates, key=lambda f: (-tokens[f], f))
        edits = Counter(f for case in group for f in case["changed_files"])
        prior = edits.most_common(1)[0][0]
        prior_first = [prior] + [f for f in by_size if f != prior]
        for case in group:
            missing = [f for f in case["changed_files"] if f not in tokens]
            if missing:
                raise SystemExit(f"{case['id']}: {missing} not among the candidates of {root}")
            started = time.perf_counter()
            ranked = [r.path for r in index.rank(case["request"]) if r.path in tokens]
            seconds += time.perf_counter() - started
            plain = [r.path for r in index.bm25(case["request"]) if r.path in tokens]
            methods = {
                "bm25": ranked,
                "bm25_unnamed": plain,
                "largest": by_size,
                "most_edited": prior_first,
            }
            scores = per_project.setdefault(case["project"], defaultdict(list))
            for method, ranking in methods.items():
                scores[method].append(score(ranking, case["changed_files"], tokens))
    result: dict[str, Any] = {"projects": {}, "total": {}}
    totals: dict[str, list[dict[str, float]]] = defaultdict(list)
    for project, by_method in per_project.items():
        result["projects"][project] = {"cases": len(by_method["bm25"])}
        for method, rows in by_method.items():
            result["projects"][project][method] = summarise(rows)
            totals[method].extend(rows)
    result["total"] = {"cases": len(cases)}
    result["total"].update({m: summarise(rows) for m, rows in totals.items()})
    result["ranking_ms_per_case"] = round(1000 * seconds / max(1, len(cases)), 2)
    return result


def print_table(result: dict[str, Any]) -> None:
    """One line per project and method, then the totals."""
    header = (
        f"{'project':<22} {'method':<12} {'n':>3} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} "
        f"{'rec@1':>6} {'rec@5':>6} {'tok_med':>8} {'tok_mean':>8}"
    )
    print(header)
    rows = [*result["projects"].items(), ("TOTAL", result["total"])]
    for project, figures in rows:
        for method in ("bm25", "bm25_unnamed", "largest", "most_edited"):
            f = figures[method]
            print(
                f"{project:<22} {method:<12} {figures['cases']:>3} {f['hit@1']:>6.3f} "
                f"{f['hit@3']:>6.3f} {f['hit@5']:>6.3f} {f['recall@1']:>6.3f} "
                f"{f['recall@5']:>6.3f} {f['tokens_needed_median']:>8} "
                f"{f['tokens_needed_mean']:>8}"
            )
    print(f"ranking time: {result['ranking_ms_per_case']} ms per case (index built once per tree)")


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--trees", type=Path, default=DEFAULT_TREES)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(load_cases(args.cases), args.trees)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
