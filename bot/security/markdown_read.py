"""Reading Markdown as GitHub renders it (CommonMark, through markdown-it-py's own parser).

The hidden-text stripper (`bot.security.hidden`) and the inert renderer (`bot.github.markdown`)
both rewrite text in place, so they need character positions. The parser gives only line ranges
of blocks; `code_spans` finds where its inline code spans lie in the text (its backtick rule is
wrapped to record each span's place in the block's inline text, which is then located within the
block's lines). For fences the two share CommonMark's rule from here: `fence_of` and
`fence_closer`.

Two questions are asked of Markdown written by people: which lines are code (fenced and
indented blocks, for screening documentation as prose and code apart), and which words are the
author's own (outside block quotes, code and HTML, for a mention of the App in a comment: quoting
someone who mentioned it, or showing the command in code, must not start a run).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_inline.backticks import backtick
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token

_NEWLINE = re.compile(r"\r\n?|\n")  # as markdown-it normalises them
_CLOSING = re.compile(r"[ \t]+#+[ \t]*$")  # an ATX heading's closing sequence


def _located_backtick(state: StateInline, silent: bool) -> bool:
    """markdown-it's own backtick rule, noting where each code span it makes lies in the
    inline text (`meta["at"]`: start and end offsets, backticks included)."""
    start, made = state.pos, len(state.tokens)
    if not backtick(state, silent):
        return False
    if not silent and len(state.tokens) > made and state.tokens[-1].type == "code_inline":
        state.tokens[-1].meta["at"] = (start, state.pos)
    return True


_PARSER = MarkdownIt("commonmark")
_PARSER.inline.ruler.at("backticks", _located_backtick)
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})([^\n]*)")

Fence = tuple[str, int]
"""An open fence: its character (` or ~) and its length."""


def fence_of(line: str) -> Fence | None:
    """The fence `line` opens, as CommonMark reads one: up to three spaces of indent, then three
    or more backticks or tildes; a backtick fence's info string holds no backtick (such a line
    is an inline code span)."""
    opened = _FENCE_OPEN.match(line)
    if opened is None or (opened.group(1)[0] == "`" and "`" in opened.group(2)):
        return None
    return opened.group(1)[0], len(opened.group(1))


def fence_closer(fence: Fence) -> re.Pattern[str]:
    """The line that closes `fence`: up to three spaces, at least as many of its character,
    nothing after them but spaces (a multi-line pattern: `search` finds it in a text)."""
    char, length = fence
    return re.compile(rf"^ {{0,3}}{re.escape(char)}{{{length},}}[ \t]*\r?$", re.MULTILINE)


@dataclass(frozen=True)
class CodeSpan:
    """An inline code span of a text: `text[start:end]`, opened and closed by `ticks` backticks."""

    start: int
    end: int
    ticks: int

    def content(self, text: str) -> str:
        """What the span holds between its backticks, as written."""
        return text[self.start + self.ticks : self.end - self.ticks]


def code_spans(text: str) -> list[CodeSpan]:
    """The inline code spans of `text` as CommonMark reads them, in order.

    Backticks in code blocks, in HTML and in image descriptions open no span; a backtick run
    closes only a run of its own length, and a run left unclosed is text. A span is returned
    only where the text shows its backticks; one the block's lines would not place (no such
    block is known) is left out, and callers then treat its backticks as text: erring towards
    escaping or stripping, never towards keeping.
    """
    breaks = list(_NEWLINE.finditer(text))
    starts = [0] + [m.end() for m in breaks]
    lines = [text[a : b.start()] for a, b in zip(starts, breaks, strict=False)] + [
        text[starts[-1] :]
    ]
    spans: list[CodeSpan] = []
    for token in _PARSER.parse(text):
        found = [c for c in token.children or [] if c.type == "code_inline" and "at" in c.meta]
        if token.type != "inline" or token.map is None or not found:
            continue
        block = slice(token.map[0], token.map[1])
        places = _line_places(token.content, lines[block], starts[block])
        breaks_in = [m.start() for m in re.finditer("\n", token.content)]
        for child in found:
            start, end = child.meta["at"]
            first = _offset(start, breaks_in, places)
            last = _offset(end - 1, breaks_in, places)
            if first is None or last is None:
                continue
            span = CodeSpan(first, last + 1, len(child.markup))
            opens, closes = text[first : first + span.ticks], text[span.end - span.ticks : span.end]
            if opens == closes == child.markup:
                spans.append(span)
    return spans


def _line_places(content: str, lines: list[str], starts: list[int]) -> list[int | None]:
    """For each line of a block's inline text, the offset in the text that its first character
    would have: a line of inline text is its source line less the block's markers in front
    (`> `, `- `, `# `), less an ATX heading's closing `#`s, and less spaces and tabs at either
    end (a tab half taken by indentation comes back as spaces in front, not in the source)."""
    places: list[int | None] = []
    for number, line in enumerate(content.split("\n")):
        if number >= len(lines):
            places.append(None)
            continue
        source, core = lines[number], line.strip(" \t")
        lead = len(line) - len(line.lstrip(" \t"))
        kept = source.rstrip(" \t")
        if not kept.endswith(core):
            kept = _CLOSING.sub("", source)
        column = len(kept) - len(core)
        places.append(starts[number] + column - lead if kept.endswith(core) else None)
    return places


def _offset(position: int, breaks: list[int], places: list[int | None]) -> int | None:
    """Where `position` of a block's inline text (its line breaks at `breaks`) lies in the
    text (None: not known)."""
    number = bisect_left(breaks, position)
    place = places[number]
    if place is None:
        return None
    return place + position - (breaks[number - 1] + 1 if number else 0)


def code_blocks(text: str) -> tuple[list[bool], list[str]]:
    """For each line of `text`, whether it is in a code block; and each block's content."""
    lines = text.splitlines()
    inside = [False] * len(lines)
    contents: list[str] = []
    for token in _PARSER.parse(text):
        if token.type in ("fence", "code_block") and token.map is not None:
            start, end = token.map
            for number in range(start, min(end, len(lines))):
                inside[number] = True
            contents.append(token.content)
    return inside, contents


def own_words(text: str) -> str:
    """The text outside block quotes, code (blocks and spans) and HTML, one line per line."""
    quoted = 0
    words: list[str] = []
    for token in _PARSER.parse(text):
        if token.type == "blockquote_open":
            quoted += 1
        elif token.type == "blockquote_close":
            quoted -= 1
        elif token.type == "inline" and not quoted:
            words.append(_inline_text(token.children or []))
    return "\n".join(words)


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type == "text":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        else:  # code spans, inline HTML, images; link and emphasis markers carry no text
            parts.append(" ")
    return "".join(parts)
