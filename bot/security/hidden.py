"""Hidden text: what renders as nothing for the person who labels an issue, but a model reads.

`strip_hidden` removes invisible characters everywhere (zero-width, bidirectional controls,
Unicode tag characters, variation-selector runs) and, outside code spans and fenced code blocks
(where markup is shown literally), HTML comments, HTML elements that render as nothing, and
markdown link reference definitions used as comments. Every removal is recorded for the evidence.
Code spans are CommonMark's (`bot.security.markdown_read.code_spans`); the rest of the markdown
handling is an approximation of CommonMark, erring towards removal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.security.markdown_read import code_spans, fence_closer, fence_of

PREVIEW_CHARS = 80

# One (kind, character class) per family of invisible characters, checked in this order.
_INVISIBLE: tuple[tuple[str, str], ...] = (
    ("tag-characters", "\U000e0000-\U000e007f"),
    ("bidi-control", "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"),
    ("zero-width", "\u00ad\u034f\u115f\u1160\u180e\u200b-\u200d\u2060-\u2064\u3164\ufeff\uffa0"),
    ("variation-selectors", "\U000e0100-\U000e01ef"),
)
_INVISIBLE_RE = re.compile("|".join(f"(?P<k{i}>[{cls}]+)" for i, (_, cls) in enumerate(_INVISIBLE)))
# U+FE00..FE0F legitimately follow one emoji; a run of two or more is only a carrier for data.
_VS_RUN_RE = re.compile("[\ufe00-\ufe0f]{2,}")

_HIDDEN_ATTR_RE = re.compile(
    r"""\shidden(?=[\s/=]|$)|\stype\s*=\s*["']?hidden"""
    r"""|style\s*=\s*["'][^"']*(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0"""
    r"""|opacity\s*:\s*0(?![.\d]*[1-9])|(max-)?(height|width)\s*:\s*0(?![.\d]*[1-9]))""",
    re.IGNORECASE,
)
_ALWAYS_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
_TAG_OPEN_RE = re.compile(
    r"""<([a-zA-Z][a-zA-Z0-9-]*)\b((?:[^<>"']|"[^"<]{0,2000}"|'[^'<]{0,2000}')*+)>"""
)
_ALT_RE = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_LINK_REF_COMMENT_RE = re.compile(
    r""" {0,3}\[[^\]\n]+\]:[ \t]*(?:(?:<>|\#|//)[ \t]*(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))?"""
    r"""|\S+[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))[ \t]*\r?(?:\n|$)""",
)
_SPECIAL_RE = re.compile(
    r"(?P<fence>^ {0,3}(?:`{3,}|~{3,}))|(?P<ticks>`+)|(?P<comment><!--)"
    r"|(?P<linkref>^ {0,3}\[[^\]\n]+\]:)|(?P<tag><[a-zA-Z])",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Removal:
    """One piece of hidden text: its kind and a short, escaped preview of what it was."""

    kind: str
    preview: str


@dataclass(frozen=True)
class Stripped:
    """Text with its hidden parts removed, and the record of what was removed."""

    text: str
    removed: list[Removal] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was removed."""
        return bool(self.removed)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A short, single-line, escaped rendering of `text`: invisible characters as \\uXXXX."""
    out: list[str] = []
    for ch in text:
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Mn"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _decoded_tags(run: str) -> str:
    """Tag characters mirror ASCII (U+E0020..E007E): show the message they carry."""
    return "".join(chr(ord(c) - 0xE0000) if 0xE0020 <= ord(c) <= 0xE007E else "" for c in run)


def _strip_characters(text: str, removed: list[Removal]) -> str:
    def replace(match: re.Match[str]) -> str:
        kind = _INVISIBLE[int(match.lastgroup[1:]) if match.lastgroup else 0][0]
        run = match.group()
        shown = f"decoded: {_decoded_tags(run)!r}" if kind == "tag-characters" else preview(run)
        removed.append(Removal(kind, preview(f"{len(run)} char(s) {shown}")))
        return ""

    text = _INVISIBLE_RE.sub(replace, text)

    def replace_vs(match: re.Match[str]) -> str:
        removed.append(Removal("variation-selectors", preview(match.group())))
        return ""

    return _VS_RUN_RE.sub(replace_vs, text)


def _element_end(text: str, tag: str, start: int) -> int:
    """End offset of the element whose opening tag ends at `start`, nesting counted."""
    pattern = re.compile(rf"<(/?){re.escape(tag)}\b[^>]*>", re.IGNORECASE)
    depth = 1
    for match in pattern.finditer(text, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return match.end()
    return len(text)  # never closed: a browser hides the rest


def _hidden_element(text: str, match: re.Match[str], removed: list[Removal]) -> int | None:
    """If the tag at `match` opens an invisible element, record it and return where it ends."""
    tag, attrs = match.group(1).lower(), match.group(2)
    if tag not in _ALWAYS_HIDDEN_TAGS and not _HIDDEN_ATTR_RE.search(attrs):
        alt = _ALT_RE.search(attrs) if tag == "img" else None
        if alt and any(alt.groups()):
            value = next(g for g in alt.groups() if g is not None)
            removed.append(Removal("img-alt (kept)", preview(value)))
        return None
    void = attrs.rstrip().endswith("/") or tag in ("input", "img", "br", "hr", "meta", "link")
    end = match.end() if void else _element_end(text, tag, match.end())
    removed.append(Removal("hidden-html", preview(text[match.start() : end])))
    return end


def _fence_end(text: str, start: int) -> int | None:
    """End of the fenced code block whose opening line starts at `start` (the end of the text
    if it never closes); None when that line opens no fence (`fence_of`)."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    fence = fence_of(text[start:line_end].rstrip("\r"))
    if fence is None:
        return None
    match = fence_closer(fence).search(text, line_end)
    return match.end() if match else len(text)


def _strip_markup(text: str, removed: list[Removal]) -> str:
    """Remove comments, invisible elements and comment-like link definitions outside code."""
    spans = {span.start: span.end for span in code_spans(text)}
    out: list[str] = []
    i = 0
    while (match := _SPECIAL_RE.search(text, i)) is not None:
        pos = match.start()
        out.append(text[i:pos])
        kind = match.lastgroup
        end: int
        fenced = _fence_end(text, pos) if kind == "fence" else None
        if fenced is not None:
            end = fenced
            out.append(text[pos:end])
        elif kind in ("fence", "ticks"):  # backticks that open no fence may open a code span
            ticks = match.group().lstrip(" ")  # a fence's indent is text
            end = spans.get(match.end() - len(ticks), match.end())
            out.append(text[pos:end])
        elif kind == "comment":
            close = text.find("-->", pos + 4)
            end = len(text) if close < 0 else close + 3
            removed.append(Removal("html-comment", preview(text[pos:end])))
        elif kind == "linkref":
            definition = _LINK_REF_COMMENT_RE.match(text, pos)
            end = definition.end() if definition else match.end()
            if definition:
                removed.append(Removal("link-reference-comment", preview(definition.group())))
            else:
                out.append(text[pos:end])
        else:
            tag = _TAG_OPEN_RE.match(text, pos)
            hidden_end = _hidden_element(text, tag, removed) if tag else None
            if hidden_end is None:
                end = tag.end() if tag else match.end()
                out.append(text[pos:end])
            else:
                end = hidden_end
        i = end
    out.append(text[i:])
    return "".join(out)


def strip_hidden(text: str) -> Stripped:
    """Remove the parts of `text` that render as nothing on GitHub, recording each removal."""
    removed: list[Removal] = []
    text = _strip_characters(text, removed)
    text = _strip_markup(text, removed)
    return Stripped(text=text, removed=removed)
