"""Which findings are new, and each analyser's own output format read into findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.analysis import parsers
from bot.analysis.findings import Finding, introduced

TREE = Path("/work/run-1/repo")


def finding(line: int, message: str = "Undefined name `x`", rule: str = "F821") -> Finding:
    return Finding("ruff", rule, "calc.py", line, message, "error")


def test_a_finding_whose_line_shifted_is_not_new() -> None:
    assert introduced([finding(5)], [finding(9)], {"calc.py": {1, 2, 3}}) == []


def test_a_second_finding_of_the_same_kind_is_new_and_the_one_on_a_changed_line_is_named() -> None:
    new = introduced([finding(5)], [finding(9), finding(2)], {"calc.py": {2}})
    assert [f.line for f in new] == [2]


def test_a_different_message_is_a_different_finding() -> None:
    new = introduced([finding(5)], [finding(5, "Undefined name `y`")], {})
    assert [f.message for f in new] == ["Undefined name `y`"]


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("F821", "error"),
        ("E999", "error"),
        (None, "error"),
        ("F401", "warning"),
        ("B006", "warning"),
    ],
    ids=["undefined-name", "syntax", "no-code", "unused-import", "bugbear"],
)
def test_ruff_rules_that_cannot_run_are_errors(code: str | None, level: str) -> None:
    assert parsers.ruff_level(code) == level


def test_ruff_json_paths_become_relative_to_the_tree() -> None:
    out = json.dumps(
        [{"code": "F821", "filename": f"{TREE}/pkg/a.py", "location": {"row": 3, "column": 1},
          "message": "Undefined name `c`"}]
    )  # fmt: skip
    (f,) = parsers.parse_ruff(out, TREE)
    assert (f.file, f.line, f.rule, f.level) == ("pkg/a.py", 3, "F821", "error")


def test_mypy_errors_are_read_and_notes_dropped() -> None:
    out = (
        'pkg/a.py:4: error: Incompatible return value type (got "str", expected "int")  '
        "[return-value]\npkg/a.py:4: note: See https://mypy.rtfd.io\n"
    )
    (f,) = parsers.parse_mypy(out, TREE)
    assert (f.rule, f.file, f.line, f.level) == ("return-value", "pkg/a.py", 4, "error")
    assert f.message.startswith("Incompatible return value type")


def test_tsc_diagnostics_are_read() -> None:
    out = "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n"
    (f,) = parsers.parse_tsc(out, TREE)
    assert (f.rule, f.file, f.line, f.level) == ("TS2322", "src/a.ts", 3, "error")


def test_eslint_severities_map_to_levels() -> None:
    out = json.dumps(
        [{"filePath": f"{TREE}/a.js", "messages": [
            {"ruleId": "no-undef", "severity": 2, "message": "'x' is not defined.", "line": 1},
            {"ruleId": "no-unused-vars", "severity": 1, "message": "'y' is unused.", "line": 2},
        ]}]
    )  # fmt: skip
    found = parsers.parse_eslint(out, TREE)
    assert [(f.rule, f.level, f.file) for f in found] == [
        ("no-undef", "error", "a.js"),
        ("no-unused-vars", "warning", "a.js"),
    ]


def test_go_vet_json_findings_are_warnings_and_type_errors_are_errors() -> None:
    out = (
        "# example.com/calc\n"
        '{"example.com/calc": {"printf": [{"posn": "./calc.go:10:2", '
        '"message": "fmt.Printf format %d has arg s of wrong type string"}]}}\n'
        "# example.com/calc/sub\nvet: ./sub/sub.go:3:23: undeclared name: x\n"
    )
    found = [(f.file, f.line, f.tool, f.rule, f.level) for f in parsers.parse_go_vet(out, TREE)]
    assert found == [
        ("calc.go", 10, "go vet", "printf", "warning"),
        ("sub/sub.go", 3, "go vet", "typecheck", "error"),
    ]


def test_output_that_is_not_the_tools_format_is_refused() -> None:
    with pytest.raises(ValueError):
        parsers.parse_ruff("Killed", TREE)
    with pytest.raises(ValueError):
        parsers.parse_node_check("node: out of memory", TREE)
