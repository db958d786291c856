"""Python applications that are not packages, end to end with no .github/draftsmith.yml: real git,
the real sandbox, real installs from PyPI, a scripted model.

Each converges with fail-before/pass-after proven, its dependencies installed without the project,
its tests run from the source tree, and the evidence says which way and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.local_runs import evidence_of, outcome_of, run_locally
from tests.helpers.repos import git
from tests.helpers.scripts import APPROVED

REQUEST = "Add average\n\nPlease add average(values) next to total(values)."
TOTAL = "def total(values):\n    return sum(values)\n"
AVERAGE = "\n\ndef average(values):\n    return total(values) / len(values)\n"
USES_ATTRS = "import attrs\n\n\n@attrs.define\nclass Entry:\n    amount: int\n\n\n"
FLAT_LAYOUT_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tallyho"
version = "0.1.0"
dependencies = ["attrs>=22"]

[project.optional-dependencies]
test = ["pytest>=8"]
"""


@dataclass(frozen=True)
class Shape:
    """An application's files, the module that holds total(), and the environment note."""

    files: dict[str, str]
    module: str
    imports: str
    note: str


def total_tests(imports: str) -> str:
    return f"from {imports} import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"


FLAT_LAYOUT = Shape(
    files={
        "pyproject.toml": FLAT_LAYOUT_PYPROJECT,
        "tallyho/__init__.py": USES_ATTRS + TOTAL,
        "migrations/0001_entries.sql": "CREATE TABLE entries (amount INTEGER);\n",
        "tests/test_total.py": total_tests("tallyho"),
    },
    module="tallyho/__init__.py",
    imports="tallyho",
    note=(
        "not installable: Multiple top-level packages discovered in a flat-layout: "
        "['tallyho', 'migrations']; dependencies installed, tests run from the source tree"
    ),
)
REQUIREMENTS_ONLY = Shape(
    files={
        "requirements.txt": "attrs>=22\n",
        "ledger.py": USES_ATTRS + TOTAL,
        "tests/test_total.py": total_tests("ledger"),
    },
    module="ledger.py",
    imports="ledger",
    note=(
        "not installable: no pyproject.toml or setup.py; "
        "dependencies installed, tests run from the source tree"
    ),
)
SRC_TOOL_CONFIG = Shape(
    files={
        "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-ra"\n',
        "requirements.txt": "attrs>=22\n",
        "src/shop/__init__.py": USES_ATTRS + TOTAL,
        "tests/test_total.py": total_tests("shop"),
    },
    module="src/shop/__init__.py",
    imports="shop",
    note=(
        "not installable: pyproject.toml has no [build-system] or [project] table; "
        "dependencies installed, tests run from the source tree (the repository root and src/ "
        "importable)"
    ),
)


def script(shape: Shape) -> dict[str, list[Any]]:
    """The model's answers: the plan, average() next to total(), a test of it, approval."""
    plan = {
        "summary": "Add average(values).",
        "files_to_create": [],
        "files_to_modify": [shape.module],
        "dependencies": [],
        "architecture_notes": "Next to total().",
        "acceptance_criteria": ["average([1, 2, 3]) returns 2"],
        "risk_level": "low",
        "out_of_scope": [],
    }
    edit = {"search": TOTAL, "replace": TOTAL + AVERAGE}
    change = {
        "edits": [{"path": shape.module, "operation": "update", "blocks": [edit]}],
        "explanation": "Add average next to total.",
        "dependencies_added": [],
        "revision": 0,
    }
    test = f"from {shape.imports} import average\n\n\ndef test_average():\n"
    test += "    assert average([1, 2, 3]) == 2\n"
    tests = {
        "focus": ["average divides the total by the count"],
        "files": [{"path": "tests/test_average.py", "operation": "create", "content": test}],
    }
    return {"planner": [plan], "coder": [change], "reviewer": [APPROVED], "tester": [tests]}


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(FLAT_LAYOUT, id="flat-layout-application"),
        pytest.param(REQUIREMENTS_ONLY, id="requirements-only-application"),
        pytest.param(SRC_TOOL_CONFIG, id="src-tree-with-tool-config-only"),
    ],
)
def test_an_application_that_is_not_a_package_converges_with_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: Shape
) -> None:
    code, store, run, model = run_locally(
        tmp_path, monkeypatch, shape.files, script(shape), REQUEST
    )
    assert code == 0, run.status_reason
    assert run.status == "approved" and run.revision == 0
    outcome = outcome_of(store, run)
    # fail-before/pass-after: the base run imported the base's code, which has no average()
    assert outcome["pinned"] == ["tests.test_average::test_average"]
    assert outcome["pinned_why"]["tests.test_average::test_average"] == (
        "could not be collected on the base: imports what it adds"
    )
    report = outcome["report"]
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    environment = outcome["environment"]
    assert environment["plan"]["source_tree"] is not None
    assert not any(" -e " in r["command"] for r in environment["records"] if r["exit_code"] == 0)
    (note,) = environment["notes"]
    assert shape.note in note
    assert shape.note in evidence_of(store, run).replace("\\[", "[").replace("\\]", "]")
    assert "average" in git(Path(run.clone_url), "show", f"{run.branch}:{shape.module}")
    assert model.calls["coder"] == 1
