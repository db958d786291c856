"""Coverage of the change for Node read from what a run left in the workdir (untrusted): real
V8 and jest data (tests/fixtures/js_coverage), put where the runners write it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bot.analysis.render import coverage_text
from bot.sandbox.runners import MAX_REPORT_BYTES
from bot.testing.node_coverage import NodeCoverage, js_sources
from bot.testing.node_script import NodeTestSetup, Runner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "js_coverage"
CASE = "subtract"


def diff_adding(path: str, lines: range) -> str:
    """A unified diff that adds `lines` (new-file numbers) to `path`."""
    body = "".join("+x\n" for _ in lines)
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{lines.start},0 +{lines.start},{len(lines)} @@\n{body}"
    )


def v8_run(root: Path, coverage: NodeCoverage) -> None:
    """What `node --test` under `coverage` leaves: the fixture's V8 files, in its directory."""
    setup = coverage.instrument(root, "", 0, NodeTestSetup(Runner.node_test, ["node"]))
    (assignment,) = setup.env
    out = Path(assignment.removeprefix("NODE_V8_COVERAGE="))
    assert out == root / ".draftsmith" / "coverage-0" and out.is_dir()
    for path in (FIXTURES / "node_test").glob("coverage-*.json"):
        (out / path.name).write_text(path.read_text().replace("file://ROOT", f"file://{root}"))
    coverage.collect(root, "", 0, Runner.node_test)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("calc.mjs", "legacy.cjs"):
        shutil.copy(FIXTURES / "node_test" / name, tmp_path / name)
    (tmp_path / ".draftsmith").mkdir()
    return tmp_path


def test_changed_lines_get_the_runs_cases_when_a_function_executed_them(root: Path) -> None:
    coverage = NodeCoverage(["calc.mjs"])
    v8_run(root, coverage)
    # lines 2 (a constant), 4-6 (`add`, never called), 11-16 (`subtract`, called)
    diff = diff_adding("calc.mjs", range(1, 17))
    result = coverage.result(root, diff, [CASE])
    got = {c.line: (c.executed, c.tests, c.at_import) for c in result.lines}
    called, missed = (True, [CASE], False), (False, [], False)
    assert got == {2: (True, [], True), 4: missed, 5: missed, 6: missed, 11: called,
                   12: called, 13: called, 14: called, 15: missed, 16: called}  # fmt: skip
    assert result.available and result.tests_executing_change() == {CASE}


def test_a_file_no_new_test_loaded_is_unmeasured(root: Path) -> None:
    (root / "other.js").write_text("export const x = 1;\n")
    coverage = NodeCoverage(["legacy.cjs", "other.js"])
    v8_run(root, coverage)
    diff = diff_adding("legacy.cjs", range(6, 9)) + diff_adding("other.js", range(1, 2))
    result = coverage.result(root, diff, [CASE])
    assert [(c.line, c.executed) for c in result.lines] == [(6, False), (7, False), (8, False)]
    assert result.unmeasured == ["other.js"]
    assert "- not executed: legacy.cjs:6-8" in coverage_text(result)


def test_transpiled_code_is_unknown_not_zero(root: Path) -> None:
    # what tsx runs is not the file on disk: V8's offsets do not fit it
    (root / "calc.mjs").write_text("// it was TypeScript\n" + (root / "calc.mjs").read_text())
    coverage = NodeCoverage(["calc.mjs"])
    v8_run(root, coverage)
    result = coverage.result(root, diff_adding("calc.mjs", range(1, 3)), [CASE])
    assert not result.available and result.lines == []
    assert result.reason.startswith(
        "calc.mjs: node --test ran code that is not the file and no source map of it ("
    )
    assert coverage_text(result).startswith("Coverage of the change: unknown (calc.mjs: ")


def test_a_run_that_wrote_no_coverage_is_unknown(root: Path) -> None:
    coverage = NodeCoverage(["calc.mjs"])
    coverage.instrument(root, "", 0, NodeTestSetup(Runner.mocha, ["mocha"]))
    coverage.collect(root, "", 0, Runner.mocha)
    result = coverage.result(root, diff_adding("calc.mjs", range(1, 3)), [CASE])
    assert (result.available, result.reason) == (False, "mocha wrote no V8 coverage")


def test_coverage_files_that_are_links_huge_or_not_json_are_not_read(root: Path) -> None:
    coverage = NodeCoverage(["calc.mjs"])
    coverage.instrument(root, "", 0, NodeTestSetup(Runner.node_test, ["node"]))
    out = root / ".draftsmith" / "coverage-0"
    real = (FIXTURES / "node_test" / "coverage-0.json").read_text()
    secret = root.parent / "host-secret.json"
    secret.write_text(real.replace("file://ROOT", f"file://{root}"))
    os.symlink(secret, out / "coverage-1.json")
    padding = " " * (MAX_REPORT_BYTES + 1)
    (out / "coverage-2.json").write_text(real.replace("file://ROOT", f"file://{root}") + padding)
    (out / "coverage-3.json").write_text("{not json")
    (out / "coverage-4.json").write_text(json.dumps({"result": [{"url": 5}, "x"]}))
    coverage.collect(root, "", 0, Runner.node_test)
    assert coverage.lines == {}
    result = coverage.result(root, diff_adding("calc.mjs", range(11, 13)), [CASE])
    assert not result.available and result.lines == []
    assert result.reason.startswith("node --test: 3 V8 coverage file(s) not read (a link, over")


def test_a_report_directory_made_a_link_is_neither_cleaned_nor_used(root: Path) -> None:
    elsewhere = root.parent / "elsewhere"
    (elsewhere / "coverage-0").mkdir(parents=True)
    (elsewhere / "coverage-0" / "keep.json").write_text("{}")
    shutil.rmtree(root / ".draftsmith")
    os.symlink(elsewhere, root / ".draftsmith")
    coverage = NodeCoverage(["calc.mjs"])
    setup = NodeTestSetup(Runner.node_test, ["node"])
    assert coverage.instrument(root, "", 0, setup) == setup
    assert (elsewhere / "coverage-0" / "keep.json").is_file()
    assert not coverage.result(root, diff_adding("calc.mjs", range(1, 3)), [CASE]).available


def test_jest_gets_its_v8_coverage_of_the_packages_changed_files(root: Path) -> None:
    (root / "pkg" / "src").mkdir(parents=True)
    for name in ("calc.js", "shapes.ts"):
        shutil.copy(FIXTURES / "jest" / name, root / "pkg" / "src" / name)
    sources = ["pkg/src/calc.js", "pkg/src/shapes.ts", "other/x.js"]
    coverage = NodeCoverage(sources)
    setup = coverage.instrument(root, "pkg", 1, NodeTestSetup(Runner.jest, ["jest"]))
    out = root / ".draftsmith" / "coverage-1"
    assert setup.options == [
        "--coverage", "--coverageProvider=v8", "--coverageReporters=json",
        f"--coverageDirectory={out}", "'--coverageThreshold={}'",
        "--collectCoverageFrom=src/calc.js", "--collectCoverageFrom=src/shapes.ts",
    ]  # fmt: skip
    out.mkdir()
    text = (FIXTURES / "jest" / "coverage-final.json").read_text()
    (out / "coverage-final.json").write_text(text.replace("ROOT", str(root / "pkg" / "src")))
    coverage.collect(root, "pkg", 1, Runner.jest)
    diff = diff_adding("pkg/src/calc.js", range(8, 13)) + diff_adding(
        "pkg/src/shapes.ts", range(2, 17)
    )
    result = coverage.result(root, diff, [CASE])
    executed = {(c.path, c.line) for c in result.executed}
    assert executed == {("pkg/src/calc.js", n) for n in (8, 9, 10, 11)} | {
        ("pkg/src/shapes.ts", n) for n in (7, 9, 10, 11)
    }
    assert {(c.path, c.line) for c in result.missed} == {("pkg/src/calc.js", 12)} | {
        ("pkg/src/shapes.ts", n) for n in (13, 14, 15, 16)
    }


def test_vitest_without_a_coverage_provider_installed_is_unknown(root: Path) -> None:
    coverage = NodeCoverage(["calc.mjs"])
    setup = NodeTestSetup(Runner.vitest, ["vitest"])
    assert coverage.instrument(root, "", 0, setup) == setup
    coverage.collect(root, "", 0, Runner.vitest)
    result = coverage.result(root, diff_adding("calc.mjs", range(1, 3)), [CASE])
    assert result.reason == "calc.mjs: vitest: @vitest/coverage-v8 not installed in the project"


def test_vitest_uses_the_provider_the_project_installed(root: Path) -> None:
    package = root / "node_modules" / "@vitest" / "coverage-istanbul"
    package.mkdir(parents=True)
    (package / "package.json").write_text("{}")
    setup = NodeCoverage(["calc.mjs"]).instrument(root, "", 0, NodeTestSetup(Runner.vitest, []))
    assert "--coverage.provider=istanbul" in setup.options
    assert "--coverage.include=calc.mjs" in setup.options
    # vitest 2.1.9 writes no coverage when a test fails, unless told to
    assert "--coverage.reportOnFailure=true" in setup.options


def test_only_changed_source_files_are_measured() -> None:
    diff = "".join(
        diff_adding(p, range(1, 2))
        for p in ("src/a.ts", "src/b.d.ts", "test/a.test.ts", "node_modules/x/i.js",
                  "README.md", "lib/c.cjs")
    )  # fmt: skip
    assert js_sources(diff, lambda p: p.startswith("test/")) == ["lib/c.cjs", "src/a.ts"]


def test_file_names_reach_the_runners_as_globs_matching_only_themselves(root: Path) -> None:
    # vitest's picomatch reads `src/(g)/[id].ts` as a pattern matching nothing (checked with
    # vitest 2.1.9 and @vitest/coverage-v8): escaped, it matches the file
    package = root / "node_modules" / "@vitest" / "coverage-v8"
    package.mkdir(parents=True)
    (package / "package.json").write_text("{}")
    coverage = NodeCoverage(["src/(g)/[id].ts"])
    setup = coverage.instrument(root, "", 0, NodeTestSetup(Runner.vitest, []))
    assert r"'--coverage.include=src/\(g\)/\[id\].ts'" in setup.options


def test_a_file_jest_was_asked_for_and_did_not_report_is_unknown(root: Path) -> None:
    # a `rootDir` or a coveragePathIgnorePatterns of the project's configuration kept it out
    coverage = NodeCoverage(["calc.mjs"])
    coverage.instrument(root, "", 0, NodeTestSetup(Runner.jest, ["jest"]))
    out = root / ".draftsmith" / "coverage-0"
    out.mkdir()
    (out / "coverage-final.json").write_text("{}")
    coverage.collect(root, "", 0, Runner.jest)
    result = coverage.result(root, diff_adding("calc.mjs", range(11, 13)), [CASE])
    assert result.reason == "calc.mjs: jest reported no coverage of it"
