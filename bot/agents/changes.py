"""What a diff changed: added lines per file, and the Python functions and methods they touch."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<len>\d+))? @@(?P<context>.*)$")


@dataclass(frozen=True)
class ChangedSymbol:
    """A function, method or class whose lines the diff touched (or a hunk, for non-Python)."""

    path: str
    name: str
    kind: str
    start: int
    end: int


def added_lines(diff: str) -> dict[str, set[int]]:
    """New-file line numbers of the added lines, per file, from a unified diff."""
    result: dict[str, set[int]] = {}
    path: str | None = None
    line = 0
    for raw in diff.splitlines():
        if raw.startswith("+++ "):
            target = raw[4:].strip()
            path = None if target == "/dev/null" else target.removeprefix("b/")
            continue
        match = _HUNK.match(raw)
        if match:
            line = int(match.group("start"))
            continue
        if path is None or raw.startswith(("--- ", "diff ", "index ")):
            continue
        if raw.startswith("+"):
            result.setdefault(path, set()).add(line)
            line += 1
        elif raw.startswith("-"):
            continue
        elif raw.startswith(" "):
            line += 1
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
