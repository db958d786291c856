"""Python applications that are not packages, as small real repositories, and the scripted model's
answers that add average() next to their total() (tests/e2e/test_python_shapes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """The application's own test of total()."""
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
