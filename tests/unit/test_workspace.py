"""Workspace: real git repositories in tmp_path, real edits, real commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.repo.workspace import BOT_EMAIL, BOT_NAME, Workspace, branch_name, mask_url, slugify
from bot.shared.contracts import CodeChange, EditOperation, FileEdit, SearchReplace
from bot.shared.errors import WorkspaceError


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture()
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    )
    (repo / "README.md").write_text("# demo\n")
    _git(repo, "init", "--quiet", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "init")
    return repo


@pytest.fixture()
def ws(origin: Path, tmp_path: Path) -> Workspace:
    return Workspace.clone(str(origin), tmp_path / "run")


def _change(*edits: FileEdit) -> CodeChange:
    return CodeChange(edits=list(edits), explanation="test")


def _update(path: str, search: str, replace: str) -> FileEdit:
    return FileEdit(
        path=path,
        operation=EditOperation.update,
        blocks=[SearchReplace(search=search, replace=replace)],
    )


def test_clone_is_a_fresh_copy_at_origin_head(origin: Path, ws: Workspace) -> None:
    assert ws.head() == _git(origin, "rev-parse", "HEAD").strip()
    assert (ws.root / "pkg" / "calc.py").is_file()
    assert ws.root != origin.resolve()


def test_clone_into_non_empty_directory_is_refused(origin: Path, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "x").write_text("x")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.clone(str(origin), dest)


def test_clone_failure_masks_credentials(tmp_path: Path) -> None:
    url = "https://x-access-token:ghs_SECRET123@127.0.0.1:1/o/r.git"
    with pytest.raises(WorkspaceError) as info:
        Workspace.clone(url, tmp_path / "c")
    assert "ghs_SECRET123" not in str(info.value)


def test_mask_url_hides_user_and_password() -> None:
    assert (
        mask_url("see https://u:p@h/x and http://tok@h") == "see https://***@h/x and http://***@h"
    )


@pytest.mark.parametrize(
    ("title", "issue", "expected"),
    [
        ("Add a --verbose flag!", 12, "draftsmith/12-add-a-verbose-flag"),
        ("Café déjà vu", None, "draftsmith/cafe-deja-vu"),
        ("!!!", 3, "draftsmith/3-change"),
    ],
    ids=["issue", "local-unicode", "empty-slug"],
)
def test_branch_name(title: str, issue: int | None, expected: str) -> None:
    assert branch_name(title, issue) == expected


def test_slug_is_bounded_on_a_word_boundary() -> None:
    slug = slugify("word " * 50, max_len=40)
    assert len(slug) <= 40 and not slug.endswith("-")


def test_create_branch_checks_it_out_and_is_reused_on_resume(ws: Workspace) -> None:
    name = ws.create_branch("Add mul", issue=7)
    assert ws.current_branch() == name == "draftsmith/7-add-mul"
    ws.git("checkout", "--quiet", "main")
    assert ws.create_branch("Add mul", issue=7) == name
    assert ws.current_branch() == name


def test_edits_apply_create_update_delete(ws: Workspace) -> None:
    changed = ws.apply(
        _change(
            _update(
                "pkg/calc.py",
                "    return a - b\n",
                "    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
            ),
            FileEdit(path="pkg/new/mod.py", operation=EditOperation.create, content="X = 1\n"),
            FileEdit(path="README.md", operation=EditOperation.delete),
        )
    )
    assert changed == ["pkg/calc.py", "pkg/new/mod.py", "README.md"]
    assert "def mul(a, b):" in (ws.root / "pkg/calc.py").read_text()
    assert (ws.root / "pkg/new/mod.py").read_text() == "X = 1\n"
    assert not (ws.root / "README.md").exists()


def test_two_edits_of_one_file_compose_in_order(ws: Workspace) -> None:
    ws.apply(
        _change(
            _update("pkg/calc.py", "a + b", "a + b + 0"),
            _update("pkg/calc.py", "a + b + 0", "b + a"),
        )
    )
    assert "return b + a" in (ws.root / "pkg/calc.py").read_text()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "absolute paths are refused"),
        ("../outside.py", "'..' is refused"),
        ("pkg/../../outside.py", "'..' is refused"),
        (".git/config", "nothing under .git/"),
        ("sub/.git/hooks/pre-commit", "nothing under .git/"),
        ("C:/x.py", "absolute paths are refused"),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "git-dir", "nested-git-dir", "drive"],
)
def test_escaping_paths_are_refused(ws: Workspace, path: str, message: str) -> None:
    edit = FileEdit(path=path, operation=EditOperation.create, content="x")
    with pytest.raises(WorkspaceError, match=message):
        ws.apply(_change(edit))


def test_writing_through_a_symlink_out_of_the_tree_is_refused(
    ws: Workspace, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text("safe\n")
    (ws.root / "escape").symlink_to(outside)
    (ws.root / "victim_link.py").symlink_to(outside / "victim.py")
    for path in ("escape/victim.py", "victim_link.py", "escape/new.py"):
        edit = FileEdit(path=path, operation=EditOperation.update, content="owned\n")
        with pytest.raises(WorkspaceError, match="outside the repository"):
            ws.apply(_change(edit))
    assert (outside / "victim.py").read_text() == "safe\n"
    assert not (outside / "new.py").exists()


def test_symlink_into_git_dir_is_refused(ws: Workspace) -> None:
    (ws.root / "cfg").symlink_to(ws.root / ".git" / "config")
    edit = FileEdit(path="cfg", operation=EditOperation.update, content="x")
    with pytest.raises(WorkspaceError, match="resolves into .git/"):
        ws.apply(_change(edit))


def test_search_block_matching_nowhere_is_refused_precisely(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError) as info:
        ws.apply(_change(_update("pkg/calc.py", "return a * b", "x")))
    assert "edit 1 (pkg/calc.py): block 1: search text matched 0 times" in str(info.value)
    assert "copy the lines exactly" in str(info.value)


def test_ambiguous_search_block_is_refused_with_its_lines(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError) as info:
        ws.apply(_change(_update("pkg/calc.py", "(a, b):\n", "(a, b, c):\n")))
    text = str(info.value)
    assert "edit 1 (pkg/calc.py): block 1: search text matched 2 times (at lines 1, 5)" in text
    assert "more surrounding lines" in text


def test_nothing_is_written_when_one_edit_of_a_batch_fails(ws: Workspace) -> None:
    before = (ws.root / "pkg/calc.py").read_text()
    with pytest.raises(WorkspaceError) as info:
        ws.apply(
            _change(
                _update("pkg/calc.py", "a + b", "a + b + 1"),
                FileEdit(path="pkg/brand_new.py", operation=EditOperation.create, content="x"),
                _update("README.md", "no such text", "x"),
                FileEdit(path="pkg/calc.py", operation=EditOperation.create, content="dup"),
            )
        )
    text = str(info.value)
    assert "edit 3 (README.md)" in text and "edit 4 (pkg/calc.py): already exists" in text
    assert (ws.root / "pkg/calc.py").read_text() == before
    assert not (ws.root / "pkg/brand_new.py").exists()
    assert ws.git("status", "--porcelain") == ""


def test_update_of_missing_file_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        ws.apply(_change(FileEdit(path="nope.py", operation=EditOperation.update, content="x")))


def test_commit_is_authored_by_the_bot_and_diff_shows_it(ws: Workspace) -> None:
    base = ws.head()
    ws.create_branch("mul", None)
    ws.apply(_change(_update("pkg/calc.py", "a - b", "b - a")))
    sha = ws.commit("Swap sub")
    assert sha == ws.head() != base
    author = ws.git("log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert author == f"{BOT_NAME} <{BOT_EMAIL}>|{BOT_NAME} <{BOT_EMAIL}>"
    assert "-    return a - b\n+    return b - a" in ws.diff(base)
    assert ws.changed_files(base) == ["pkg/calc.py"]


def test_commit_without_changes_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="nothing to commit"):
        ws.commit("empty")


def test_read_helpers_stay_inside_the_tree(ws: Workspace, tmp_path: Path) -> None:
    assert ws.list_dir(".") == ["README.md", "pkg/"]
    assert ws.read_file("pkg/calc.py", max_bytes=10).startswith("def add(a,")
    assert "[... cut at 10 of" in ws.read_file("pkg/calc.py", max_bytes=10)
    hits = ws.search("return a")
    assert [(h.path, h.line) for h in hits] == [("pkg/calc.py", 2), ("pkg/calc.py", 6)]
    assert len(ws.search(r"def \w+", regex=True, max_hits=1)) == 1
    (tmp_path / "secret.txt").write_text("s")
    with pytest.raises(WorkspaceError):
        ws.read_file("../secret.txt")
    with pytest.raises(WorkspaceError):
        ws.list_dir("/")


def test_clone_checks_out_the_requested_ref(origin: Path, tmp_path: Path) -> None:
    first = _git(origin, "rev-parse", "HEAD").strip()
    (origin / "later.txt").write_text("later\n")
    _git(origin, "add", ".")
    _git(origin, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "2")
    ws = Workspace.clone(str(origin), tmp_path / "at-first", ref=first)
    assert ws.head() == first and not (ws.root / "later.txt").exists()
