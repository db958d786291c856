"""The one renderer for model and issue text that reaches GitHub: inert Markdown.

A prompt-injected model obeys the attacker, and an issue author writes what they like; GitHub
then acts on Markdown. Text from either is inserted into a PR title or body, a comment, a check
run or a commit message only through this module, which makes it inert:

- closing keywords close nothing: every issue reference (`#1`, `octo-org/repo#4`, `GH-5`) and
  every issue or pull request URL is shown as code, so the only live `Closes #N` is the one
  Draftsmith writes itself (`closes`);
- images are dropped (their alt text is kept as text) and raw HTML is shown as text (`<`, `>`
  and `&` are escaped), so nothing is fetched when someone opens the page;
- links stay links only to the repository's own host over https; other links, bare URLs and
  `javascript:`/`data:` links are shown as code;
- `@user` and `@org/team` mentions are shown as code: nobody is notified;
- Markdown syntax that could forge Draftsmith's own structure (headings, brackets, fences that
  never close) is escaped or closed.

Code spans and fenced code blocks of the text stay code (GitHub shows them literally); code spans
are CommonMark's (`bot.security.markdown_read.code_spans`), and one that runs across lines is
shown as escaped text. The Markdown handling follows CommonMark, erring towards escaping: the
result may show a backslash or a backtick more than the author meant, never a live link, image,
mention or reference.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.security.hidden import strip_hidden
from bot.security.markdown_read import CodeSpan, Fence, code_spans, fence_closer, fence_of

DEFAULT_HOST = "github.com"
_LINK = re.compile(
    r"(!?)\[([^\[\]\n]*)\]\(\s*<?([^()\s<>]*(?:\([^()\s<>]*\)[^()\s<>]*)*)>?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_INERT = re.compile(
    r"(?P<url>(?:(?:https?|ftp|file)://|(?:javascript|data|vbscript):|www\.)"
    r"[^\s<>`]*[^\s<>`.,:;\"')\]])"
    r"|(?P<email>[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<mention>@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9_.-]+)?)"
    r"|(?P<ref>(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#\d+|GH-\d+)"
)
_LINK_URL = re.compile(r"[A-Za-z0-9:/?#@!$&'*+,;=._~%-]+")
_ESCAPES = {"\\": "\\\\", "`": "\\`", "[": "\\[", "]": "\\]"}
_ESCAPES.update({"<": "&lt;", ">": "&gt;", "&": "&amp;"})
_ESCAPE = re.compile(r"[\\`\[\]<>&]")
_REFERENCE_PATH = re.compile(r"/(issues|pull|pulls|discussions)/\d+", re.IGNORECASE)
_REFERENCE_URL = re.compile(r"(?i)https?://(\S+/(?:issues|pull|pulls|discussions)/\d+)")


def closes(issue_number: int) -> str:
    """Draftsmith's own closing line for the run's issue: the only live closing keyword."""
    return f"Closes #{int(issue_number)}"


def host_of(url: str | None) -> str:
    """The host links may point to: the repository's own (from its clone or html URL)."""
    host = urlsplit(url or "").hostname
    return host.lower() if host else DEFAULT_HOST


def code(text: str) -> str:
    """`text` as one inline code span, whatever backticks or newlines it holds."""
    flat = " ".join(str(text).splitlines()) or " "
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _escape(text: str) -> str:
    out = _ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)
    return re.sub(r"(?m)^(\s*)(#|=+\s*$)", r"\1\\\2", out)


def _link_allowed(url: str, host: str) -> bool:
    parts = urlsplit(url)
    return (
        _LINK_URL.fullmatch(url) is not None
        and parts.scheme.lower() == "https"
        and (parts.hostname or "").lower() == host
        and not _REFERENCE_PATH.search(parts.path)
    )


def _text(text: str, host: str) -> list[str]:
    """A stretch of text without code: links judged, mentions/refs/URLs as code, rest escaped."""
    pieces: list[str] = []
    at = 0
    for match in _LINK.finditer(text):
        pieces += _plain(text[at : match.start()])
        bang, label, url = match.group(1), match.group(2), match.group(3)
        if bang:
            pieces += ["(image removed", *([": ", *_plain(label)] if label.strip() else []), ")"]
        elif _link_allowed(url, host):
            pieces += ["[", *_plain(label), f"]({url})"]
        else:
            pieces += [*_plain(label), " (", code(url), ")"]
        at = match.end()
    return pieces + _plain(text[at:])


def _plain(text: str) -> list[str]:
    pieces: list[str] = []
    at = 0
    for match in _INERT.finditer(text):
        pieces.append(_escape(text[at : match.start()]))
        pieces.append(code(match.group()))
        at = match.end()
    pieces.append(_escape(text[at:]))
    return pieces


def _inline(line: str, spans: list[CodeSpan], host: str) -> list[str]:
    """One line: its code spans (`spans`, offsets in the line) kept as code, the text between
    them made inert."""
    pieces: list[str] = []
    at = 0
    for span in spans:
        pieces += _text(line[at : span.start], host)
        content = span.content(line)
        pieces.append(code(content.strip(" ") if content.strip() else content))
        at = span.end
    return pieces + _text(line[at:], host)


def _lines(text: str) -> list[tuple[str, list[CodeSpan]]]:
    """Each line of `text` (as `str.splitlines` reads them) with the code spans wholly within
    it, their offsets counted in the line."""
    spans = code_spans(text)
    found: list[tuple[str, list[CodeSpan]]] = []
    start = next_span = 0
    for kept in text.splitlines(keepends=True):
        line = kept.splitlines()[0]
        mine: list[CodeSpan] = []
        while next_span < len(spans) and spans[next_span].start < start + len(line):
            span = spans[next_span]
            if span.start >= start and span.end <= start + len(line):
                mine.append(CodeSpan(span.start - start, span.end - start, span.ticks))
            next_span += 1
        found.append((line, mine))
        start += len(kept)
    return found


def _join(pieces: list[str]) -> str:
    """Join pieces so two code spans (or an escaped backtick and a span) never touch."""
    out = ""
    for piece in pieces:
        if piece and out.endswith("`") and piece.startswith("`"):
            out += " "
        out += piece
    return out


def inert(text: str | None, *, host: str = DEFAULT_HOST) -> str:
    """Model or issue text as inert Markdown, keeping its paragraphs, lists and code blocks."""
    out: list[str] = []
    fence: Fence | None = None
    body: list[str] = []
    for line, spans in _lines(strip_hidden(text or "").text):
        if fence is None:
            fence = fence_of(line)
            if fence is not None:
                body = []
                continue
            out.append(_join(_inline(line, spans, host)))
            continue
        if fence_closer(fence).fullmatch(line):
            out.append(_fenced(body))
            fence = None
        else:
            body.append(line)
    if fence is not None:  # a fence that never closes would swallow what Draftsmith writes next
        out.append(_fenced(body))
    return "\n".join(out)


def _fenced(body: list[str]) -> str:
    longest = max((len(run) for line in body for run in re.findall(r"`{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return "\n".join([fence, *body, fence])


def inert_line(text: str | None, *, host: str = DEFAULT_HOST) -> str:
    """Model or issue text for one line (a list item, a table cell, a title): inert, no breaks."""
    flat = " ".join((text or "").split())
    return inert(flat, host=host).replace("\n", " ")


def title(text: str | None, *, fallback: str, host: str = DEFAULT_HOST) -> str:
    """A pull request title from the issue's title: one inert line, at most 250 characters."""
    rendered = inert_line(text, host=host).strip() or fallback
    return rendered if len(rendered) <= 250 else rendered[:249] + "…"


def commit_text(text: str | None) -> str:
    """Model text for a commit message, where GitHub links references and mentions (and closes
    issues on merge) but renders no Markdown: references and mentions are broken apart."""

    def broken(match: re.Match[str]) -> str:
        found = match.group()
        if match.group("url") or match.group("email"):
            return found
        if match.group("mention"):
            return "@ " + found[1:]
        return found.replace("#", "# ", 1).replace("GH-", "GH- ", 1)

    flat = _INERT.sub(broken, strip_hidden(text or "").text)
    return _REFERENCE_URL.sub(lambda m: m.group(1), flat)
