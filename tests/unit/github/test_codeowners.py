"""CODEOWNERS: GitHub's file precedence, last match wins, users and teams, invalid owners."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.github.client import GitHubGateway
from bot.github.codeowners import (
    CodeOwners,
    Reviewers,
    codeowners_from_checkout,
    find_codeowners,
)
from tests.helpers.fake_github import FakeGitHub

OWNERS = """\
# Everything, unless a later rule says otherwise
*                       @octo/maintainers
/src/                   @alice @octo/backend
/src/payments/          @octo/payments @bob
*.md                    @carol
/src/payments/README.md
/docs/\\ spaced\\ dir/    @dora
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        pytest.param("setup.py", ["@octo/maintainers"], id="fallback-rule"),
        pytest.param("src/app.py", ["@alice", "@octo/backend"], id="directory-rule"),
        pytest.param("src/payments/charge.py", ["@octo/payments", "@bob"], id="deeper-rule"),
        pytest.param("src/NOTES.md", ["@carol"], id="later-glob-beats-directory"),
        pytest.param("src/payments/README.md", [], id="later-rule-without-owners-unowns"),
        pytest.param("docs/ spaced dir/a.txt", ["@dora"], id="escaped-space"),
    ],
)
def test_last_matching_rule_decides_the_owners(path: str, owners: list[str]) -> None:
    assert CodeOwners.parse(OWNERS).owners_for([path]) == {path: owners}


def test_reviewers_split_users_from_teams_and_exclude_author_and_bot() -> None:
    codeowners = CodeOwners.parse(
        "* @octo/maintainers\n/src/ @Alice @octo/backend @draftsmith[bot] dev@example.com\n"
    )

    reviewers = codeowners.reviewers_for(
        ["src/a.py", "src/b.py", "README"], exclude={"alice", "@draftsmith[bot]"}
    )

    assert reviewers == Reviewers(users=[], teams=["octo/backend", "octo/maintainers"])
    assert codeowners.reviewers_for(["src/a.py"]) == Reviewers(
        users=["Alice", "draftsmith[bot]"], teams=["octo/backend"]
    )


def test_paths_without_a_rule_have_no_owners() -> None:
    codeowners = CodeOwners.parse("/src/ @alice\n")

    assert codeowners.owners_for(["docs/a.md"]) == {"docs/a.md": []}
    assert codeowners.reviewers_for(["docs/a.md"]) == Reviewers()
    assert CodeOwners().owners_for(["x"]) == {"x": []}


def test_invalid_owners_and_patterns_are_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    text = "/src/ @alice not-an-owner # reviewed weekly\n/lib/[abc @bob\n/docs/ @carol\n"

    codeowners = CodeOwners.parse(text, ".github/CODEOWNERS")

    assert codeowners.owners_for(["src/x.py", "lib/a", "docs/y.md"]) == {
        "src/x.py": ["@alice"],
        "lib/a": [],
        "docs/y.md": ["@carol"],
    }
    assert ".github/CODEOWNERS:1: invalid owner 'not-an-owner'" in caplog.text
    assert ".github/CODEOWNERS:2: invalid pattern '/lib/[abc'" in caplog.text


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        pytest.param(
            (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"),
            ".github/CODEOWNERS",
            id="github-dir-first",
        ),
        pytest.param(("CODEOWNERS", "docs/CODEOWNERS"), "CODEOWNERS", id="root-before-docs"),
        pytest.param(("docs/CODEOWNERS",), "docs/CODEOWNERS", id="docs-last"),
    ],
)
def test_codeowners_file_precedence_in_a_checkout(
    tmp_path: Path, present: tuple[str, ...], winner: str
) -> None:
    for location in present:
        (tmp_path / location).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / location).write_text(f"* @owner-from-{location.replace('/', '-')}\n")

    codeowners = codeowners_from_checkout(tmp_path)

    assert codeowners.source == winner
    assert codeowners.owners_of("a.py") == [f"@owner-from-{winner.replace('/', '-')}"]


def test_an_empty_higher_precedence_file_still_wins(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "CODEOWNERS").write_text("# nobody owns anything yet\n")
    (tmp_path / "CODEOWNERS").write_text("* @alice\n")

    assert codeowners_from_checkout(tmp_path).owners_of("a.py") == []


def test_no_codeowners_file_means_no_owners(tmp_path: Path) -> None:
    codeowners = codeowners_from_checkout(tmp_path)

    assert codeowners.source is None and codeowners.owners_of("a.py") == []


def test_codeowners_read_from_the_default_branch_through_the_gateway(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    fake_github.files["CODEOWNERS"] = "/src/ @octo/backend\n"
    fake_github.files["docs/CODEOWNERS"] = "* @dora\n"  # GitHub reads the root's first
    client = gateway.installation(77, ["widgets"])

    codeowners = find_codeowners(lambda p: client.read_file("octo/widgets", p, ref="main"))

    assert codeowners.source == "CODEOWNERS"
    assert codeowners.reviewers_for(["src/a.py"]) == Reviewers(teams=["octo/backend"])
    contents = "/repos/octo/widgets/contents"
    (missing,) = fake_github.calls("GET", f"{contents}/.github/CODEOWNERS")  # answered 404
    (root,) = fake_github.calls("GET", f"{contents}/CODEOWNERS")
    assert missing.url.params["ref"] == root.url.params["ref"] == "main"
    assert not fake_github.calls("GET", f"{contents}/docs/CODEOWNERS")
