"""Code spans are where CommonMark puts them: checked against markdown-it's own reading."""

from __future__ import annotations

import random
import re

import pytest
from markdown_it import MarkdownIt

from bot.security.markdown_read import code_spans

SPANS = {
    "one-span": ("a `b` c", ["`b`"]),
    "double-backticks-hold-a-single-one": ("x `` a ` b `` y", ["`` a ` b ``"]),
    "a-single-backtick-inside-a-double-span": ("``a`b``", ["``a`b``"]),
    "a-run-closes-only-its-own-length": ("```foo`` `bar`", ["`bar`"]),
    "an-unmatched-longer-opener-is-text": ("``foo`", []),
    "an-unmatched-backtick-is-text": ("a ` b", []),
    "an-escaped-backtick-opens-nothing": ("\\`a` b", []),
    "not-in-a-fenced-block": ("```\n`a`\n```", []),
    "a-fence-is-not-a-closer": ("```\n`a\n```\nb`", []),
    "not-in-an-indented-block": ("    `a`", []),
    "not-in-inline-html": ("a <!-- `x` --> b", []),
    "not-across-a-blank-line": ("`a\n\nb`", []),
    "across-lines-of-a-quote": ("> a `b\n> c` d", ["`b\n> c`"]),
    "in-a-list-item-and-a-heading": ("- `a`\n# `b` #", ["`a`", "`b`"]),
    "in-a-heading-starting-like-its-marker": ("# # `a`\n## ## `b` ##", ["`a`", "`b`"]),
    "in-a-link-text": ("[`l`](https://example.com)", ["`l`"]),
    "after-crlf-line-endings": ("x\r\n\r\ny `a`\r\n", ["`a`"]),
}


@pytest.mark.parametrize(("text", "spans"), SPANS.values(), ids=SPANS.keys())
def test_code_spans_are_where_commonmark_reads_them(text: str, spans: list[str]) -> None:
    found = code_spans(text)
    assert [text[span.start : span.end] for span in found] == spans
    for span in found:
        ticks = re.match("`+", text[span.start :])
        assert ticks is not None and span.ticks == len(ticks.group())


def test_a_span_gives_its_content_as_written() -> None:
    text = "x `` a ` b `` y"
    (span,) = code_spans(text)
    assert span.content(text) == " a ` b "


FRAGMENTS = [
    "`", "``", "```", "a", " ", "\n", "\n\n", "> ", "- ", "1. ", "# ", "\t", "  ", "\\", "x y",
    "[", "](u)", "![", "<b>", "<!--", "-->", "~~~", "    ", "=", "\r\n", "*", "#", " #",
]  # fmt: skip


def test_random_markdown_has_the_spans_markdown_it_reads_each_where_it_is() -> None:
    """Every span markdown-it makes (outside image descriptions) is found, and the text found
    there is that span: its content as CommonMark normalises it is markdown-it's."""
    parser = MarkdownIt("commonmark")
    rng = random.Random(26)
    for _ in range(3000):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 16)))
        expected = [
            child.content
            for token in parser.parse(text)
            if token.type == "inline"
            for child in token.children or []
            if child.type == "code_inline"
        ]
        found = code_spans(text)
        assert len(found) == len(expected), text
        for span, content in zip(found, expected, strict=True):
            written = span.content(text)
            if re.search(r"[\r\n]", written):
                continue  # block markers inside a span across lines are not its content
            if written.startswith(" ") and written.endswith(" ") and written.strip(" "):
                written = written[1:-1]
            assert written == content, text
