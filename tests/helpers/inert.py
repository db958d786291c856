"""What in GitHub Markdown would act on GitHub, found with a real CommonMark parser."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

MENTION = re.compile(r"@[A-Za-z0-9]")
REFERENCE = re.compile(r"#\d|GH-\d")
URL = re.compile(r"https?://|www\.|javascript:|data:", re.IGNORECASE)


def tokens(markdown: str) -> list[Token]:
    """Block and inline tokens of `markdown` (CommonMark with GitHub's tables/strikethrough)."""
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    flat: list[Token] = []
    for token in parser.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def live(markdown: str, host: str = "github.com", allowed: tuple[str, ...] = ()) -> list[str]:
    """Images, raw HTML, links off the repository's host (or to issues), and mentions,
    references and bare URLs in text (GitHub would link them); tokens whose content is one of
    `allowed` (Draftsmith's own: its closing line, comment marker, PR link) are skipped."""
    found: list[str] = []
    for token in tokens(markdown):
        if token.content.strip() in allowed:
            continue
        if token.type in ("image", "html_inline", "html_block"):
            found.append(f"{token.type}: {token.content or token.attrs}")
        if token.type == "link_open":
            href = str(token.attrs.get("href", ""))
            if not href.startswith(f"https://{host}/") or "/issues/" in href:
                found.append(f"link: {href}")
        text = token.content if token.type == "text" else ""
        if any(p.search(text) for p in (MENTION, REFERENCE, URL)):
            found.append(f"text: {text!r}")
    return found
