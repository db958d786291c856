"""Finds the files a change needs: repository map, files named in the request, BM25 ranking."""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "vendor",
        "vendored",
        "third_party",
        "venv",
        ".venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".eggs",
        "dist",
        "build",
        ".idea",
        ".vscode",
        "coverage",
        "htmlcov",
    }
)
BINARY_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".ico",
        ".bmp",
        ".webp",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".tar",
        ".whl",
        ".so",
        ".dll",
        ".dylib",
        ".exe",
        ".pyc",
        ".pyo",
        ".class",
        ".jar",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp3",
        ".mp4",
        ".mov",
        ".bin",
        ".db",
        ".sqlite",
        ".pkl",
        ".npy",
        ".parquet",
    }
)
MAX_FILE_BYTES = 400_000
PATH_WEIGHT = 3  # a path token counts like this many occurrences in the text
K1, B = 1.2, 0.75
_STOP_TEXT = (
    "a an and are as at be by can do does for from has have if in into is it its not of on or "
    "so that the their then there these this to was we when where which while will with you "
    "should would could also but only than them they use used using make new now all any"
)
STOPWORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_PATHLIKE = re.compile(r"[\w./-]*\w\.[A-Za-z0-9]{1,8}\b")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")


def estimate_tokens(text: str) -> int:
    """A model-agnostic token estimate: about four characters per token."""
    return (len(text) + 3) // 4


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokenize(text: str) -> Iterator[str]:
    """Lowercase terms of `text`: identifiers split on camelCase and snake_case, plus the whole."""
    for word in _WORD.findall(text):
        parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
        for part in parts:
            if len(part) > 1 and part not in STOPWORDS:
                yield _stem(part)
        if len(parts) > 1:
            yield word.lower()


def _is_text_candidate(path: Path, rel: str) -> bool:
    parts = rel.split("/")
    if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
        return False
    if path.suffix.lower() in BINARY_SUFFIXES or path.is_symlink() or not path.is_file():
        return False
    return path.stat().st_size <= MAX_FILE_BYTES


def source_files(root: Path) -> list[str]:
    """Text files worth ranking (tracked ones in a git repo), without vendored dirs or binaries."""
    root = root.resolve()
    if (root / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        candidates: Iterable[str] = (p for p in out.split("\x00") if p)
    else:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            base = Path(dirpath).relative_to(root)
            found.extend((base / name).as_posix() for name in filenames)
        candidates = found
    result = []
    for rel in sorted(set(candidates)):
        full = root / rel
        if _is_text_candidate(full, rel) and b"\x00" not in full.read_bytes()[:8192]:
            result.append(rel)
    return result


@dataclass(frozen=True)
class RankedFile:
    """A file and why it ranks where it does ('named' in the request, or a BM25 score)."""

    path: str
    score: float
    reason: str


@dataclass
class LexicalIndex:
    """BM25 over path tokens and contents of a tree's text files; build once, rank many times."""

    root: Path
    files: list[str]
    sizes: dict[str, int]
    term_freqs: list[Counter[str]]
    doc_lens: list[int]
    doc_freq: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, root: Path, files: list[str] | None = None) -> LexicalIndex:
        """Index `files` (default: `source_files(root)`)."""
        root = root.resolve()
        paths = source_files(root) if files is None else files
        term_freqs: list[Counter[str]] = []
        sizes: dict[str, int] = {}
        doc_freq: Counter[str] = Counter()
        for rel in paths:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
            sizes[rel] = len(text)
            counts = Counter(tokenize(text))
            for term in tokenize(rel.replace("/", " ").replace(".", " ")):
                counts[term] += PATH_WEIGHT
            term_freqs.append(counts)
            doc_freq.update(counts.keys())
        lens = [sum(c.values()) for c in term_freqs]
        return cls(root, list(paths), sizes, term_freqs, lens, doc_freq)

    def bm25(self, request: str) -> list[RankedFile]:
        """Every file with its BM25 score for `request`, best first (ties by path)."""
        terms = set(tokenize(request))
        n = len(self.files)
        avg = (sum(self.doc_lens) / n) if n else 0.0
        idf = {
            t: math.log(1 + (n - self.doc_freq[t] + 0.5) / (self.doc_freq[t] + 0.5))
            for t in terms
            if self.doc_freq[t]
        }
        scored = []
        for rel, counts, length in zip(self.files, self.term_freqs, self.doc_lens, strict=True):
            score = 0.0
            norm = K1 * (1 - B + B * length / avg) if avg else K1
            for term, weight in idf.items():
                tf = counts.get(term, 0)
                if tf:
                    score += weight * tf * (K1 + 1) / (tf + norm)
            scored.append(RankedFile(rel, score, "bm25"))
        scored.sort(key=lambda r: (-r.score, r.path))
        return scored

    def rank(self, request: str, limit: int | None = None) -> list[RankedFile]:
        """Files named in the request first (in order of mention), then the BM25 ranking."""
        named = named_files(request, self.files)
        ranked = [RankedFile(p, math.inf, "named") for p in named]
        ranked += [r for r in self.bm25(request) if r.path not in set(named)]
        return ranked if limit is None else ranked[:limit]


def named_files(request: str, files: list[str]) -> list[str]:
    """Files the request names by path, file name or dotted module (`pkg.mod.Class`)."""
    found: list[str] = []

    def add(matches: list[str]) -> None:
        for match in matches[:3]:
            if match not in found:
                found.append(match)

    for raw in _mentions(request):
        if "/" in raw or re.search(r"\.[A-Za-z0-9]{1,8}$", raw):
            mention = raw.removeprefix("./").lstrip("/")
            add([f for f in files if f == mention or f.endswith("/" + mention)])
        parts = raw.split(".")
        if "/" not in raw and len(parts) >= 2:
            for i in range(len(parts), 1, -1):
                stem = "/".join(parts[:i])
                module = [
                    f
                    for f in files
                    if f.endswith((f"{stem}.py", f"{stem}.pyi", f"{stem}/__init__.py"))
                    and (f.startswith(stem) or f"/{stem}" in f)
                ]
                if module:
                    add(module)
                    break
    return found


def _mentions(request: str) -> list[str]:
    seen: list[str] = []
    for match in [*_PATHLIKE.findall(request), *_DOTTED.findall(request)]:
        if match not in seen:
            seen.append(match)
    order = {m: request.find(m) for m in seen}
    return sorted(seen, key=lambda m: order[m])


def rank_files(root: Path, request: str, *, limit: int = 20) -> list[RankedFile]:
    """The `limit` files most relevant to `request` in the tree at `root`."""
    return LexicalIndex.build(root).rank(request, limit)


def repo_map(root: Path, max_chars: int = 4000, files: list[str] | None = None) -> str:
    """An indented tree of the repository's text files; deep folders collapse to fit `max_chars`."""
    paths = source_files(root) if files is None else files
    deepest = max((p.count("/") + 1 for p in paths), default=1)
    for depth in range(deepest, 0, -1):
        text = "\n".join(_tree_lines(paths, depth))
        if len(text) <= max_chars:
            return text
    cut = text[: max(0, max_chars - 40)].rsplit("\n", 1)[0]
    return f"{cut}\n... ({len(paths)} files in all)"


def _tree_lines(paths: list[str], max_depth: int) -> Iterator[str]:
    """Tree lines; a folder at `max_depth` shows as `name/ (N files)` instead of its contents."""
    collapsed: Counter[str] = Counter()
    for path in paths:
        parts = path.split("/")
        if len(parts) > max_depth:
            collapsed["/".join(parts[:max_depth])] += 1
    shown: set[str] = set()
    for path in sorted(paths):
        parts = path.split("/")
        for depth in range(min(len(parts) - 1, max_depth)):
            directory = "/".join(parts[: depth + 1])
            if directory not in shown:
                shown.add(directory)
                count = collapsed.get(directory)
                suffix = f" ({count} files)" if count and depth + 1 == max_depth else ""
                yield "  " * depth + parts[depth] + "/" + suffix
        if len(parts) <= max_depth:
            yield "  " * (len(parts) - 1) + parts[-1]


@dataclass(frozen=True)
class ContextFile:
    """A file given to a model, whole unless `truncated`."""

    path: str
    content: str
    tokens: int
    reason: str
    truncated: bool = False


@dataclass
class Context:
    """What the planner or coder sees: the repository map and the chosen files, within budget."""

    repo_map: str
    files: list[ContextFile]
    budget: int
    omitted: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Estimated tokens of the map plus the files."""
        return estimate_tokens(self.repo_map) + sum(f.tokens for f in self.files)

    def render(self) -> str:
        """The context as prompt text."""
        out = ["## Repository map", self.repo_map]
        for f in self.files:
            note = " (truncated)" if f.truncated else ""
            out += [f"## File: {f.path}{note}", "```", f.content, "```"]
        if self.omitted:
            out += ["## Also relevant (not shown, over budget)", *self.omitted]
        return "\n".join(out)


def select_context(
    root: Path, request: str, token_budget: int, *, map_share: float = 0.15, limit: int = 40
) -> Context:
    """Repository map plus the best-ranked whole files that fit `token_budget` tokens."""
    index = LexicalIndex.build(root)
    tree = repo_map(root, max_chars=max(200, int(token_budget * map_share) * 4), files=index.files)
    left = token_budget - estimate_tokens(tree)
    chosen: list[ContextFile] = []
    omitted: list[str] = []
    for ranked in index.rank(request, limit):
        if ranked.reason == "bm25" and ranked.score <= 0:
            break
        text = (index.root / ranked.path).read_text(encoding="utf-8", errors="replace")
        cost = estimate_tokens(text) + estimate_tokens(ranked.path) + 4
        if cost <= left:
            chosen.append(ContextFile(ranked.path, text, cost, ranked.reason))
            left -= cost
        elif ranked.reason == "named" and left > 256:
            head = text[: (left - 64) * 4]
            chosen.append(ContextFile(ranked.path, head, left - 60, "named", truncated=True))
            left = 60
        else:
            omitted.append(ranked.path)
    return Context(tree, chosen, token_budget, omitted)
