"""Source maps in V8's coverage: where the code that ran came from in the file on disk.

With `NODE_V8_COVERAGE` set, Node keeps the source map of every module that names one (tsx and
ts-node attach theirs inline) under the coverage file's `source-map-cache`, keyed by the
module's URL: `{lineLengths, data: {version: 3, sources, mappings}}`. `lineLengths` are the
transpiled code's lines in UTF-16 code units, so a V8 offset is a (line, column) of it, and the
map's segments say which line of the original each position came from (Source Map v3: base64
VLQ, fields relative to the previous segment). Untrusted input: anything that does not fit is
refused (None), never guessed.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

_BASE64 = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)}  # fmt: skip
MAX_MAPPINGS = 20_000_000


def _vlq(segment: str) -> list[int] | None:
    """The numbers of one segment, or None when it is not base64 VLQ."""
    values: list[int] = []
    value = shift = 0
    for char in segment:
        digit = _BASE64.get(char)
        if digit is None or shift > 60:
            return None
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    return values if shift == 0 else None


def _source_index(sources: list[object], path: str) -> int | None:
    """Which of the map's sources is the file at `path`."""
    for index, source in enumerate(sources):
        if not isinstance(source, str):
            continue
        where = unquote(urlparse(source).path) if source.startswith("file:") else source
        if where == path or (os.path.isabs(where) and os.path.realpath(where) == path):
            return index
    return 0 if len(sources) == 1 else None


def original_offsets(entry: object, path: str, generated: int) -> dict[int, list[int]] | None:
    """Original line (1-based) -> offsets in the transpiled code of the segments mapped to it,
    from a `source-map-cache` entry whose code is `generated` units long; None when the entry is
    not a source map of the file at `path` that fits that code."""
    data = entry.get("data") if isinstance(entry, dict) else None
    lengths = entry.get("lineLengths") if isinstance(entry, dict) else None
    if not isinstance(data, dict) or not isinstance(lengths, list):
        return None
    mappings, sources = data.get("mappings"), data.get("sources")
    if not isinstance(mappings, str) or not isinstance(sources, list):
        return None
    if len(mappings) > MAX_MAPPINGS or data.get("version") != 3:
        return None
    if not all(isinstance(n, int) and n >= 0 for n in lengths):
        return None
    if sum(lengths) + len(lengths) - 1 != generated:
        return None  # the map is of other code than what ran
    wanted = _source_index(sources, path)
    if wanted is None:
        return None
    found: dict[int, list[int]] = {}
    start = 0  # the offset where the generated line begins
    source = line = 0  # relative fields carry across lines
    for number, text in enumerate(mappings.split(";")):
        if number >= len(lengths):
            return None
        column = 0
        for segment in filter(None, text.split(",")):
            fields = _vlq(segment)
            if fields is None or len(fields) not in (1, 4, 5):
                return None
            column += fields[0]
            if len(fields) == 1:
                continue
            source, line = source + fields[1], line + fields[2]
            if source == wanted and 0 <= column < lengths[number] and line >= 0:
                found.setdefault(line + 1, []).append(start + column)
        start += lengths[number] + 1
    return found
