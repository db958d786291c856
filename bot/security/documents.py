"""A documentation file split into its prose and its code, so each is screened as what it is.

Documentation is prose with code in it: a page's example that prints an environment variable
(`echo(os.environ[name])` in a fenced block) is code, as ordinary as the same line in a `.py`
file; the same words in a sentence are an instruction to whoever reads them. Markdown is read
with markdown-it-py (fenced and indented blocks by its own block parser, inline code spans by
CommonMark's backtick rule); reStructuredText by its literal-block rules (`::` paragraphs,
`code-block`/`code`/`sourcecode`/`doctest`/`testcode` directives, `>>>` doctest blocks, and
``inline literals``). Other text is all prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.security.markdown_read import code_blocks

MARKDOWN_SUFFIXES = (".md", ".markdown")
RST_SUFFIXES = (".rst",)
_INLINE_MD = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_INLINE_RST = re.compile(r"``(.+?)``", re.S)
_RST_DIRECTIVE = re.compile(
    r"^(\s*)\.\.\s+(?:code-block|code|sourcecode|doctest|testcode|testoutput|"
    r"literalinclude|highlight|ipython|jupyter-execute|prompt)::"
)


@dataclass(frozen=True)
class Parts:
    """The prose of a document (code blanked out, lines kept) and its code, in order."""

    prose: str
    code: str


def split_document(path: str, text: str) -> Parts:
    """Prose and code of a documentation file, by its suffix; anything else is all prose."""
    name = path.lower()
    if name.endswith(MARKDOWN_SUFFIXES):
        return _markdown(text)
    if name.endswith(RST_SUFFIXES):
        return _rst(text)
    return Parts(text, "")


def _markdown(text: str) -> Parts:
    lines = text.splitlines()
    in_block, code = code_blocks(text)
    prose = "\n".join("" if inside else line for line, inside in zip(lines, in_block, strict=True))
    return _inline(prose, code, _INLINE_MD, group=2)


def _rst(text: str) -> Parts:
    lines = text.splitlines()
    in_block = [False] * len(lines)
    number = 0
    while number < len(lines):
        line = lines[number]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        opens = (
            stripped.endswith("::")
            and not stripped.startswith("..")
            or bool(_RST_DIRECTIVE.match(line))
        )
        if stripped.startswith(">>>"):  # a doctest block: up to the next blank line
            while number < len(lines) and lines[number].strip():
                in_block[number] = True
                number += 1
            continue
        if opens:
            if _RST_DIRECTIVE.match(line):
                in_block[number] = True
            body = number + 1
            while body < len(lines):
                following = lines[body]
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                in_block[body] = True
                body += 1
            number = body
            continue
        number += 1
    code = [line for line, inside in zip(lines, in_block, strict=True) if inside]
    prose = "\n".join("" if inside else line for line, inside in zip(lines, in_block, strict=True))
    return _inline(prose, ["\n".join(code)] if code else [], _INLINE_RST, group=1)


def _inline(prose: str, code: list[str], pattern: re.Pattern[str], group: int) -> Parts:
    """Move inline code spans of the prose to the code (each span blanked to spaces)."""
    spans: list[str] = []

    def cut(match: re.Match[str]) -> str:
        spans.append(match.group(group))
        return " " * len(match.group(0))

    prose = pattern.sub(cut, prose)
    return Parts(prose, "\n".join([*code, *spans]))
