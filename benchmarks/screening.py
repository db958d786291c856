"""Injection screening on real text and on the hostile corpus: false flags and misses.

Usage: .venv/bin/python benchmarks/screening.py GIT_DIR [GIT_DIR ...] [--json]

Each GIT_DIR is a git repository (a bare mirror is fine: files are read from HEAD with
`git cat-file`, nothing is checked out). Every documentation and source file at HEAD is screened
exactly as the planner screens a file it reads (`bot.security.screening.screen_file`: prose for
every pattern, code for those addressed to a model). Real projects' text should raise no flag;
every case of `tests/fixtures/screening/hostile.jsonl` must be flagged with its pattern.
Prints, per project, files and bytes screened, files flagged and each flag, then the corpus rate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.security.screening import screen_file  # noqa: E402

CORPUS = REPO_ROOT / "tests" / "fixtures" / "screening" / "hostile.jsonl"
SUFFIXES = (
    ".md", ".markdown", ".rst", ".txt", ".adoc", ".py", ".pyi", ".js", ".ts", ".toml", ".cfg",
    ".ini", ".yml", ".yaml", ".json", ".sh", ".html",
)  # fmt: skip
MAX_BYTES = 1_000_000


def files_at_head(git_dir: Path) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [p for p in out.splitlines() if p.lower().endswith(SUFFIXES) or "." not in p]


def read_blobs(git_dir: Path, paths: list[str]) -> dict[str, str]:
    """The text of each path at HEAD (binary and oversize files left out)."""
    batch = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        input="".join(f"HEAD:{p}\n" for p in paths).encode(),
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    texts: dict[str, str] = {}
    offset = 0
    for path in paths:
        header_end = batch.index(b"\n", offset)
        header = batch[offset:header_end].split()
        offset = header_end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        data = batch[offset : offset + size]
        offset += size + 1
        if size > MAX_BYTES or b"\0" in data[:8000]:
            continue
        texts[path] = data.decode("utf-8", "replace")
    return texts


def project(git_dir: Path) -> dict[str, object]:
    texts = read_blobs(git_dir, files_at_head(git_dir))
    started = time.perf_counter()
    flags = [
        {"file": path, "pattern": f.pattern, "source": f.source, "excerpt": f.excerpt}
        for path, text in sorted(texts.items())
        for f in screen_file(path, text, source=f"file {path}")
    ]
    elapsed = time.perf_counter() - started
    docs = [p for p in texts if p.lower().endswith((".md", ".markdown", ".rst", ".txt"))]
    return {
        "project": git_dir.parent.name if git_dir.name in ("repo", ".git") else git_dir.name,
        "files": len(texts),
        "documentation files": len(docs),
        "bytes": sum(len(t) for t in texts.values()),
        "files flagged": len({f["file"] for f in flags}),
        "flags": flags,
        "seconds": round(elapsed, 2),
    }


def corpus() -> dict[str, object]:
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    missed = []
    by_where: Counter[str] = Counter()
    for case in cases:
        found = {f.pattern for f in screen_file(case["path"], case["text"], source="corpus")}
        if case["pattern"] not in found:
            missed.append(case)
        by_where[case["where"]] += 1
    return {"cases": len(cases), "flagged": len(cases) - len(missed), "missed": missed,
            "by place": dict(by_where)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dirs", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    projects = [project(d) for d in args.git_dirs]
    hostile = corpus()
    if args.json:
        print(json.dumps({"projects": projects, "corpus": hostile}, indent=2))
        return
    for p in projects:
        print(
            f"{p['project']:<12} {p['files']:>5} files ({p['documentation files']} docs, "
            f"{int(p['bytes']) / 1e6:.1f} MB) in {p['seconds']} s: "  # type: ignore[call-overload]
            f"{p['files flagged']} files flagged"
        )
        for f in p["flags"]:  # type: ignore[attr-defined]
            print(f"    {f['pattern']:<18} {f['source']}: {f['excerpt']}")
    total = sum(int(p["files"]) for p in projects)  # type: ignore[call-overload]
    flagged = sum(int(p["files flagged"]) for p in projects)  # type: ignore[call-overload]
    print(f"real text: {flagged} of {total} files flagged ({flagged / max(total, 1):.2%})")
    print(
        f"hostile corpus: {hostile['flagged']} of {hostile['cases']} flagged "
        f"({int(hostile['flagged']) / int(hostile['cases']):.1%}); by place {hostile['by place']}"  # type: ignore[call-overload]
    )
    for case in hostile["missed"]:  # type: ignore[attr-defined]
        print(f"    missed {case['pattern']} in {case['where']}: {case['text'][:80]!r}")


if __name__ == "__main__":
    main()
