"""V8's ranges and istanbul's statements mapped to lines, on data of real node and jest runs
(tests/fixtures/js_coverage/README.md says how each was made)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.js_lines import (
    LineState,
    SourceMismatch,
    istanbul_lines,
    merge,
    v8_lines,
    v8_scripts,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "js_coverage"
M, D, L, C = LineState.missed, LineState.declared, LineState.loaded, LineState.called


def v8_functions(name: str) -> list[Any]:
    """The functions of `name` in whichever process's coverage file loaded it."""
    found = []
    for path in sorted((FIXTURES / "node_test").glob("coverage-*.json")):
        scripts = v8_scripts(json.loads(path.read_text()))
        found += [f for url, f in scripts.items() if url == f"file://ROOT/{name}"]
    (functions,) = found
    assert isinstance(functions, list)
    return functions


def source(*parts: str) -> str:
    return (FIXTURES.joinpath(*parts)).read_text(encoding="utf-8")


def test_v8_offsets_are_utf16_units_and_the_innermost_range_decides() -> None:
    states = v8_lines(source("node_test", "calc.mjs"), v8_functions("calc.mjs"))
    # line 1 (a comment with an emoji) and the block comment have no code; `subtract` ran but
    # not its last `return` (a block range of count 0 inside the function's range of count 1);
    # `add` and the arrow function `clamp` never ran; `LIMIT` ran at load
    assert states == {2: L, 4: M, 5: M, 6: M, 11: C, 12: C, 13: C, 14: C, 15: M, 16: C,
                      18: M, 19: M, 20: M}  # fmt: skip


def test_a_commonjs_file_keeps_its_byte_order_mark_in_the_offsets() -> None:
    states = v8_lines(source("node_test", "legacy.cjs"), v8_functions("legacy.cjs"))
    assert states == {2: C, 3: C, 4: C, 6: M, 7: M, 8: M, 10: D}


def test_an_es_module_is_loaded_without_its_byte_order_mark() -> None:
    text = "export function f() {\n  return 1;\n}\nf();\n"
    top = {"functionName": "", "ranges": [{"startOffset": 0, "endOffset": len(text),
                                           "count": 1}]}  # fmt: skip
    f = {"functionName": "f", "ranges": [{"startOffset": 7, "endOffset": 36, "count": 1}]}
    assert v8_lines("\ufeff" + text, [top, f]) == {1: C, 2: C, 3: C, 4: L}
    assert v8_lines(text, [top, f]) == {1: C, 2: C, 3: C, 4: L}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("// one more line\n", id="a line added before"),
        pytest.param("", id="transpiled-shorter"),
    ],
)
def test_coverage_of_other_code_than_the_file_is_refused(text: str) -> None:
    real = source("node_test", "calc.mjs")
    changed = text + real if text else real[: len(real) // 2]
    with pytest.raises(SourceMismatch):
        v8_lines(changed, v8_functions("calc.mjs"))


@pytest.mark.parametrize(
    "functions",
    [
        pytest.param("nonsense", id="not a list"),
        pytest.param([{"ranges": [{"startOffset": "0", "endOffset": 9, "count": 1}]}], id="text"),
        pytest.param([{"ranges": [{"startOffset": 5, "endOffset": 2, "count": 1}]}], id="reversed"),
        pytest.param([{"ranges": [{"startOffset": True, "endOffset": 9, "count": 1}]}], id="bool"),
        pytest.param([None, 3, {"ranges": None}], id="junk"),
    ],
)
def test_malformed_v8_data_is_refused_not_trusted(functions: object) -> None:
    with pytest.raises(SourceMismatch):
        v8_lines("const a = 1;\n", functions)


def test_v8_scripts_skip_entries_that_are_not_scripts() -> None:
    data = {"result": [{"url": "file:///a.js", "functions": []}, {"url": 3}, "x", None]}
    assert v8_scripts(data) == {"file:///a.js": []}
    assert v8_scripts(["not", "an", "object"]) == {}


def test_runs_merge_to_what_any_of_them_executed() -> None:
    first = {1: M, 2: C, 3: L}
    merge(first, {1: C, 2: M, 4: M})
    assert first == {1: C, 2: C, 3: L, 4: M}


def istanbul_entry(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / "jest" / "coverage-final.json").read_text())
    entry = data[f"ROOT/{name}"]
    assert isinstance(entry, dict)
    return entry


def test_jests_v8_coverage_of_commonjs_leaves_out_the_module_wrapper() -> None:
    states = istanbul_lines(source("jest", "calc.js"), istanbul_entry("calc.js"))
    # jest's `Object.<anonymous>` spans the whole file: line 2 is module code, not a call
    assert states == {2: L, 4: M, 5: M, 6: M, 8: C, 9: C, 10: C, 11: C, 12: M, 13: C, 15: D}


def test_typescript_lines_come_back_through_ts_jest_source_maps() -> None:
    states = istanbul_lines(source("jest", "shapes.ts"), istanbul_entry("shapes.ts"))
    # the interface (lines 2-5) is no code; `area` ran, `perimeter` did not
    assert states == {7: L, 9: C, 10: C, 11: C, 13: M, 14: M, 15: M, 16: M}


def test_the_innermost_istanbul_statement_decides() -> None:
    text = "function f(x) {\n  if (x) {\n    g();\n  }\n}\nf(0);\n"
    entry = {
        "statementMap": {
            "0": {"start": {"line": 2}, "end": {"line": 4}},
            "1": {"start": {"line": 3}, "end": {"line": 3}},
            "2": {"start": {"line": 6}, "end": {"line": 6}},
        },
        "s": {"0": 1, "1": 0, "2": 1},
        "fnMap": {"0": {"loc": {"start": {"line": 1}, "end": {"line": 5}}}},
        "f": {"0": 1},
    }
    assert istanbul_lines(text, entry) == {2: C, 3: M, 4: C, 6: L}


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"statementMap": "x", "s": [], "fnMap": None}, id="wrong types"),
        pytest.param(
            {"statementMap": {"0": {"start": {"line": -4}, "end": {"line": 2}}}, "s": {"0": 1}},
            id="negative line",
        ),  # fmt: skip
        pytest.param(
            {
                "statementMap": {"0": {"start": {"line": 1}, "end": {"line": 10**12}}},
                "s": {"0": "1"},
            },
            id="count as text",
        ),  # fmt: skip
    ],
)
def test_malformed_istanbul_entries_give_no_lines(entry: dict[str, Any]) -> None:
    assert istanbul_lines("const a = 1;\n", entry) == {}


def test_an_istanbul_entry_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SourceMismatch):
        istanbul_lines("const a = 1;\n", ["x"])


def test_a_function_never_called_runs_none_of_its_lines_whatever_its_statements_say() -> None:
    # vitest's mapping (vite's source maps) counts `export function f(` as run at load
    text = "export function f() {\n  return 1;\n}\n"
    entry = {
        "statementMap": {"0": {"start": {"line": 1}, "end": {"line": 1}},
                         "1": {"start": {"line": 2}, "end": {"line": 2}}},
        "s": {"0": 1, "1": 0},
        "fnMap": {"0": {"loc": {"start": {"line": 1}, "end": {"line": 3}}}},
        "f": {"0": 0},
    }  # fmt: skip
    assert istanbul_lines(text, entry) == {1: M, 2: M}
    assert istanbul_lines(text, {**entry, "s": {"0": 1, "1": 1}, "f": {"0": 1}}) == {1: C, 2: C}


def tsx_run() -> tuple[str, object, dict[str, Any]]:
    data = json.loads((FIXTURES / "tsx" / "coverage.json").read_text())
    url = "file://ROOT/calc.ts"
    return source("tsx", "calc.ts"), v8_scripts(data)[url], data["source-map-cache"][url]


def test_typescript_run_through_tsx_maps_back_through_its_source_map() -> None:
    text, functions, source_map = tsx_run()
    # types (lines 2-7) are no code; `area` ran, `perimeter` did not; `UNIT` ran at load
    states = v8_lines(text, functions, source_map, "/repo/calc.ts")
    assert states == {9: L, 11: C, 12: C, 13: C, 15: M, 16: M, 17: M, 18: M}
    with pytest.raises(SourceMismatch):  # without its map, the transpiled code does not fit
        v8_lines(text, functions)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda m: m.update(lineLengths=[*m["lineLengths"], 5]), id="other code"),
        pytest.param(lambda m: m["data"].update(mappings="AAAA,!!;"), id="not base64 VLQ"),
        pytest.param(lambda m: m["data"].update(version=2), id="not version 3"),
        pytest.param(lambda m: m["data"].update(sources=["a.ts", "b.ts"]), id="not this file"),
        pytest.param(lambda m: m.update(lineLengths="12,4"), id="lengths not a list"),
        pytest.param(lambda m: m["data"].update(mappings="gggggggggggggggA"), id="huge number"),
    ],
)
def test_a_source_map_that_does_not_fit_is_refused(damage: Any) -> None:
    text, functions, source_map = tsx_run()
    damage(source_map)
    with pytest.raises(SourceMismatch):
        v8_lines(text, functions, source_map, "/repo/calc.ts")
