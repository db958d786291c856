"""Which lines of a JavaScript/TypeScript source ran, from V8's coverage or istanbul's JSON.

Both come out of the sandbox: they are read as untrusted JSON (wrong types are skipped, never
trusted), and a source is only mapped when the data fits it.

V8 (`NODE_V8_COVERAGE`, one JSON file per process): `result[]` holds one script per `url`, its
`functions[].ranges[]` `{startOffset, endOffset, count}` in UTF-16 code units of the source as
loaded. Block ranges nest, and the innermost range covering an offset decides its count. The
script's own top-level function spans the whole source: its end is the loaded source's length,
which tells whether the file on disk is what ran (Node 20 keeps a CommonJS file's byte-order
mark in the offsets and drops an ES module's). A transpiled file (TypeScript under tsx or
ts-node) is not what is on disk: its offsets go back to the file's lines through the source map
Node kept of it (bot.analysis.source_maps), or it is not mapped.

istanbul (`coverage-final.json`, jest's and vitest's `json` reporter): per file a `statementMap`
of `{start: {line}, end: {line}}` and `s` counts, already mapped back to the original source
(TypeScript through its source maps); the innermost statement covering a line decides.

A line is executable when it holds code (not blank, not only a comment). Its state:
- `called`: executed inside a function, so by a test calling the code;
- `loaded`: module-level code that ran when the file was loaded (`const LIMIT = 5`): a test may
  depend on it without calling anything (bot.analysis.coverage's `at_import`);
- `declared`: a line of declaration only that runs at load (`export function f(` of a function
  never called is `missed`; `module.exports = {…}`, `import …`, a `class X {` header, a closing
  brace): executed, but it says nothing about a test;
- `missed`: not executed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any

from bot.analysis.source_maps import original_offsets

MAX_SOURCE_UNITS = 2_000_000
"""Sources longer than this (UTF-16 code units) are not mapped."""

_DECLARATION = re.compile(
    r"""^(?:
        [\s{}()\[\];,]*                                 # punctuation only
      | (?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\b.*  # a class header
      | (?:module\.)?exports(?:\.[\w$]+)?\s*=.*         # CommonJS exports
      | export\s*[{*].*                                 # export lists, re-exports
      | export\s+default\s+[\w$.]+;?                    # export default name
      | import\b.*                                      # imports
      | (?:const|let|var)\s+[^=]+=\s*require\(.*        # requires
      | [\w$]+,?                                        # a name in an exports list
      | ['"]use\ strict['"];?
    )$""",
    re.VERBOSE,
)


class LineState(IntEnum):
    """What ran on one executable line; merging runs keeps the highest."""

    missed = 0
    declared = 1
    loaded = 2
    called = 3


class SourceMismatch(ValueError):
    """The coverage data does not describe the source on disk (it was transpiled)."""


def merge(into: dict[int, LineState], other: Mapping[int, LineState]) -> None:
    """Fold another run's lines of the same file into `into`."""
    for line, state in other.items():
        into[line] = max(into.get(line, LineState.missed), state)


_TYPE_DECLARATION = re.compile(
    r"^(?:export\s+)?(?:declare\s+)?(?:interface\b|type\s+[\w$]+\b[^=]*=)"
)


def _code_lines(source: str) -> list[tuple[int, str, list[int]]]:
    """(line number, text, UTF-16 offsets of its code characters) for every line with code:
    blank lines, lines of comments only and TypeScript's `interface`/`type` declarations (no
    code runs for them) are left out; a comment after code is kept."""
    found: list[tuple[int, str, list[int]]] = []
    offset, in_comment, depth = 0, False, -1  # depth: of the brackets of a type, -1 outside one
    for number, text in enumerate(source.split("\n"), start=1):
        stripped = text.strip().lstrip("\ufeff")
        skip = in_comment or stripped.startswith("//")
        if in_comment or stripped.startswith("/*"):
            in_comment = "*/" not in stripped
            skip = skip or in_comment or stripped.endswith("*/")
        elif depth < 0 and _TYPE_DECLARATION.match(stripped):
            depth = 0
        if depth >= 0 and not skip:  # a type: until its brackets close and it ends
            depth += sum(stripped.count(c) for c in "{([") - sum(stripped.count(c) for c in "})]")
            done = depth <= 0 and (stripped.endswith((";", "}")) or not stripped.endswith("="))
            depth, skip = (-1 if done else depth), True
        units: list[int] = []
        unit = offset
        for char in text:
            if not char.isspace() and char != "\ufeff":
                units.append(unit)
            unit += 2 if ord(char) > 0xFFFF else 1
        if units and not skip:
            found.append((number, text, units))
        offset = unit + 1  # the newline
    return found


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def v8_lines(
    source: str, functions: object, source_map: object = None, path: str = ""
) -> dict[int, LineState]:
    """The state of every executable line of `source` from one script's V8 `functions`; code
    transpiled from it (TypeScript through tsx or ts-node) is mapped back through its
    `source-map-cache` entry (`source_map`, of the file at absolute `path`)."""
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in source)
    if units > MAX_SOURCE_UNITS:
        raise SourceMismatch(f"the source is over {MAX_SOURCE_UNITS} characters")
    count, top_level, top_end = _paint(functions)
    code = _code_lines(source)
    bom = top_end == units - 1 and source.startswith("\ufeff")
    if top_end == units or bom:  # the file itself ran
        shift = 1 if bom else 0  # an ES module is loaded without its byte-order mark
        at = {n: [o - shift for o in offsets if 0 <= o - shift < top_end]
              for n, _text, offsets in code}  # fmt: skip
    else:
        mapped = original_offsets(source_map, path, top_end) if source_map is not None else None
        if mapped is None:
            raise SourceMismatch(f"the code that ran is {top_end} characters, the file {units}")
        at = {n: [o for o in mapped.get(n, []) if o < top_end] for n, _text, _o in code}
    states: dict[int, LineState] = {}
    for number, text, _offsets in code:
        if not at[number]:
            continue
        inside = [o for o in at[number] if not top_level[o]]
        if inside:
            called = any(count[o] > 0 for o in inside)
            states[number] = LineState.called if called else LineState.missed
        elif not any(count[o] > 0 for o in at[number]):
            states[number] = LineState.missed
        elif _DECLARATION.match(text.strip()):
            states[number] = LineState.declared
        else:
            states[number] = LineState.loaded
    return states


def _paint(functions: object) -> tuple[list[int], list[bool], int]:
    """Each offset's count and whether the script's own top level holds it (the innermost range
    covering it decides), and the length of the code that ran (its top-level function's end)."""
    per_function: list[list[tuple[int, int, int]]] = []
    for function in functions if isinstance(functions, list) else []:
        listed = function.get("ranges") if isinstance(function, dict) else None
        spans = [
            (s, e, c)
            for r in (listed if isinstance(listed, list) else [])
            if isinstance(r, dict)
            for s, e, c in [
                (_int(r.get("startOffset")), _int(r.get("endOffset")), _int(r.get("count")))
            ]  # fmt: skip
            if s is not None and e is not None and c is not None and 0 <= s <= e
        ]
        if spans:
            per_function.append(spans)
    top_end = max((f[0][1] for f in per_function if f[0][0] == 0), default=-1)
    if top_end < 0:
        raise SourceMismatch("no top-level function in the coverage data")
    if top_end > MAX_SOURCE_UNITS:
        raise SourceMismatch(f"the code that ran is over {MAX_SOURCE_UNITS} characters")
    ranges = [(s, min(e, top_end), c, f[0] == (0, top_end, f[0][2])) for f in per_function
              for s, e, c in f]  # fmt: skip
    count = [0] * (top_end + 1)
    top_level = [True] * (top_end + 1)
    for start, end, hits, top in sorted(ranges, key=lambda r: r[0] - r[1]):  # widest first
        count[start:end] = [hits] * (end - start)
        top_level[start:end] = [top] * (end - start)
    return count, top_level, top_end


def v8_scripts(data: object) -> dict[str, object]:
    """`url -> functions` of one V8 coverage file (untrusted JSON, already parsed)."""
    result = data.get("result") if isinstance(data, dict) else None
    return {
        entry["url"]: entry.get("functions")
        for entry in (result if isinstance(result, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("url"), str)
    }


def istanbul_lines(source: str, entry: object) -> dict[int, LineState]:
    """The state of every executable line of `source` from its istanbul entry (statementMap and
    `s` counts; `fnMap` and `f` say which lines are inside which function, and whether it ran:
    vitest's mapping counts an uncalled function's `export function f(` line as run)."""
    if not isinstance(entry, dict):
        raise SourceMismatch("not an istanbul file entry")
    code = {number: text for number, text, _offsets in _code_lines(source)}
    first_code, last_code = min(code, default=0), max(code, default=0)
    fn_map = entry.get("fnMap")
    declared: dict[str, object] = fn_map if isinstance(fn_map, dict) else {}
    functions = [  # not a CommonJS module's wrapper (jest's `Object.<anonymous>`): all the file
        (first, last, hits)
        for name, (first, last, hits) in _counted(entry, "fnMap", "f", "loc").items()
        if not (first <= first_code and last >= last_code and _wrapper(declared.get(name)))
    ]
    best: dict[int, tuple[int, int]] = {}  # line -> (span, count) of its innermost statement
    for first, last, hits in _counted(entry, "statementMap", "s").values():
        for line in range(first, min(last, last_code) + 1):
            if line in code and (line not in best or last - first < best[line][0]):
                best[line] = (last - first, hits)
    states: dict[int, LineState] = {}
    for line, (_span, hits) in best.items():
        around = [(last - first, ran) for first, last, ran in functions if first <= line <= last]
        if around:  # inside a function: run only if the innermost one was called
            called = hits > 0 and min(around)[1] > 0
            states[line] = LineState.called if called else LineState.missed
        elif hits <= 0:
            states[line] = LineState.missed
        elif _DECLARATION.match(code[line].strip()):
            states[line] = LineState.declared
        else:
            states[line] = LineState.loaded
    return states


def _wrapper(function: object) -> bool:
    """Whether an istanbul function is the module wrapper V8 names `Object.<anonymous>`."""
    return isinstance(function, dict) and function.get("name") == "Object.<anonymous>"


def _counted(
    entry: dict[str, Any], spans: str, counts: str, key: str = ""
) -> dict[str, tuple[int, int, int]]:
    """id -> (first line, last line, count) of each statement or function an entry counts."""
    hits = entry.get(counts)
    found = {}
    for name, (first, last) in _spans(entry.get(spans), key).items():
        count = _int(hits.get(name)) if isinstance(hits, dict) else None
        if count is not None:
            found[name] = (first, last, count)
    return found


def _spans(value: object, key: str = "") -> dict[str, tuple[int, int]]:
    """`id -> (first line, last line)` of an istanbul statementMap or fnMap (`key`: "loc")."""
    spans: dict[str, tuple[int, int]] = {}
    for name, item in value.items() if isinstance(value, dict) else []:
        where = item.get(key) if key and isinstance(item, dict) else item
        if not isinstance(where, dict):
            continue
        start, end = where.get("start"), where.get("end")
        first = _int(start.get("line")) if isinstance(start, dict) else None
        last = _int(end.get("line")) if isinstance(end, dict) else None
        if first is not None and last is not None and 0 < first <= last:
            spans[str(name)] = (first, last)
    return spans


def executed_lines(states: Mapping[int, LineState]) -> Sequence[int]:
    """The executed lines of a file's states, in order."""
    return sorted(n for n, s in states.items() if s is not LineState.missed)


def as_json_object(data: object) -> dict[str, Any]:
    """`data` when it is a JSON object, else an empty one."""
    return data if isinstance(data, dict) else {}
