"""Model answers for the pipeline scenarios (the subtract feature on the calc repository)."""

from __future__ import annotations

from typing import Any

PLAN: dict[str, Any] = {
    "summary": "Add subtract(a, b) to calc.",
    "files_to_create": [],
    "files_to_modify": ["calc/__init__.py"],
    "dependencies": [],
    "architecture_notes": "Next to add().",
    "acceptance_criteria": ["subtract(5, 3) returns 2"],
    "risk_level": "low",
    "out_of_scope": [],
}
ADD = "def add(a, b):\n    return a + b\n"


def change(body: str = "return a - b", path: str = "calc/__init__.py") -> dict[str, Any]:
    """A CodeChange adding subtract with the given body."""
    return {
        "edits": [
            {
                "path": path,
                "operation": "update",
                "blocks": [
                    {"search": ADD, "replace": f"{ADD}\n\ndef subtract(a, b):\n    {body}\n"}
                ],
            }
        ],
        "explanation": "Add subtract next to add.",
        "dependencies_added": [],
        "revision": 0,
    }


APPROVED: dict[str, Any] = {"status": "approved", "issues": [], "suggestions": [], "score": 0.9}
NEEDS_REVISION: dict[str, Any] = {
    "status": "needs_revision",
    "issues": [
        {
            "severity": "high",
            "category": "correctness",
            "file": "calc/__init__.py",
            "line": 8,
            "problem": "subtract adds instead of subtracting",
            "recommended_fix": "return a - b",
        }
    ],
    "suggestions": [],
    "score": 0.2,
}
TESTS: dict[str, Any] = {
    "focus": ["subtract returns the difference"],
    "files": [
        {
            "path": "tests/test_subtract.py",
            "operation": "create",
            "content": (
                "from calc import subtract\n\n\n"
                "def test_subtract():\n    assert subtract(5, 3) == 2\n"
            ),
        }
    ],
}


def happy_path() -> dict[str, list[Any]]:
    """One answer per role: the change is right the first time."""
    return {"planner": [PLAN], "coder": [change()], "reviewer": [APPROVED], "tester": [TESTS]}


def fix() -> dict[str, Any]:
    """A revision that corrects the wrong subtract of `change("return a + b")`."""
    return {
        "edits": [
            {
                "path": "calc/__init__.py",
                "operation": "update",
                "blocks": [
                    {
                        "search": "def subtract(a, b):\n    return a + b\n",
                        "replace": "def subtract(a, b):\n    return a - b\n",
                    }
                ],
            }
        ],
        "explanation": "Subtract instead of adding.",
        "dependencies_added": [],
        "revision": 1,
    }


def with_revisions(count: int) -> dict[str, list[Any]]:
    """The happy path plus `count` more right answers per role, for steered revisions."""
    script = happy_path()
    for _ in range(count):
        script["coder"].append(change("return a - b  # revised"))
        script["reviewer"].append(APPROVED)
        script["tester"].append(TESTS)
    return script
