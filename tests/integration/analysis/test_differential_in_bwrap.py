"""Differential static analysis on real git repositories in the real bwrap sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.analysis.differential import (
    BASE_TREE,
    DifferentialAnalysis,
    _extract_base,
    analyse_change,
)
from bot.analysis.render import analysis_text
from bot.analysis.rules import analysis_issues
from bot.repo.changes import added_lines
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.toolbox import build_python_toolbox, toolbox_program
from bot.shared.contracts import Severity
from tests.helpers.repos import git, make_repo

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=120, cpu_time_s=120)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return BwrapSandbox(toolbox=toolbox, uid_base=2_100_300, uid_slots=4)


async def analyse(
    sandbox: BwrapSandbox, repo: Path, changes: dict[str, str]
) -> DifferentialAnalysis:
    """Commit `changes` on top of the repository's first commit and analyse them."""
    base = git(repo, "rev-parse", "HEAD").strip()
    for name, text in changes.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    diff = git(repo, "diff", base, "HEAD")
    ruff = toolbox_program(sandbox, "ruff")
    return await analyse_change(sandbox, repo, base, added_lines(diff), LIMITS, toolbox_ruff=ruff)


async def test_only_findings_the_change_introduces_count_even_when_lines_shift(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "r", {"calc.py": "import os\n\n\ndef add(a, b):\n    return a + b\n"}
    )
    changed = "import os\nimport sys\n\n\ndef add(a, b):\n    return a + b\n"
    analysis = await analyse(sandbox, repo, {"calc.py": changed})
    assert [(f.rule, f.file, f.line, f.level) for f in analysis.new] == [
        ("F401", "calc.py", 2, "warning")
    ]
    assert "`sys` imported but unused" in analysis.new[0].message
    assert analysis.preexisting == 1  # `os`, unchanged
    (tool,) = analysis.tools
    assert (tool.status, tool.change_findings, tool.base_findings) == ("ran", 2, 1)
    assert "Draftsmith's toolbox" in tool.source and "F,E9,B" in tool.source
    assert not (repo / BASE_TREE).exists()


async def test_the_projects_own_ruff_configuration_decides_the_rules(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    config = '[tool.ruff.lint]\nselect = ["T20"]\n'
    repo = make_repo(tmp_path / "r", {"pyproject.toml": config, "app.py": "X = 1\n"})
    analysis = await analyse(sandbox, repo, {"app.py": "import os\nX = 1\nprint(X)\n"})
    assert [(f.rule, f.line) for f in analysis.new] == [("T201", 3)]  # F401 is not selected
    assert "the project's configuration" in analysis.tools[0].source


async def test_an_undefined_name_is_an_error_level_finding(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "r", {"calc.py": "def add(a, b):\n    return a + b\n"})
    analysis = await analyse(sandbox, repo, {"calc.py": "def add(a, b):\n    return a + c\n"})
    assert [(f.rule, f.line, f.level) for f in analysis.errors] == [("F821", 2, "error")]


async def test_a_javascript_syntax_error_is_found_by_node_check(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    files = {"package.json": json.dumps({"name": "c", "type": "module"}), "calc.js": "export {};\n"}
    repo = make_repo(tmp_path / "r", files)
    analysis = await analyse(
        sandbox, repo, {"calc.js": "export function f(a) {\n  return a +;\n}\n"}
    )
    (finding,) = analysis.new
    assert (finding.tool, finding.file, finding.line, finding.level) == (
        "node --check",
        "calc.js",
        2,
        "error",
    )
    assert "SyntaxError" in finding.message


async def test_a_configuration_the_tool_rejects_is_reported_as_not_run(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    config = "[tool.ruff]\nno-such-setting = 1\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": config, "app.py": "X = 1\n"})
    analysis = await analyse(sandbox, repo, {"app.py": "X = undefined\n"})
    (tool,) = analysis.tools
    assert tool.status == "failed" and "did not run on the change" in tool.detail
    assert analysis.new == []


async def test_what_cannot_be_analysed_is_named(tmp_path: Path) -> None:
    bare = BwrapSandbox(uid_base=2_100_310, uid_slots=2)  # no toolbox: no ruff
    config = "[tool.mypy]\nstrict = true\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": config, "app.py": "X = 1\n"})
    analysis = await analyse(bare, repo, {"app.py": "X = undefined\n", "a.ts": "let x = 1;\n"})
    assert analysis.tools == []
    notes = "\n".join(analysis.notes)
    assert "ruff is not available in the sandbox" in notes
    assert "mypy is configured but not installed" in notes
    assert "TypeScript files not type-checked" in notes


def test_the_toolbox_carries_ruffs_binary_and_the_coverage_contexts_plugin(
    sandbox: BwrapSandbox,
) -> None:
    assert sandbox.toolbox is not None
    binary = sandbox.toolbox / ".bin" / "ruff"
    assert binary.is_file() and binary.stat().st_mode & 0o111
    assert (sandbox.toolbox / "draftsmith_coverage_contexts.py").is_file()
    assert toolbox_program(sandbox, "ruff") == "/opt/draftsmith/python/.bin/ruff"
    assert toolbox_program(BwrapSandbox(), "ruff") is None


async def test_a_report_dir_planted_as_a_symlink_is_never_followed(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "analysis-base").mkdir(parents=True)
    (outside / "analysis-base" / "keep.txt").write_text("host file\n")
    repo = make_repo(tmp_path / "r", {"calc.py": "X = 1\n"})
    (repo / ".git" / "info" / "exclude").write_text(".draftsmith/\n")
    (repo / ".draftsmith").symlink_to(outside)  # as a hostile test run could leave it
    analysis = await analyse(sandbox, repo, {"calc.py": "X = undefined\n"})
    assert [f.rule for f in analysis.new] == ["F821"]
    assert (outside / "analysis-base" / "keep.txt").read_text() == "host file\n"
    assert not (repo / ".draftsmith").is_symlink()


async def test_a_new_error_of_an_analyser_the_base_already_fails_informs_and_does_not_hold(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    """The project does not keep ruff clean (an undefined name on the base): a new one is shown
    at medium severity, with why, and does not force a revision; on a clean base it does."""
    old = "def old():\n    return missing_one\n"
    repo = make_repo(tmp_path / "dirty", {"calc.py": old})
    analysis = await analyse(sandbox, repo, {"calc.py": old + "\n\ndef new():\n    return gone\n"})
    (finding,) = analysis.new
    assert (finding.rule, finding.level) == ("F821", "error")
    (tool,) = analysis.tools
    assert (tool.base_errors, tool.kept_clean) == (1, False)
    assert analysis.errors == []
    (issue,) = analysis_issues(analysis)
    assert issue.severity == Severity.medium
    assert "the base already has 1 ruff error(s)" in issue.problem
    assert "does not keep it clean" in analysis_text(analysis)

    clean = make_repo(tmp_path / "clean", {"calc.py": "def old():\n    return 1\n"})
    analysis = await analyse(sandbox, clean, {"calc.py": "def old():\n    return gone\n"})
    assert analysis.tools[0].base_errors == 0
    assert [i.severity for i in analysis_issues(analysis)] == [Severity.high]
    assert len(analysis.errors) == 1


def test_the_base_tree_resolves_a_workspace_packages_own_node_modules(tmp_path: Path) -> None:
    """A pnpm workspace keeps each package's dependencies in its own node_modules: the base tree
    links them, so the base resolves the imports the change resolves (else every import of a
    package's dependency is a base-only finding and the base's count is meaningless)."""
    repo = make_repo(
        tmp_path / "ws",
        {"package.json": "{}", "packages/core/src/index.ts": "export {}\n", "tsconfig.json": "{}"},
    )
    base = git(repo, "rev-parse", "HEAD").strip()
    for folder in ("node_modules/tsc", "packages/core/node_modules/dep"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "index.js").write_text(f"// {folder}\n")
    tree = repo / BASE_TREE
    _extract_base(repo, base, tree, ["packages/core/src/index.ts"], whole=True)
    for folder in ("node_modules/tsc", "packages/core/node_modules/dep"):
        link = tree / folder / "index.js"
        assert link.read_text() == f"// {folder}\n"
        assert link.resolve() == (repo / folder / "index.js").resolve()
    assert not (tree / "packages" / "node_modules").exists()  # no folder of its own there
