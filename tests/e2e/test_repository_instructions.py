"""Repository instruction files reach every agent as marked data and are listed in the evidence:
a real git repository, the local pipeline, a scripted model and the bwrap sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from bot.runtime.local import run_local_pipeline
from bot.store.runs import Store
from tests.helpers.local_runs import local_settings
from tests.helpers.repos import PYTHON_FILES, git, make_repo
from tests.helpers.scripted_model import ROLES, ScriptedModel, role_of, serve_model
from tests.helpers.scripts import happy_path

ROOT_RULE = "RULE-7F3A: every public function gets a one-line docstring."
CALC_RULE = "RULE-C41C: functions in calc/ stay pure, no I/O."
OTHER_RULE = "RULE-0THER: never shown, no change touches web/."
DEV_RULE = "RULE-DEV9: run the suite with `python -m pytest -q`."
CONTRIBUTING = f"""# Contributing

## Code of conduct
RULE-C0NDUCT: be kind.

## Testing
{DEV_RULE.replace("DEV9", "TEST2")}
"""
INSTRUCTED = {
    **PYTHON_FILES,
    "AGENTS.md": f"# Agents\n\n{ROOT_RULE}\n",
    "calc/AGENTS.md": f"{CALC_RULE}\n",
    "web/AGENTS.md": f"{OTHER_RULE}\n",
    "CONTRIBUTING.md": CONTRIBUTING,
    "docs/dev.md": f"{DEV_RULE}\n",
    ".github/draftsmith.yml": "instructions: [docs/dev.md]\n",
}
_BLOCK = re.compile(
    r'<untrusted source="file (?P<path>[^"]+)" kind="repository instructions" id="(?P<id>\w+)">'
    r"\n(?P<body>.*?)\n</untrusted id=\"(?P=id)\">",
    re.S,
)


def instruction_blocks(body: dict[str, object]) -> dict[str, str]:
    """The repository-instruction data blocks of a model request, by file."""
    text = "\n".join(str(m["content"]) for m in body["messages"])  # type: ignore[attr-defined]
    return {m["path"]: m["body"] for m in _BLOCK.finditer(text)}


def test_agents_md_rules_reach_every_role_as_data_and_the_evidence_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", INSTRUCTED)
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    model = ScriptedModel(happy_path())
    console = Console(record=True, width=200)
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, "Add subtract", console, store=store)
    assert code == 0, console.export_text()

    by_role = {role_of(body): instruction_blocks(body) for body in model.bodies}
    assert set(by_role) == set(ROLES)
    for role, blocks in by_role.items():
        assert ROOT_RULE in blocks["AGENTS.md"], role
        assert DEV_RULE in blocks["docs/dev.md"], role
        assert "RULE-TEST2" in blocks["CONTRIBUTING.md"], role
        assert "RULE-C0NDUCT" not in blocks["CONTRIBUTING.md"], role
        assert "web/AGENTS.md" not in blocks and OTHER_RULE not in json.dumps(model.bodies)
    # The planner has no files yet; the others work on calc/ and get its AGENTS.md too.
    assert "calc/AGENTS.md" not in by_role["planner"]
    for role in ("coder", "reviewer", "tester"):
        assert CALC_RULE in by_role[role]["calc/AGENTS.md"], role

    [run] = store.list_runs()
    evidence_path = store.get_artifact(run.id, "evidence_path")
    assert evidence_path is not None
    evidence = Path(evidence_path.content).read_text()
    section = evidence[evidence.index("## Repository instructions") :]
    for line in (
        "- `AGENTS.md` (root AGENTS.md)",
        "- `CONTRIBUTING.md` (testing and style sections)",
        "- `docs/dev.md` (named in .github/draftsmith.yml)",
        "- `calc/AGENTS.md` (nearest AGENTS.md above calc/__init__.py)",
    ):
        assert line in section
    assert "web/AGENTS.md" not in section


def test_instructions_come_from_the_base_commit_not_from_later_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "calc", {**PYTHON_FILES, "AGENTS.md": f"{ROOT_RULE}\n"})
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "AGENTS.md").write_text("RULE-BRANCH: only on a feature branch.\n")
    git(repo, "commit", "-qam", "branch-only instructions")
    git(repo, "checkout", "-q", "-")
    settings = local_settings(tmp_path)
    store = Store(settings.database_url)
    model = ScriptedModel(happy_path())
    with serve_model(model) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
        code = run_local_pipeline(settings, repo, "Add subtract", Console(), store=store)
    assert code == 0
    prompts = model.prompts_text()
    assert "RULE-7F3A" in prompts and "RULE-BRANCH" not in prompts
