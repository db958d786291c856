"""What a diff changed: the added lines per file, and the Python functions and methods they touch.

The one reader of unified diffs: `added` walks the hunks counting both sides, so a `+++` or `---`
inside a hunk is content, not a header; git's quoted paths are undone.
"""

from __future__ import annotations

import ast
import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HUNK = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+(?P<start>\d+)(?:,(?P<len>\d+))? @@")


@dataclass(frozen=True)
class ChangedSymbol:
    """A function, method or class whose lines the diff touched (or a hunk, for non-Python)."""

    path: str
    name: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class AddedLine:
    """One added line of a diff: its file, its new-file line number and its text."""

    path: str
    number: int
    text: str


def diff_path(raw: str) -> str:
    """A path from a `+++` line: git's C-style quoting undone, `b/` prefix and timestamp cut."""
    raw = raw.split("\t", 1)[0].rstrip("\n")
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        unescaped, _ = codecs.escape_decode(raw[1:-1].encode("utf-8"))
        raw = unescaped.decode("utf-8", "replace")
    return raw[2:] if raw.startswith(("b/", "a/")) else raw


def added(diff: str) -> Iterator[AddedLine]:
    """Every added line of a unified diff, in order (deleted files add nothing)."""
    path: str | None = None
    old_left = new_left = number = 0
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            tag, body = line[:1], line[1:]
            if tag == "+":
                if path is not None:
                    yield AddedLine(path, number, body)
                number += 1
                new_left -= 1
            elif tag == "-":
                old_left -= 1
            elif tag == " " or line == "":
                number += 1
                old_left -= 1
                new_left -= 1
            continue  # "\ No newline at end of file"
        if line.startswith("+++ "):
            target = diff_path(line[4:])
            path = None if target == "/dev/null" else target
        elif (hunk := _HUNK.match(line)) is not None:
            old_left = int(hunk.group("old")) if hunk.group("old") is not None else 1
            number = int(hunk.group("start"))
            new_left = int(hunk.group("len")) if hunk.group("len") is not None else 1


def added_lines(diff: str) -> dict[str, set[int]]:
    """New-file line numbers of the added lines, per file, from a unified diff."""
    result: dict[str, set[int]] = {}
    for line in added(diff):
        result.setdefault(line.path, set()).add(line.number)
    return result


def python_symbols(path: str, source: str, lines: set[int]) -> list[ChangedSymbol]:
    """The functions, methods and classes of one Python source that contain `lines`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[ChangedSymbol] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                end = child.end_lineno or child.lineno
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                inner_before = len(found)
                visit(child, f"{name}.")
                touched = any(start <= n <= end for n in lines)
                is_function = not isinstance(child, ast.ClassDef)
                # A class counts only when no method inside it accounts for the change.
                if touched and (is_function or len(found) == inner_before):
                    kind = "class" if not is_function else ("method" if prefix else "function")
                    found.append(ChangedSymbol(path, name, kind, start, end))

    visit(tree, "")
    return sorted(found, key=lambda s: s.start)


def changed_symbols(root: Path, diff: str) -> list[ChangedSymbol]:
    """The changed Python functions/methods (ast), and for other files the changed hunks."""
    symbols: list[ChangedSymbol] = []
    for path, lines in sorted(added_lines(diff).items()):
        file = root / path
        if path.endswith(".py") and file.is_file():
            found = python_symbols(path, file.read_text(errors="replace"), lines)
            if found:
                symbols.extend(found)
                continue
        ordered = sorted(lines)
        start = ordered[0]
        previous = start
        for number in ordered[1:] + [None]:
            if number is None or number > previous + 1:
                symbols.append(
                    ChangedSymbol(path, f"lines {start}-{previous}", "hunk", start, previous)
                )
                if number is not None:
                    start = number
            if number is not None:
                previous = number
    return symbols
