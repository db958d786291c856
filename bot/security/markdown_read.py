"""Reading Markdown as GitHub renders it (CommonMark, through markdown-it-py's own parser).

Where a caller needs character positions that the parser does not give (the hidden-text
stripper, `bot.security.hidden`, and the inert renderer, `bot.github.markdown`, both rewrite
text in place), they share CommonMark's fenced-code rule from here: `fence_of` and `fence_closer`.

Two questions are asked of Markdown written by people: which lines are code (fenced and
indented blocks, for screening documentation as prose and code apart), and which words are the
author's own (outside block quotes, code and HTML, for a mention of the App in a comment: quoting
someone who mentioned it, or showing the command in code, must not start a run).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark")
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
