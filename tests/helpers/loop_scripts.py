"""The coder-loop scenario: a calc repository whose test carries its own assertion message, and
a coder that breaks that test with its first edit, runs it, fixes the code and submits."""

from __future__ import annotations

from typing import Any

from tests.helpers.scripted_model import ToolCalls, call

REQUEST = "Add subtract\n\nPlease add subtract(a, b) to calc."
ADD = "def add(a, b):\n    return a + b\n"
ASSERTION = "add must sum its arguments, got"
CALC_FILES = {
    "README.md": "# calc\n",
    "calc/__init__.py": f'"""A tiny calculator."""\n\n\n{ADD}',
    "tests/test_add.py": (
        "from calc import add\n\n\n"
        f"def test_add():\n    assert add(2, 3) == 5, f'{ASSERTION} {{add(2, 3)}}'\n"
    ),
}
PYTEST = "python3 -m pytest -q -p no:cacheprovider tests/test_add.py"
BROKEN = "def add(a, b):\n    return a - b\n\n\ndef subtract(a, b):\n    return a - b\n"
FIXED = f"{ADD}\n\ndef subtract(a, b):\n    return a - b\n"


def break_run_fix_submit() -> list[ToolCalls]:
    """The loop of a model that makes a mistake and reads the failure: five steps."""
    return [
        call("edit", path="calc/__init__.py", search=ADD, replace=BROKEN),
        call("run", command=PYTEST),
        call("edit", path="calc/__init__.py", search=BROKEN, replace=FIXED),
        call("run", command=PYTEST),
        call("submit", explanation="Add subtract next to add."),
    ]


def whole_change(search: str, replace: str, revision: int) -> dict[str, Any]:
    """The same edit answered at once as a whole change (a coder without the loop)."""
    return {
        "edits": [
            {
                "path": "calc/__init__.py",
                "operation": "update",
                "blocks": [{"search": search, "replace": replace}],
            }
        ],
        "explanation": "Add subtract next to add.",
        "dependencies_added": [],
        "revision": revision,
    }
